"""JSON in and out for the API: one place that knows the wire format.

Out: `to_json` turns the CRM's frozen dataclasses into plain JSON values (ISO 8601
datetimes with their offset, money as decimal strings), so every endpoint spells
a record the same way. In: `Body` reads a JSON object with a fixed set of fields and
typed readers that refuse the wrong type with the field's name, before any CRM call;
request-shape problems become `ApiError`s with stable slugs (listed in `API_SLUGS`
for the OpenAPI document).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from crm.models import Page
from crm.validation import MAX_YEAR, MIN_YEAR, year_in_range
from web.errors import ApiError

MAX_JSON_BYTES = 256 * 1024
MAX_ID = 2**63 - 1
MAX_OFFSET = 1_000_000
MAX_LIST_LEN = 200
JSON_TYPES = ("application/json",)

INVALID_JSON = "invalid-json"
INVALID_INPUT = "invalid-input"
UNKNOWN_FIELD = "unknown-field"
PAYLOAD_TOO_LARGE = "payload-too-large"
UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
NOT_FOUND = "not-found"
# (slug, HTTP status) of every `ApiError` this module (and the handlers through it) raises; the OpenAPI
# document lists them.
API_ERRORS = ((INVALID_JSON, 400), (INVALID_INPUT, 422), (UNKNOWN_FIELD, 422), (PAYLOAD_TOO_LARGE, 413),
              (UNSUPPORTED_MEDIA_TYPE, 415), (NOT_FOUND, 404))

T = TypeVar("T", bound=str)

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def to_json(value: Any) -> Any:
    """A JSON-ready copy of `value`: dataclasses become objects, datetimes ISO 8601, Decimals strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(to_json(data), status=status, headers=headers, dumps=_dumps)


def page_response(page: Page, limit: int, offset: int) -> web.Response:
    """The one shape of every list: items, whether more follow, and the window used."""
    return json_response({"items": page.items, "has_more": page.has_more, "limit": limit, "offset": offset})


