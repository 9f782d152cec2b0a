"""Settings of the web service itself (HTTP, sessions, login protection, UI)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebSettings:
    http_host: str = field(
        default="127.0.0.1", metadata={"env": "PEREZVON_HTTP_HOST", "help": "Address the web service listens on."})
    http_port: int = field(
        default=8080, metadata={"env": "PEREZVON_HTTP_PORT", "help": "Port the web service listens on."})
    header_timeout_s: float = field(
        default=15.0, metadata={"env": "PEREZVON_HTTP_HEADER_TIMEOUT",
                                "help": "Seconds a client may take to send a request's headers (and an idle "
                                        "keep-alive connection stays open); then the connection is closed."})
    body_timeout_s: float = field(
        default=30.0, metadata={"env": "PEREZVON_HTTP_BODY_TIMEOUT",
                                "help": "Seconds a client may take to send a request's body; then 408."})
    public_url: str = field(
        default="", metadata={"env": "PEREZVON_PUBLIC_URL",
                              "help": "The URL users open (behind a proxy); empty: http://HOST:PORT."})
    secret_key: str = field(
        default="", metadata={"env": "PEREZVON_SECRET_KEY",
                              "help": "Key that encrypts session cookies (32+ random characters). "
                                      "Empty: generated once and kept in the data directory."})
    cookie_secure: bool = field(
        default=False, metadata={"env": "PEREZVON_COOKIE_SECURE",
                                 "help": "Send the session cookie over HTTPS only; set true behind TLS."})
    session_max_age_s: int = field(
        default=12 * 3600, metadata={"env": "PEREZVON_SESSION_MAX_AGE",
                                     "help": "Seconds a login stays valid at most, however active (absolute)."})
    session_idle_s: int = field(
        default=2 * 3600, metadata={"env": "PEREZVON_SESSION_IDLE",
                                    "help": "Seconds a login stays valid without any request (idle timeout)."})
    trusted_proxies: str = field(
        default="", metadata={"env": "PEREZVON_TRUSTED_PROXIES",
                              "help": "Comma-separated addresses or networks of reverse proxies whose "
                                      "X-Forwarded-For is believed; empty: the client address is the peer's."})
    login_max_failures: int = field(
        default=5, metadata={"env": "PEREZVON_LOGIN_MAX_FAILURES",
                             "help": "Failed logins allowed per (login, client address) in the window; "
                                     "4x that per address, 10x per login from all addresses."})
    login_window_s: int = field(
        default=300, metadata={"env": "PEREZVON_LOGIN_WINDOW",
                               "help": "Seconds over which failed logins are counted before blocking."})
    default_locale: str = field(
        default="ru", metadata={"env": "PEREZVON_DEFAULT_LOCALE",
                                "help": "UI language before a user chooses one: ru or en."})
    worker: bool = field(
        default=True, metadata={"env": "PEREZVON_WORKER",
                                "help": "Run a job worker inside `perezvon serve` (callback tasks, deadline checks); "
                                        "false when `perezvon worker` processes run elsewhere."})
    worker_concurrency: int = field(
        default=4, metadata={"env": "PEREZVON_WORKER_CONCURRENCY", "help": "Jobs one worker runs at once."})
    log_level: str = field(
        default="INFO", metadata={"env": "PEREZVON_LOG_LEVEL", "help": "Logging level: DEBUG, INFO, WARNING."})
