"""Server messages in Russian: every raised message has a pattern, unknown ones fall back per slug.

The coverage test reads the source (crm/ and web/) for every message handed to a CrmError, to
`invalid()`/`ApiError` or to an aiohttp HTTP error, and fails when one has no Russian pattern,
so a new English message cannot ship untranslated. The integration tests go through the real
app: pages follow the user's locale, the API follows `Accept-Language` (English by default).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, errors, managers, orders
from crm.customers import CustomerInput
from crm.database import Pool
from crm.orders import OrderInput
from tests.conftest import MakeManager, login
from web.api.json_io import API_ERRORS
from web.error_text import DEFAULT_FALLBACK, FALLBACKS, accept_language_locale, find, translate
from web.errors import HTTP_SLUGS

Client = TestClient[web.Request, web.Application]
ROOT = Path(__file__).resolve().parent.parent
RU = json.loads((ROOT / "web" / "locales" / "ru.json").read_text(encoding="utf-8"))
ERROR_CLASSES = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.CrmError)}
#: Functions that only pass a message on (their callers are scanned instead).
PASS_THROUGH = {"invalid"}
#: What an f-string's `{...}` is replaced with: digits fit `\d+`, `\w+`, `.+`; "1" fits `[01]`.
SAMPLES = ("7", "1", "x")


def _sources() -> list[Path]:
    files = [p for p in (ROOT / "crm").rglob("*.py") if "migrations" not in p.parts]
    return sorted(files + list((ROOT / "web").rglob("*.py")))


def _message_arg(call: ast.Call) -> ast.expr | None:
    """The message argument of a raise-worthy call, None when the call is not one."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name in ERROR_CLASSES or name == "invalid":
        return call.args[0] if call.args else None
    if name == "ApiError":
        return call.args[2] if len(call.args) > 2 else None
    if name.startswith("HTTP") and isinstance(func, ast.Attribute):
        return next((kw.value for kw in call.keywords if kw.arg in ("text", "reason")), None)
    return None


#: One message a call can raise: the samples of its f-string (covered when one matches), or a catalogue key.
Variant = tuple[str, ...]
CATALOGUE = "catalogue:"


