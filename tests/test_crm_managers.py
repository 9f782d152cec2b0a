"""Managers against a real PostgreSQL: accounts, extensions, passwords, presence, API tokens."""

from __future__ import annotations

import asyncio

import pytest

from crm import managers
from crm.database import Pool
from crm.errors import DuplicateLogin, InvalidInput, NotFound
from crm.managers import ManagerInput
from crm.models import Manager
from crm.passwords import check_password_policy
from tests.conftest import PASSWORD, MakeManager


async def _count(pool: Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def test_create_with_extensions(pool: Pool) -> None:
    created = await managers.create_manager(pool, ManagerInput(
        login="  Anna.Smirnova ", display_name=" Анна   Смирнова ", role="operator",
        extensions=("103", "101", "103"), softphone=True, vip_capable=True, seniority=70,
        max_concurrent_calls=2, locale="en"), PASSWORD)
    assert created.login == "anna.smirnova" and created.display_name == "Анна Смирнова"
    assert created.extensions == ("101", "103")
    assert created.softphone and created.vip_capable and created.seniority == 70
    assert created.max_concurrent_calls == 2 and created.locale == "en"
    assert created.active and created.presence == "offline" and not created.sees_everything
    assert await managers.get_manager(pool, created.id) == created
    assert await managers.find_manager_by_login(pool, "ANNA.SMIRNOVA") == created
    assert await managers.find_manager_by_login(pool, "nobody") is None


async def test_roles_and_listing(pool: Pool, make_manager: MakeManager) -> None:
    op = await make_manager("operator", name="Яна")
    head = await make_manager("supervisor", name="Борис")
    admin = await make_manager("admin", name="Алла")
    assert (op.sees_everything, head.sees_everything, admin.sees_everything) == (False, True, True)
    await managers.update_manager(pool, op.id, ManagerInput(login=op.login, display_name=op.display_name,
                                                            active=False))
    assert [m.display_name for m in await managers.list_managers(pool)] == ["Алла", "Борис", "Яна"]
    assert [m.display_name for m in await managers.list_managers(pool, active_only=True)] == ["Алла", "Борис"]


async def test_duplicate_login_is_refused(pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", login="anna")
    with pytest.raises(DuplicateLogin) as info:
        await managers.create_manager(pool, ManagerInput(login="ANNA", display_name="Другая Анна"), PASSWORD)
    assert info.value.slug == "duplicate-login" and info.value.http_status == 409
    assert await _count(pool, "managers") == 1


async def test_rename_to_a_taken_login_is_refused(pool: Pool, make_manager: MakeManager) -> None:
    await make_manager("operator", login="anna")
    boris = await make_manager("operator", login="boris")
    with pytest.raises(DuplicateLogin):
        await managers.update_manager(pool, boris.id, ManagerInput(login="anna", display_name="Борис"))
    assert await managers.get_manager(pool, boris.id) == boris


async def test_extension_of_another_manager_is_refused(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101",))
    with pytest.raises(InvalidInput, match="extension 101 already belongs to another manager"):
        await managers.create_manager(pool, ManagerInput(login="boris", display_name="Борис",
                                                         extensions=("102", "101")), PASSWORD)
    assert await managers.find_manager_by_login(pool, "boris") is None  # rolled back whole
    assert await _count(pool, "manager_extensions") == 1
    vera = await make_manager("operator", extensions=("103",))
    with pytest.raises(InvalidInput):
        await managers.update_manager(pool, vera.id, ManagerInput(login=vera.login, display_name="Вера",
                                                                  extensions=("101",)))
    assert (await managers.get_manager(pool, vera.id)).extensions == ("103",)
    assert (await managers.get_manager(pool, anna.id)).extensions == ("101",)


async def test_update_replaces_extensions(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", extensions=("101", "102"))
    updated = await managers.update_manager(pool, anna.id, ManagerInput(
        login=anna.login, display_name="Анна", role="supervisor", extensions=("102", "105")))
    assert updated.extensions == ("102", "105") and updated.role == "supervisor"
    boris = await make_manager("operator", extensions=("101",))  # freed by the update
    assert boris.extensions == ("101",)
    with pytest.raises(NotFound):
        await managers.update_manager(pool, 999999, ManagerInput(login="ghost", display_name="Призрак"))


@pytest.mark.parametrize("data", [
    ManagerInput(login="a", display_name="Too short login"),
    ManagerInput(login="анна", display_name="Cyrillic login"),
    ManagerInput(login="anna smirnova", display_name="Space in login"),
    ManagerInput(login="_anna", display_name="Leading underscore"),
    ManagerInput(login="x" * 65, display_name="Too long login"),
    ManagerInput(login="anna\x00", display_name="NUL in login"),
    ManagerInput(login="anna", display_name="   "),
    ManagerInput(login="anna", display_name="Я" * 201),
    ManagerInput(login="anna", display_name="\x00\x1b"),
    ManagerInput(login="anna", display_name="Anna", role="root"),  # type: ignore[arg-type]
    ManagerInput(login="anna", display_name="Anna", extensions=("1",)),
    ManagerInput(login="anna", display_name="Anna", extensions=("1234567",)),
    ManagerInput(login="anna", display_name="Anna", extensions=("10a",)),
    ManagerInput(login="anna", display_name="Anna", max_concurrent_calls=0),
    ManagerInput(login="anna", display_name="Anna", max_concurrent_calls=21),
    ManagerInput(login="anna", display_name="Anna", seniority=-1),
    ManagerInput(login="anna", display_name="Anna", seniority=101),
    ManagerInput(login="anna", display_name="Anna", locale="de"),
])
async def test_invalid_manager_input_is_refused(pool: Pool, data: ManagerInput) -> None:
    with pytest.raises(InvalidInput):
        await managers.create_manager(pool, data, PASSWORD)
    assert await _count(pool, "managers") == 0


async def test_display_name_control_characters_are_stripped(pool: Pool) -> None:
    created = await managers.create_manager(pool, ManagerInput(login="anna", display_name="Анна\x00\x1b[31m"),
                                            PASSWORD)
    assert created.display_name == "Анна[31m"


async def test_authenticate(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", login="anna")
    assert await managers.authenticate(pool, "anna", PASSWORD) == anna
    assert await managers.authenticate(pool, "  ANNA ", PASSWORD) == anna
    assert await managers.authenticate(pool, "anna", "wrong-password") is None
    assert await managers.authenticate(pool, "anna", PASSWORD.upper()) is None
    assert await managers.authenticate(pool, "nobody", PASSWORD) is None
    assert await managers.authenticate(pool, "anna", "") is None
    assert await managers.authenticate(pool, "anna", "x" * 10_000) is None
    assert await managers.authenticate(pool, "anna\x00", PASSWORD) is None
    assert await managers.authenticate(pool, "", "") is None


async def test_inactive_manager_cannot_log_in(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", login="anna")
    await managers.update_manager(pool, anna.id, ManagerInput(login="anna", display_name="Анна", active=False))
    assert await managers.authenticate(pool, "anna", PASSWORD) is None


async def test_password_policy_and_change(pool: Pool, make_manager: MakeManager) -> None:
    check_password_policy("12345678")
    check_password_policy("x" * 256)
    for bad in ("", "1234567", "x" * 257):
        with pytest.raises(InvalidInput):
            check_password_policy(bad)
    with pytest.raises(InvalidInput, match="at least 8"):
        await managers.create_manager(pool, ManagerInput(login="anna", display_name="Анна"), "short")
    assert await _count(pool, "managers") == 0
    boris = await make_manager("operator", login="boris")
    with pytest.raises(InvalidInput):
        await managers.set_password(pool, boris.id, "short")
    assert await managers.authenticate(pool, "boris", PASSWORD) == boris
    await managers.set_password(pool, boris.id, "a brand new passphrase")
    assert await managers.authenticate(pool, "boris", PASSWORD) is None
    assert await managers.authenticate(pool, "boris", "a brand new passphrase") == boris
    with pytest.raises(NotFound):
        await managers.set_password(pool, 999999, "long enough password")
    stored = await pool.fetchval("SELECT password_hash FROM managers WHERE id = $1", boris.id)
    assert stored.startswith("$argon2id$") and "a brand new passphrase" not in stored


async def test_presence_change_updates_the_timestamp(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    assert anna.presence == "offline"
    online = await managers.set_presence(pool, anna.id, "online")
    assert online.presence == "online" and online.presence_changed_at > anna.presence_changed_at
    same = await managers.set_presence(pool, anna.id, "online")
    assert same.presence_changed_at == online.presence_changed_at  # no change, no new timestamp
    away = await managers.set_presence(pool, anna.id, "away")
    assert away.presence == "away" and away.presence_changed_at > online.presence_changed_at
    with pytest.raises(InvalidInput):
        await managers.set_presence(pool, anna.id, "busy")  # type: ignore[arg-type]
    assert (await managers.get_manager(pool, anna.id)).presence == "away"


async def test_locale(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    await managers.set_locale(pool, anna.id, "en")
    assert (await managers.get_manager(pool, anna.id)).locale == "en"
    with pytest.raises(InvalidInput):
        await managers.set_locale(pool, anna.id, "fr")


async def test_api_token_is_stored_only_as_a_hash(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    token = await managers.create_api_token(pool, anna.id, "1С обмен\x00")
    assert token.startswith("pzv_") and len(token) > 40
    other = await managers.create_api_token(pool, anna.id)
    assert other != token
    rows = await pool.fetch("SELECT *, row_to_json(api_tokens)::text AS as_text FROM api_tokens ORDER BY id")
    assert len(rows) == 2
    for row in rows:
        dump = row["as_text"] + repr(dict(row))
        for plain in (token, other, token[4:], other[4:]):
            assert plain not in dump
            assert plain.encode() not in bytes(row["token_sha256"])
        assert len(row["token_sha256"]) == 32 and row["last_used_at"] is None
    assert rows[0]["label"] == "1С обмен"


async def test_manager_for_token(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator", login="anna")
    token = await managers.create_api_token(pool, anna.id, "crm sync")
    assert await managers.manager_for_token(pool, token) == anna
    assert await pool.fetchval("SELECT last_used_at FROM api_tokens") is not None
    for wrong in ("", "pzv_", token[:-1], token + "x", token[4:], "Bearer " + token, "pzv_" + "A" * 200,
                  token.upper(), "pzv_\x00"):
        assert await managers.manager_for_token(pool, wrong) is None, wrong
    await managers.update_manager(pool, anna.id, ManagerInput(login="anna", display_name="Анна", active=False))
    assert await managers.manager_for_token(pool, token) is None


async def test_concurrent_claims_of_one_extension(pool: Pool) -> None:
    results = await asyncio.gather(*(
        managers.create_manager(pool, ManagerInput(login=f"racer{i}", display_name=f"Гонщик {i}",
                                                   extensions=("150",)), PASSWORD)
        for i in range(3)), return_exceptions=True)
    assert sum(isinstance(r, Manager) for r in results) == 1
    assert all(isinstance(r, (Manager, InvalidInput)) for r in results), results
    assert await _count(pool, "managers") == 1