def invalid(message: str) -> ApiError:
    return ApiError(422, INVALID_INPUT, message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def path_id(request: web.Request, name: str = "id") -> int:
    """The numeric id in the URL; one too large for the database cannot exist, so 404."""
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise ApiError(404, NOT_FOUND, f"no such {name}")
    return value


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise invalid(f"{name}: an integer from {low} to {high}")
    return int(raw)


def query_choice(request: web.Request, name: str, options: tuple[T, ...]) -> T | None:
    """An optional filter that must be one of `options` (a status, a kind); absent or empty means any."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    for option in options:
        if raw == option:
            return option
    raise invalid(f"{name}: must be one of {', '.join(options)}")


def paging(request: web.Request, *, default_limit: int, max_limit: int) -> tuple[int, int]:
    """`limit` and `offset` from the query string, checked against the endpoint's bounds."""
    limit = query_int(request, "limit", default_limit, low=1, high=max_limit)
    return limit, query_int(request, "offset", 0, low=0, high=MAX_OFFSET)


class Body:
    """A parsed JSON request object with typed, named readers.

    Each reader returns the field's value, the given default when the field is absent,
    or raises a 422 naming the field when it is present with the wrong type. Fields
    outside the endpoint's declared set are refused up front, so a typo never passes
    silently as "not given".
    """

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self._data = data
        self._prefix = prefix  # where a nested object sits, e.g. "items[2].", for error messages

    @classmethod
    async def read(cls, request: web.Request, fields: Collection[str], *, allow_empty: bool = False) -> Body:
        if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
            raise ApiError(413, PAYLOAD_TOO_LARGE, f"request body over {MAX_JSON_BYTES} bytes")
        raw = await request.read()
        if len(raw) > MAX_JSON_BYTES:
            raise ApiError(413, PAYLOAD_TOO_LARGE, f"request body over {MAX_JSON_BYTES} bytes")
        if not raw.strip() and allow_empty:
            return cls({})
        if request.content_type not in JSON_TYPES:
            raise ApiError(415, UNSUPPORTED_MEDIA_TYPE, "send the body as JSON with Content-Type: application/json")
        try:
            data = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ApiError(400, INVALID_JSON, f"the body is not valid JSON: {str(exc)[:200]}") from None
        if not isinstance(data, dict):
            raise invalid("the body must be a JSON object")
        unknown = sorted(set(data) - set(fields))
        if unknown:
            names = ", ".join(repr(name[:40]) for name in unknown[:5])
            raise ApiError(422, UNKNOWN_FIELD, f"unknown field(s): {names}; allowed: {', '.join(sorted(fields))}")
        return cls(data)

    def has(self, name: str) -> bool:
        return name in self._data

    def opt_object(self, name: str, fields: Collection[str]) -> Body | None:
        """A nested object with its own allowed `fields`; None when absent or null."""
        value = self._data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(f"{self._prefix}{name}: an object")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ApiError(422, UNKNOWN_FIELD, f"{self._prefix}{name}: unknown field(s): "
                           f"{', '.join(repr(n[:40]) for n in unknown[:5])}; allowed: {', '.join(sorted(fields))}")
        return Body(value, prefix=f"{self._prefix}{name}.")

    def _get(self, name: str, default: Any) -> Any:
        if name not in self._data:
            if default is None:
                raise invalid(f"{self._prefix}{name}: required")
            return default
        return self._data[name]

    def text(self, name: str, default: str | None = None) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise invalid(f"{self._prefix}{name}: must be a string")
        return value

    def opt_text(self, name: str, default: str | None = None) -> str | None:
        value = self._data.get(name, default)
        if value is not None and not isinstance(value, str):
            raise invalid(f"{self._prefix}{name}: must be a string or null")
        return value

    def choice(self, name: str, options: tuple[T, ...], default: T) -> T:
        """One of a fixed set of strings (a kind, a channel), typed as the set's literal type."""
        value = self._data.get(name, default)
        for option in options:
            if value == option:
                return option
        raise invalid(f"{self._prefix}{name}: must be one of {', '.join(map(str, options))}")

    def boolean(self, name: str, default: bool) -> bool:
        value = self._data.get(name, default)
        if not isinstance(value, bool):
            raise invalid(f"{self._prefix}{name}: must be true or false")
        return value

    def opt_id(self, name: str, default: int | None = None) -> int | None:
        """An optional reference to another record: a positive integer or null."""
        value = self._data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise invalid(f"{self._prefix}{name}: must be a positive integer id or null")
        return value

    def text_list(self, name: str, default: tuple[str, ...], *, max_len: int = MAX_LIST_LEN) -> tuple[str, ...]:
        value = self._data.get(name, default)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise invalid(f"{self._prefix}{name}: must be a list of strings")
        if len(value) > max_len:
            raise invalid(f"{self._prefix}{name}: at most {max_len} entries")
        return tuple(value)

    def money(self, name: str, default: Decimal | None = None) -> Decimal:
        """A decimal amount, sent as a string ("1990.50") or a JSON number (read without float rounding)."""
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise invalid(f"{self._prefix}{name}: must be a decimal string or a number")
        try:
            amount = Decimal(str(value).strip())
        except ArithmeticError:
            raise invalid(f"{self._prefix}{name}: not a number: {str(value)[:40]!r}") from None
        if not amount.is_finite():
            raise invalid(f"{self._prefix}{name}: must be a finite number")
        return amount

    def opt_money(self, name: str) -> Decimal | None:
        """`money` when the field is present (null is refused), None when it is absent."""
        if name not in self._data:
            return None
        if self._data[name] is None:
            raise invalid(f"{self._prefix}{name}: must be a decimal string or a number")
        return self.money(name)

    def opt_datetime(self, name: str) -> datetime | None:
        value = self._data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid(f"{self._prefix}{name}: must be an ISO 8601 date-time string or null")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise invalid(f"{self._prefix}{name}: not an ISO 8601 date-time: {value[:40]!r}") from None
        if moment.tzinfo is None:
            raise invalid(f"{self._prefix}{name}: needs a time zone offset, e.g. 2025-01-31T18:00:00+03:00")
        if not year_in_range(moment):
            raise invalid(f"{self._prefix}{name}: a date between {MIN_YEAR} and {MAX_YEAR}")
        return moment

    def items(self, name: str, default: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        """Order lines: objects with `sku`, `name`, `qty`, `price`, each with its JSON type checked."""
        value = self._data.get(name, default)
        if not isinstance(value, list | tuple):
            raise invalid(f"{self._prefix}{name}: must be a list of objects")
        if len(value) > MAX_LIST_LEN:
            raise invalid(f"{self._prefix}{name}: at most {MAX_LIST_LEN} entries")
        lines = []
        for index, item in enumerate(value):
            where = f"{name}[{index}]"
            if not isinstance(item, dict):
                raise invalid(f"{where}: must be an object")
            extra = sorted(set(item) - {"sku", "name", "qty", "price"})
            if extra:
                raise ApiError(422, UNKNOWN_FIELD, f"{where}: unknown field(s): {', '.join(map(repr, extra[:5]))}")
            line = Body(item, f"{where}.")
            qty = item.get("qty", 1)
            if isinstance(qty, bool) or not isinstance(qty, int):
                raise invalid(f"{where}.qty: must be an integer")
            lines.append({"sku": line.text("sku", ""), "name": line.text("name"), "qty": qty,
                          "price": line.money("price", Decimal(0))})
        return tuple(lines)
