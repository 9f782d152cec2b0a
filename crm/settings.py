"""Settings the CRM owns. Only the composition root reads the environment to fill them.

Each field's metadata names its environment variable and says what it does; the
composition root and the test that checks `.env.example` both read that metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DatabaseSettings:
    database_url: str | None = field(
        default=None,
        metadata={"env": "DATABASE_URL",
                  "help": "PostgreSQL 14+ to use, e.g. postgresql://user:pass@host/db. "
                          "Empty: start the embedded PostgreSQL in the data directory."},
    )
    data_dir: Path = field(
        default=Path("var"),
        metadata={"env": "PEREZVON_DATA_DIR",
                  "help": "Where the embedded PostgreSQL and other local data live."},
    )
    pool_min_size: int = field(
        default=2, metadata={"env": "PEREZVON_DB_POOL_MIN", "help": "Minimum database connections kept open."}
    )
    pool_max_size: int = field(
        default=10, metadata={"env": "PEREZVON_DB_POOL_MAX", "help": "Maximum database connections."}
    )


@dataclass(frozen=True)
class CrmSettings:
    default_region: str = field(
        default="RU",
        metadata={"env": "PEREZVON_DEFAULT_REGION",
                  "help": "Region (ISO 3166 code) assumed for phone numbers written without a country code."},
    )
    timezone: str = field(
        default="Europe/Moscow",
        metadata={"env": "PEREZVON_TIMEZONE", "help": "The shop's time zone, used to show times."},
    )
