"""A small reader of Asterisk's config syntax and of the dialplan in ``asterisk-conf/``.

Used by ``tests/test_asterisk_conf.py``. It accepts what the files there use (sections, templates,
``key = value`` / ``key => value``, ``;`` comments) and raises on anything else, so a typo Asterisk
would reject or silently skip fails the tests instead of a production call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "asterisk-conf"
#: Dialplan functions whose first argument is a variable *name*, read by the function.
NAME_ARG_FUNCTIONS = {"CUT", "FIELDQTY"}


# --- a small parser of Asterisk's config syntax -----------------------------------------------

@dataclass(frozen=True)
class Entry:
    key: str
    value: str
    lineno: int


@dataclass(frozen=True)
class Section:
    name: str
    template: bool
    parents: tuple[str, ...]
    entries: tuple[Entry, ...]
    lineno: int

    def values(self, key: str) -> list[str]:
        return [entry.value for entry in self.entries if entry.key == key]


_HEADER = re.compile(r"^\[([^\]\s]+)\](?:\(([^)]*)\))?$")
_ENTRY = re.compile(r"^([^=\s][^=]*?)\s*(?:=>|=)\s*(.*)$")


def _strip_comment(line: str) -> str:
    """The line without its ``;`` comment (``\\;`` is an escaped semicolon, kept)."""
    match = re.search(r"(?<!\\);", line)
    return (line[:match.start()] if match else line).strip()


@cache
def parse(name: str) -> tuple[Section, ...]:
    """Sections of one file; raises ``ValueError`` naming the line Asterisk would not accept."""
    sections: list[Section] = []
    head: tuple[str, bool, tuple[str, ...], int] | None = None
    entries: list[Entry] = []
    lines = (CONF / name).read_text(encoding="utf-8").splitlines()
    for lineno, raw in enumerate([*lines, "[end-of-file]"], 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if raw.lstrip().startswith((";--", "#")):
            raise ValueError(f"{name}:{lineno}: no block comments or #include/#exec: keep files self-contained")
        if header := _HEADER.match(line):
            if head is not None:
                sections.append(Section(head[0], head[1], head[2], tuple(entries), head[3]))
            options = [opt.strip() for opt in (header[2] or "").split(",") if opt.strip()]
            head, entries = (header[1], "!" in options, tuple(o for o in options if o != "!"), lineno), []
            continue
        entry = _ENTRY.match(line)
        if entry is None or head is None:
            raise ValueError(f"{name}:{lineno}: neither [section] nor key = value: {raw!r}")
        entries.append(Entry(entry[1].strip(), entry[2].strip(), lineno))
    return tuple(sections)


def section(name: str, title: str) -> Section:
    found = [s for s in parse(name) if s.name == title]
    assert len(found) == 1, f"{name}: expected one [{title}], found {len(found)}"
    return found[0]


def resolved(name: str, sec: Section, key: str) -> list[str]:
    """Values of ``key`` in ``sec`` including what it inherits from its templates."""
    inherited = [v for parent in sec.parents for v in resolved(name, section(name, parent), key)]
    return inherited + sec.values(key)


def split_args(data: str, sep: str = ",") -> list[str]:
    """Split at ``sep`` outside (), {} and [] -- how Asterisk splits application arguments."""
    out, depth, start = [], 0, 0
    for i, char in enumerate(data):
        depth += (char in "([{") - (char in ")]}")
        if char == sep and depth == 0:
            out.append(data[start:i])
            start = i + 1
    return [*out, data[start:]]


# --- the dialplan as steps ----------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    context: str
    exten: str
    priority: int
    label: str
    app: str
    data: str
    lineno: int


@cache
def dialplan() -> tuple[Step, ...]:
    """Every priority of extensions.conf; checks the priorities of each extension run 1, 2, 3..."""
    steps: list[Step] = []
    for sec in parse("extensions.conf"):
        if sec.name in ("general", "globals"):
            continue
        seen: set[str] = set()
        exten, last = "", 0
        for entry in sec.entries:
            where = f"extensions.conf:{entry.lineno}"
            if entry.key == "exten":
                exten, prio, call = entry.value.split(",", 2)
                assert exten not in seen, f"{where}: extension {exten} defined twice in [{sec.name}]"
                assert prio.startswith("1"), f"{where}: an extension starts at priority 1"
                seen.add(exten)
                last = 0
            else:
                assert entry.key == "same" and exten, f"{where}: unexpected {entry.key!r} in a context"
                prio, call = entry.value.split(",", 1)
            match = re.fullmatch(r"(n|\d+)(?:\(([\w-]+)\))?", prio.strip())
            app = re.fullmatch(r"(\w+)\((.*)\)", call.strip(), re.S)
            assert match and app, f"{where}: expected n(label),App(args), got {entry.value!r}"
            assert match[1] in ("n", str(last + 1)), f"{where}: priority {match[1]} after {last}"
            last += 1
            steps.append(Step(sec.name, exten, last, match[2] or "", app[1], app[2], entry.lineno))
    return tuple(steps)


def globals_() -> dict[str, str]:
    return {entry.key: entry.value for entry in section("extensions.conf", "globals").entries}


def pattern_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    classes = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}
    regex = "".join(classes.get(c, re.escape(c)) for c in re.sub(r"\[[^]]*\]", "@", pattern[1:]))
    for group in re.findall(r"\[[^]]*\]", pattern):
        regex = regex.replace("@", group, 1)
    return re.fullmatch(regex, exten) is not None


def check_target(step: Step, target: list[str]) -> None:
    """A Goto/Gosub target ``[[context,]exten,]priority`` that must exist."""
    target = [part.strip() for part in target]
    context, exten = {3: target[:2], 2: [step.context, target[0]], 1: [step.context, step.exten]}[len(target)]
    priority = target[-1].split("(", 1)[0]
    candidates = [s for s in dialplan() if s.context == context]
    assert candidates, f"line {step.lineno}: no context [{context}]"
    if "${" not in exten:
        candidates = [s for s in candidates if s.exten == exten or pattern_matches(s.exten, exten)]
        assert candidates, f"line {step.lineno}: no extension {exten} in [{context}]"
    assert any(str(s.priority) == priority or s.label == priority for s in candidates), \
        f"line {step.lineno}: no priority or label {priority!r} at {exten}@{context}"


def targets(step: Step) -> Iterator[list[str]]:
    if step.app in ("Goto", "Gosub"):
        yield split_args(step.data)
    elif step.app == "GotoIf":
        for branch in split_args(split_args(step.data, "?")[1], ":"):
            if branch:
                yield split_args(branch)
    elif step.app == "Dial":
        for handler in re.findall(r"b\(([^)]*)\)", (split_args(step.data) + ["", ""])[2]):
            yield handler.split("^")


def reads(step: Step) -> set[str]:
    names = set(re.findall(r"\$\{([A-Za-z_]\w*)[}:]", step.data))
    names |= {m[2] for m in re.finditer(r"\$\{(\w+)\((\w+)", step.data) if m[1] in NAME_ARG_FUNCTIONS}
    return names


def sets(step: Step) -> set[str]:
    if step.app == "Read":  # Read(VARIABLE,...) stores the digits in VARIABLE
        return {step.data.split(",", 1)[0]}
    if step.app != "Set":
        return set()
    name = step.data.split("=", 1)[0].lstrip("_")
    local = re.fullmatch(r"LOCAL\((\w+)\)", name)
    return {local[1]} if local else set() if "(" in name else {name}


def agi_step() -> Step:
    found = [s for s in dialplan() if s.app == "AGI"]
    assert len(found) == 1 and found[0].context == "from-trunk", "one AGI, in [from-trunk]"
    return found[0]
