"""Managers (the users): accounts, roles, extensions, presence, API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from crm.database import Connection, Pool
from crm.errors import DuplicateLogin, InvalidInput, NotFound
from crm.models import PRESENCES, ROLES, Manager, Presence, Role
from crm.passwords import hash_password, verify_password
from crm.sessions import END_ALL_SESSIONS
from crm.validation import clean_text, strip_control_chars

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_EXTENSION = re.compile(r"^[0-9]{2,6}$")

SELECT_MANAGER = """
SELECT m.*, coalesce(
    (SELECT array_agg(e.extension ORDER BY e.extension) FROM manager_extensions e WHERE e.manager_id = m.id),
    '{}') AS extension_list
FROM managers m
"""


@dataclass(frozen=True)
class ManagerInput:
    """What an admin sets on a manager; validated before any SQL runs."""

    login: str
    display_name: str
    role: Role = "operator"
    extensions: tuple[str, ...] = ()
    softphone: bool = False
    vip_capable: bool = False
    seniority: int = 0
    max_concurrent_calls: int = 1
    active: bool = True
    locale: str = "ru"

    def validated(self) -> ManagerInput:
        login = self.login.strip().lower()
        if not _LOGIN.match(login):
            raise InvalidInput("login: 2-64 characters, latin letters, digits, '.', '_' or '-'")
        name = " ".join(strip_control_chars(self.display_name).split())
        if not 1 <= len(name) <= 200:
            raise InvalidInput("display name: 1-200 characters")
        if self.role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
        for ext in self.extensions:
            if not _EXTENSION.match(ext):
                raise InvalidInput(f"extension {ext[:20]!r}: 2-6 digits")
        if not 1 <= self.max_concurrent_calls <= 20:
            raise InvalidInput("max concurrent calls: 1-20")
        if not 0 <= self.seniority <= 100:
            raise InvalidInput("seniority: 0-100")
        if self.locale not in ("ru", "en"):
            raise InvalidInput("locale must be ru or en")
        return ManagerInput(login, name, self.role, tuple(dict.fromkeys(self.extensions)), self.softphone,
                            self.vip_capable, self.seniority, self.max_concurrent_calls, self.active, self.locale)


def _manager(row: asyncpg.Record) -> Manager:
    return Manager(
        id=row["id"], login=row["login"], display_name=row["display_name"], role=row["role"],
        extensions=tuple(row["extension_list"]), softphone=row["softphone"], vip_capable=row["vip_capable"],
        seniority=row["seniority"], max_concurrent_calls=row["max_concurrent_calls"], active=row["active"],
        presence=row["presence"], presence_changed_at=row["presence_changed_at"], locale=row["locale"],
        created_at=row["created_at"],
    )


async def create_manager(pool: Pool, data: ManagerInput, password: str) -> Manager:
    data = data.validated()
    password_hash = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        try:
            manager_id = await conn.fetchval(
                """INSERT INTO managers (login, display_name, role, password_hash, softphone, vip_capable,
                       seniority, max_concurrent_calls, active, locale)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
                data.login, data.display_name, data.role, password_hash, data.softphone, data.vip_capable,
                data.seniority, data.max_concurrent_calls, data.active, data.locale,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateLogin(f"login {data.login!r} is taken") from exc
        await _set_extensions(conn, manager_id, data.extensions)
    return await get_manager(pool, manager_id)


async def update_manager(pool: Pool, manager_id: int, data: ManagerInput) -> Manager:
    data = data.validated()
    async with pool.acquire() as conn, conn.transaction():
        try:
            updated = await conn.fetchval(
                """UPDATE managers SET login = $2, display_name = $3, role = $4, softphone = $5,
                       vip_capable = $6, seniority = $7, max_concurrent_calls = $8, active = $9, locale = $10
                   WHERE id = $1 RETURNING id""",
                manager_id, data.login, data.display_name, data.role, data.softphone, data.vip_capable,
                data.seniority, data.max_concurrent_calls, data.active, data.locale,
            )
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateLogin(f"login {data.login!r} is taken") from exc
        if updated is None:
            raise NotFound(f"no manager {manager_id}")
        if not data.active:  # a deactivated account's sessions end now, and stay ended if it is reactivated
            await conn.execute(END_ALL_SESSIONS, manager_id)
        await _set_extensions(conn, manager_id, data.extensions)
    return await get_manager(pool, manager_id)


async def _set_extensions(conn: Connection, manager_id: int, extensions: tuple[str, ...]) -> None:
    await conn.execute("DELETE FROM manager_extensions WHERE manager_id = $1", manager_id)
    for ext in extensions:
        # ON CONFLICT rather than check-then-insert, so two concurrent saves cannot both pass the check.
        inserted = await conn.fetchval(
            """INSERT INTO manager_extensions (extension, manager_id) VALUES ($1, $2)
               ON CONFLICT (extension) DO NOTHING RETURNING manager_id""", ext, manager_id)
        if inserted is None:
            raise InvalidInput(f"extension {ext} already belongs to another manager")