def _variants(node: ast.expr, tree: ast.Module) -> Iterator[Variant]:
    """The messages an expression can produce; `(CATALOGUE, key)` for text translated by `tr(key)`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield (node.value,)
    elif isinstance(node, ast.JoinedStr):
        yield tuple("".join(str(part.value) if isinstance(part, ast.Constant) else sample for part in node.values)
                    for sample in SAMPLES)
    elif isinstance(node, ast.IfExp):
        yield from _variants(node.body, tree)
        yield from _variants(node.orelse, tree)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        yield from _variants(node.func.value, tree)  # tr("{day}: ...").format(day=...)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr":
        key = node.args[0]
        assert isinstance(key, ast.Constant) and isinstance(key.value, str), ast.unparse(node)
        yield (CATALOGUE, key.value)
    elif isinstance(node, ast.Name):
        yield from _assigned(node.id, tree)
    else:
        raise AssertionError(f"a message this test cannot read: {ast.unparse(node)}")


def _assigned(name: str, tree: ast.Module) -> Iterator[Variant]:
    """What a variable holding a message is set to in its module: strings, or what the called method returns."""
    functions = {fn.name: fn for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)}
    found = False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):
            continue
        value = node.value.value if isinstance(node.value, ast.Await) else node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in functions:
            for ret in ast.walk(functions[value.func.attr]):
                # `return await future` hands on what another instance's `_originate` returned: read there.
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant | ast.JoinedStr):
                    found = True
                    yield from _variants(ret.value, tree)
        elif isinstance(value, ast.Constant | ast.JoinedStr):
            found = True
            yield from _variants(value, tree)
    assert found, f"cannot tell what {name!r} holds"


def raised_messages() -> list[tuple[str, Variant]]:
    """(where, variant) for every message handed to an error in crm/ and web/ (empty ones left out)."""
    found: list[tuple[str, Variant]] = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        passed_on = {id(node) for fn in ast.walk(tree)
                     if isinstance(fn, ast.FunctionDef) and fn.name in PASS_THROUGH for node in ast.walk(fn)}
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or id(call) in passed_on:
                continue
            arg = _message_arg(call)
            if arg is not None:
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                found.extend((where, variant) for variant in _variants(arg, tree) if variant != ("",))
    return found


def _covered(variant: Variant) -> bool:
    if variant[0] == CATALOGUE:
        return variant[1] in RU
    return any(find(sample) is not None or sample in RU for sample in variant)


def _messages() -> list[str]:
    """Every sample message that has a pattern (for the tests of what the translation gives)."""
    return [s for _, variant in raised_messages() if variant[0] != CATALOGUE for s in variant if find(s) is not None]


def test_every_raised_message_has_a_russian_pattern() -> None:
    messages = raised_messages()
    assert len(messages) > 150, "the scan found too few messages: is it still reading the source?"
    missing = [f"{where}: {variant[-1] if variant[0] == CATALOGUE else variant[0]!r}"
               for where, variant in messages if not _covered(variant)]
    assert not missing, "messages without a Russian pattern in web/error_text.py (or ru.json key):\n" + "\n".join(
        missing)


def test_the_scan_sees_dynamic_and_catalogue_messages() -> None:
    variants = [variant for _, variant in raised_messages()]
    assert ("the PBX is not connected (AMI down): try again in a moment",) in variants  # via `error =`
    assert (CATALOGUE, "{day}: the opening and closing times are the same") in variants
    assert ("no customer 7", "no customer 1", "no customer x") in variants
    assert ("missing or wrong CSRF token; reload the page and try again",) in variants


@pytest.mark.parametrize(("message", "russian"), [
    ("no customer 42", "нет клиента 42"),
    ("no routing group 3", "нет группы маршрутизации 3"),
    ("kind must be one of person, company", "вид: одно из значений: person, company"),
    ("name: required", "имя: обязательное поле"),
    ("comment: at most 1000 characters", "комментарий: не более 1000 символов"),
    ("customer_id: no customer 9", "customer_id: нет клиента 9"),
    ("an order in status 'new' cannot move to 'delivered'; allowed: confirmed, cancelled",
     "заказ в статусе «new» нельзя перевести в «delivered»; можно: confirmed, cancelled"),
    ("an order in status 'done' cannot move to 'new'; allowed: none (final status)",
     "заказ в статусе «done» нельзя перевести в «new»: статус финальный"),
    ("phone +79161234567 already belongs to another customer", "телефон +79161234567 уже принадлежит другому клиенту"),
    ("order number '20001' already exists", "заказ с номером '20001' уже есть"),
    ("this order belongs to another manager's customer", "этот заказ принадлежит клиенту другого менеджера"),
    ("this task belongs to another manager", "эта задача принадлежит другому менеджеру"),
    ("unknown field(s): 'nmae'; allowed: kind, name", "неизвестные поля: 'nmae'; допустимы: kind, name"),
    ("items[2].qty: must be an integer", "items[2].qty: должно быть целым числом"),
    ("login '{0}' is taken", "логин '{0}' уже занят"),  # braces in a value are not a template
    ("missing or wrong CSRF token; reload the page and try again",
     "нет CSRF-токена или он неверен: обновите страницу и попробуйте снова"),
])
def test_patterns_translate_and_keep_the_values(message: str, russian: str) -> None:
    assert translate(message, "invalid-input", "ru") == russian
    assert translate(message, "invalid-input", "en") == message


def test_english_is_returned_as_raised() -> None:
    for message in _messages():
        assert translate(message, "invalid-input", "en", {message: "переведено"}) == message


def test_every_raised_message_reads_russian() -> None:
    for message in _messages():
        text = translate(message, "invalid-input", "ru")
        assert any("а" <= ch <= "я" or ch == "ё" for ch in text.lower()), (message, text)


def test_unknown_messages_fall_back_to_russian_per_slug() -> None:
    assert translate("the flux capacitor is empty", "not-found", "ru") == "Не найдено"
    assert translate("Method Not Allowed", "method-not-allowed", "ru") == FALLBACKS["method-not-allowed"]
    assert translate("something new", "some-new-slug", "ru") == DEFAULT_FALLBACK
    assert translate("something new", "not-found", "en") == "something new"


def test_every_slug_has_a_russian_fallback() -> None:
    slugs = {getattr(errors, name).slug for name in ERROR_CLASSES} | set(HTTP_SLUGS.values())
    slugs |= {slug for slug, _ in API_ERRORS} | {"http-error"}
    assert slugs - set(FALLBACKS) == set()


def test_russian_text_passes_and_the_catalogue_wins() -> None:
    assert translate("имя: обязательное поле", "invalid-input", "ru") == "имя: обязательное поле"
    assert translate("Иван has no phone number", "invalid-input", "ru") == "у клиента Иван нет номера телефона"
    assert translate("name: required", "invalid-input", "ru", {"name: required": "имя: нужно"}) == "имя: нужно"


@pytest.mark.parametrize(("header", "locale"), [
    (None, "en"), ("", "en"), ("ru", "ru"), ("ru-RU,ru;q=0.9,en;q=0.8", "ru"), ("en-US,en;q=0.9,ru;q=0.8", "en"),
    ("de-DE, ru;q=0.5", "ru"), ("de", "en"), ("*", "en"), ("en;q=0.2, ru;q=0.7", "ru"), ("ru;q=bogus, en", "en"),
    ("ru;q=0", "en"),
])
def test_accept_language(header: str | None, locale: str) -> None:
    assert accept_language_locale(header) == locale


# --- through the app ----------------------------------------------------------------------------------------

async def test_a_russian_users_form_error_is_russian(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    await customers.create_customer(pool, CustomerInput(name="Первый", phones=("+79161234567",)))
    csrf = await login(client, operator)
    data = {"_csrf": csrf, "name": "Второй", "kind": "person", "phones": "+7 916 123-45-67"}
    response = await client.post("/customers/new", data=data)
    assert response.status == 409
    html = await response.text()
    assert "телефон +79161234567 уже принадлежит другому клиенту" in html and "already belongs" not in html
    await managers.set_locale(pool, operator.id, "en")
    english = await (await client.post("/customers/new", data=data)).text()
    assert "phone +79161234567 already belongs to another customer" in english


async def test_a_page_error_is_russian_with_its_slug(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    await login(client, operator)
    missing = await client.get("/customers/999999")
    assert missing.status == 404
    html = await missing.text()
    assert 'data-slug="not-found"' in html and "нет клиента 999999" in html
    forged = await client.post("/customers/new", data={"_csrf": "forged", "name": "X"})
    assert forged.status == 403 and "нет CSRF-токена или он неверен" in await forged.text()


async def test_api_messages_follow_accept_language(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    admin = await make_manager("admin")
    auth = {"Authorization": f"Bearer {await managers.create_api_token(pool, admin.id)}"}
    body = {"name": "Bob", "kind": "robot"}
    english = await client.post("/api/v1/customers", json=body, headers=auth)
    russian = await client.post("/api/v1/customers", json=body, headers={**auth, "Accept-Language": "ru-RU,ru"})
    assert english.status == russian.status == 422
    en, ru = await english.json(), await russian.json()
    assert en["error"] == ru["error"] == "invalid-input"
    assert (en["message"], ru["message"]) == ("kind: must be one of person, company",
                                              "вид: одно из значений: person, company")
    gone = await client.get("/api/v1/customers/999999", headers={**auth, "Accept-Language": "ru"})
    assert (gone.status, await gone.json()) == (404, {"error": "not-found", "message": "нет клиента 999999"})
    route = await client.get("/api/v1/no-such-route", headers={**auth, "Accept-Language": "ru"})
    assert (route.status, await route.json()) == (404, {"error": "not-found", "message": "Не найдено"})


async def test_forbidden_transition_on_the_order_page_is_russian(client: Client, pool: Pool,
                                                                 make_manager: MakeManager) -> None:
    operator = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Покупатель",
                                                                   responsible_manager_id=operator.id))
    order = await orders.create_order(pool, OrderInput(number="R-1", customer_id=customer.id), None)
    csrf = await login(client, operator)
    response = await client.post(f"/orders/{order.id}/status", data={"_csrf": csrf, "status": "delivered"})
    assert response.status == 409
    assert "нельзя перевести в «delivered»" in await response.text()

