"""The audit's charts as SVG images, drawn on the server (pygal; no script, no CDN).

Each chart is embedded in the page as a `data:` image: an image document runs no script and keeps its
own styles, so the page's Content-Security-Policy (no inline scripts or styles) stays as strict as
everywhere else. pygal's inline config script (for tooltips we do not load) is stripped all the same.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import pygal
from pygal.style import Style

from crm.audit import Audit

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
STYLE = Style(background="white", plot_background="white", foreground="#333", foreground_strong="#111",
              foreground_subtle="#888", colors=("#d97706", "#2563eb", "#16a34a", "#b91c1c"),
              font_family="sans-serif", label_font_size=11, major_label_font_size=11, title_font_size=13)
#: Time-to-callback buckets, in seconds: (upper bound, label key).
DELAY_BUCKETS: tuple[tuple[float | None, str], ...] = (
    (300, "≤ 5 min"), (900, "5–15 min"), (3600, "15–60 min"), (4 * 3600, "1–4 h"), (24 * 3600, "4–24 h"),
    (None, "> 1 d"))
WEEKDAYS_RU = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _svg(chart: pygal.graph.graph.Graph) -> str:
    """The chart as a `data:` URI of a script-free SVG."""
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _bar(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, width: int = 640
         ) -> str:
    chart = pygal.Bar(js=[], disable_xml_declaration=True, style=STYLE, width=width, height=260, title=title,
                      show_legend=len(series) > 1, legend_at_bottom=True, print_values=False,
                      x_label_rotation=0 if len(labels) <= 12 else 45)
    chart.x_labels = list(labels)
    for name, values in series:
        chart.add(name, list(values))
    return _svg(chart)


def delay_histogram(delays_s: Sequence[float]) -> list[int]:
    counts = [0] * len(DELAY_BUCKETS)
    for delay in delays_s:
        for i, (upper, _) in enumerate(DELAY_BUCKETS):
            if upper is None or delay <= upper:
                counts[i] += 1
                break
    return counts


def charts(audit: Audit, titles: dict[str, str], locale: str) -> dict[str, str]:
    """The four charts of the audit page, by name, as `data:` URIs."""
    weekdays = WEEKDAYS_EN if locale == "en" else WEEKDAYS_RU
    managers = [m for m in audit.by_manager if m.taken or m.missed_while_assigned][:20]
    return {
        "hours": _bar(titles["hours"], [f"{h:02d}" for h in range(24)], [(titles["missed"], audit.missed_per_hour)]),
        "weekdays": _bar(titles["weekdays"], weekdays, [(titles["missed"], audit.missed_per_weekday)], width=420),
        "delays": _bar(titles["delays"], [label for _, label in DELAY_BUCKETS],
                       [(titles["reached"], delay_histogram(audit.callback_delays_s))], width=420),
        "managers": _bar(titles["managers"], [m.name[:20] for m in managers],
                         [(titles["taken"], [m.taken for m in managers]),
                          (titles["missed_assigned"], [m.missed_while_assigned for m in managers])]),
    }
