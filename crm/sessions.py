"""Login sessions kept in the database, so that they can be ended before the cookie expires.

The session cookie carries a random token; the table keeps only its SHA-256. A session logs its
manager in while the row exists, the manager is active, the row was used within the idle timeout
and is younger than the absolute lifetime. Logout ends one session; a password change, a
deactivation or "log out everywhere" ends all of a manager's sessions.
"""

from __future__ import annotations

import hashlib
import secrets

from crm.database import Pool
from crm.models import Manager

CREATE_SESSION = """
INSERT INTO manager_sessions (manager_id, token_sha256, address) VALUES ($1, $2, $3)
"""
# Touch at most once a minute: the idle timeout needs no finer clock, and most requests then only read.
TOUCH_SESSION = """
UPDATE manager_sessions SET last_seen_at = now()
WHERE token_sha256 = $1 AND last_seen_at > now() - make_interval(secs => $2)
      AND created_at > now() - make_interval(secs => $3)
      AND last_seen_at < now() - interval '60 seconds'
"""
SESSION_MANAGER = """
SELECT s.manager_id FROM manager_sessions s JOIN managers m ON m.id = s.manager_id
WHERE s.token_sha256 = $1 AND m.active AND s.last_seen_at > now() - make_interval(secs => $2)
      AND s.created_at > now() - make_interval(secs => $3)
"""
END_SESSION = "DELETE FROM manager_sessions WHERE token_sha256 = $1"
END_ALL_SESSIONS = "DELETE FROM manager_sessions WHERE manager_id = $1"
PURGE_SESSIONS = """
DELETE FROM manager_sessions
WHERE last_seen_at <= now() - make_interval(secs => $1) OR created_at <= now() - make_interval(secs => $2)
"""
COUNT_SESSIONS = "SELECT count(*) FROM manager_sessions WHERE manager_id = $1"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def start_session(pool: Pool, manager_id: int, address: str = "") -> str:
    """A new session for the manager; the token (for the cookie) is returned, only its hash stored."""
    token = secrets.token_urlsafe(32)
    await pool.execute(CREATE_SESSION, manager_id, _digest(token), address[:100])
    return token


async def session_manager_id(pool: Pool, token: str, *, idle_s: float, max_age_s: float) -> int | None:
    """The manager this session logs in, or None when it was ended, timed out or the account is inactive."""
    if not token or len(token) > 100:
        return None
    digest = _digest(token)
    manager_id: int | None = await pool.fetchval(SESSION_MANAGER, digest, float(idle_s), float(max_age_s))
    if manager_id is not None:
        await pool.execute(TOUCH_SESSION, digest, float(idle_s), float(max_age_s))
    return manager_id


async def end_session(pool: Pool, token: str) -> None:
    await pool.execute(END_SESSION, _digest(token))


async def end_all_sessions(pool: Pool, manager_id: int) -> None:
    """Log the manager out everywhere (every browser, every device)."""
    await pool.execute(END_ALL_SESSIONS, manager_id)


async def purge_expired(pool: Pool, *, idle_s: float, max_age_s: float) -> int:
    """Delete sessions that can no longer log anyone in; returns how many."""
    result = await pool.execute(PURGE_SESSIONS, float(idle_s), float(max_age_s))
    return int(result.rsplit(" ", 1)[-1])


async def count_sessions(pool: Pool, manager: Manager) -> int:
    count: int = await pool.fetchval(COUNT_SESSIONS, manager.id)
    return count
