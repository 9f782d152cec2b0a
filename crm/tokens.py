"""API tokens as their owners and admins see them: list, revoke. (Creation and lookup: crm.managers.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.database import Pool
from crm.errors import AccessDenied, NotFound
from crm.models import Manager

#: The longest expiry a new token may be given (the panel's form and `perezvon token create --expires-days`).
MAX_TOKEN_DAYS = 3650

LIST_TOKENS = """
SELECT t.id, t.manager_id, m.login, m.display_name, t.label, t.created_at, t.last_used_at, t.expires_at,
       t.revoked_at, (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())) AS usable
FROM api_tokens t JOIN managers m ON m.id = t.manager_id
"""
REVOKE_TOKEN = "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"


@dataclass(frozen=True)
class ApiToken:
    """A token without its secret (only the hash is stored, and that is not shown either)."""

    id: int
    manager_id: int
    login: str
    manager_name: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    usable: bool


async def list_tokens(pool: Pool, manager_id: int | None = None) -> list[ApiToken]:
    """One manager's tokens (`manager_id`), or everyone's; newest first."""
    if manager_id is None:
        rows = await pool.fetch(LIST_TOKENS + " ORDER BY t.created_at DESC, t.id DESC")
    else:
        rows = await pool.fetch(LIST_TOKENS + " WHERE t.manager_id = $1 ORDER BY t.created_at DESC, t.id DESC",
                                manager_id)
    return [ApiToken(id=r["id"], manager_id=r["manager_id"], login=r["login"], manager_name=r["display_name"],
                     label=r["label"], created_at=r["created_at"], last_used_at=r["last_used_at"],
                     expires_at=r["expires_at"], revoked_at=r["revoked_at"], usable=r["usable"]) for r in rows]


async def revoke_token(pool: Pool, token_id: int, by: Manager | None = None) -> None:
    """Revoke a token at once. `by`: the manager asking (their own tokens; an admin: anyone's); None: the CLI."""
    owner: int | None = await pool.fetchval("SELECT manager_id FROM api_tokens WHERE id = $1", token_id)
    if owner is None:
        raise NotFound(f"no API token {token_id}")
    if by is not None and by.role != "admin" and owner != by.id:
        raise AccessDenied("this token belongs to another manager")
    await pool.execute(REVOKE_TOKEN, token_id)