async def get_manager(pool: Pool, manager_id: int) -> Manager:
    row = await pool.fetchrow(SELECT_MANAGER + " WHERE m.id = $1", manager_id)
    if row is None:
        raise NotFound(f"no manager {manager_id}")
    return _manager(row)


def _login_key(login: str) -> str | None:
    """The stored form of a typed login, or None when no account could have it (e.g. a NUL inside)."""
    key = login.strip().lower()
    return key if _LOGIN.match(key) else None


async def find_manager_by_login(pool: Pool, login: str) -> Manager | None:
    key = _login_key(login)
    row = None if key is None else await pool.fetchrow(SELECT_MANAGER + " WHERE m.login = $1", key)
    return None if row is None else _manager(row)


async def list_managers(pool: Pool, *, active_only: bool = False) -> list[Manager]:
    where = " WHERE m.active" if active_only else ""
    rows = await pool.fetch(SELECT_MANAGER + where + " ORDER BY m.display_name, m.id")
    return [_manager(r) for r in rows]


@dataclass(frozen=True)
class LoginOutcome:
    """The manager when the login succeeded; else None and why (for the log, never for the user)."""

    manager: Manager | None
    reason: str


async def check_login(pool: Pool, login: str, password: str, *, executor: Executor | None = None) -> LoginOutcome:
    """Check a login and password; the Argon2 work runs in `executor` (a thread pool), never on the loop.

    An unknown login spends the same work as a wrong password, so timing does not reveal logins.
    """
    key = _login_key(login)
    row = None if key is None else await pool.fetchrow(SELECT_MANAGER + " WHERE m.login = $1", key)
    stored = row["password_hash"] if row else None
    ok = await asyncio.get_running_loop().run_in_executor(executor, verify_password, stored, password)
    if row is None:
        return LoginOutcome(None, "unknown login")
    if not ok:
        return LoginOutcome(None, "wrong password")
    if not row["active"]:
        return LoginOutcome(None, "account deactivated")
    return LoginOutcome(_manager(row), "ok")


async def authenticate(pool: Pool, login: str, password: str, *, executor: Executor | None = None) -> Manager | None:
    """The manager if login and password match an active account, else None (same cost either way)."""
    return (await check_login(pool, login, password, executor=executor)).manager


async def set_password(pool: Pool, manager_id: int, password: str) -> None:
    """Set a new password; every session of the manager ends (whoever knew the old one is logged out)."""
    password_hash = await asyncio.to_thread(hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        result = await conn.execute("UPDATE managers SET password_hash = $2 WHERE id = $1", manager_id, password_hash)
        if result.endswith(" 0"):
            raise NotFound(f"no manager {manager_id}")
        await conn.execute(END_ALL_SESSIONS, manager_id)


async def set_presence(pool: Pool, manager_id: int, presence: Presence) -> Manager:
    if presence not in PRESENCES:
        raise InvalidInput(f"presence must be one of {', '.join(PRESENCES)}")
    await pool.execute(
        """UPDATE managers SET presence = $2, presence_changed_at = now()
           WHERE id = $1 AND presence IS DISTINCT FROM $2""", manager_id, presence)
    return await get_manager(pool, manager_id)


async def set_locale(pool: Pool, manager_id: int, locale: str) -> None:
    if locale not in ("ru", "en"):
        raise InvalidInput("locale must be ru or en")
    await pool.execute("UPDATE managers SET locale = $2 WHERE id = $1", manager_id, locale)


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_api_token(pool: Pool, manager_id: int, label: str = "", *,
                           expires_at: datetime | None = None) -> str:
    """A new bearer token; only its SHA-256 is stored, so the plain token is shown once."""
    token = "pzv_" + secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO api_tokens (manager_id, token_sha256, label, expires_at) VALUES ($1, $2, $3, $4)",
        manager_id, _token_digest(token), clean_text(label[:100], "label", max_len=100), expires_at)
    return token


async def manager_for_token(pool: Pool, token: str) -> Manager | None:
    """The token's manager, when the token exists, is neither revoked nor expired and the account is active."""
    if not token.startswith("pzv_") or len(token) > 100:
        return None
    manager_id = await pool.fetchval(
        """UPDATE api_tokens SET last_used_at = now()
           WHERE token_sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
           RETURNING manager_id""",
        _token_digest(token))
    if manager_id is None:
        return None
    manager = await get_manager(pool, manager_id)
    return manager if manager.active else None


SET_CAPS = """
WITH changed AS (
    UPDATE managers m SET max_concurrent_calls = c.cap
    FROM unnest($1::bigint[], $2::integer[]) AS c(id, cap)
    WHERE m.id = c.id
    RETURNING m.id)
SELECT count(*) FROM changed
"""


async def set_concurrency_caps(pool: Pool, caps: Mapping[int, int]) -> None:
    """Set several managers' max concurrent calls at once (the routing page's caps table): all or nothing."""
    for cap in caps.values():
        if not 1 <= cap <= 20:
            raise InvalidInput("max concurrent calls: 1-20")
    ids = list(caps)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(SET_CAPS, ids, [caps[i] for i in ids]) != len(ids):
            raise InvalidInput("max concurrent calls: unknown manager")
