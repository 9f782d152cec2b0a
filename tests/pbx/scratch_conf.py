"""The scratch Asterisk configuration: the project's own `asterisk-conf/`, with only the values its README
says to change rewritten, plus the files a bare Asterisk needs beside them.

The point of the PBX tier is to prove the *shipped* files, so nothing here edits them beyond what an
admin following asterisk-conf/README.md would: addresses and ports, the trunk's provider, secrets,
the FastAGI address, the recordings directory, where perezvon's PostgreSQL listens (cdr_pgsql). Every
rewrite is one `Edit` (file, section, key);
`rewrite()` reports each value it replaced as an `Applied`, so a test can show exactly what differs
from the shipped files, and it fails loudly when a shipped key moved or vanished.
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "asterisk-conf"

#: The operator endpoints pjsip.conf defines (and the managers the tier creates).
OPERATORS = ("101", "102", "103", "104", "105")
#: The loopback address the sipp provider (trunk) uses; phones use 127.0.0.1, so identify-by-IP
#: (`trunk-identify match`) tells them apart.
PROVIDER_HOST = "127.0.0.2"
PBX_HOST = "127.0.0.1"

_SECTION = re.compile(r"^\[([^\]]+)\]")
_ENTRY = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+)(?P<sep>\s*=>?\s*)(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class Edit:
    """Replace the value of the first `key` in the first section named `section` that has it."""

    file: str
    section: str
    key: str
    to: Callable[[str], str]


@dataclass(frozen=True)
class Applied:
    file: str
    section: str
    key: str
    old: str
    new: str


def value(new: str) -> Callable[[str], str]:
    return lambda _old: new


def pin(digits: str) -> Callable[[str], str]:
    """voicemail.conf `box => PIN,name`: replace only the PIN."""
    return lambda old: digits + old[old.index(","):]


def rewrite(file: str, text: str, edits: list[Edit]) -> tuple[str, list[Applied]]:
    """Apply the edits for `file` to its text; every edit must find its key (else the shipped file changed)."""
    lines = text.splitlines(keepends=True)
    applied: list[Applied] = []
    for edit in (e for e in edits if e.file == file):
        section: str | None = None
        for index, line in enumerate(lines):
            header = _SECTION.match(line)
            if header:
                section = header.group(1)
                continue
            entry = _ENTRY.match(line)
            if section != edit.section or not entry or entry.group("key") != edit.key:
                continue
            old = entry.group("value")
            new = edit.to(old)
            ending = "\n" if line.endswith("\n") else ""
            lines[index] = f"{edit.key}{entry.group('sep')}{new}{ending}"
            applied.append(Applied(file, edit.section, edit.key, old, new))
            break
        else:
            raise LookupError(f"{file}: no {edit.key!r} in [{edit.section}] (did the shipped file change?)")
    return "".join(lines), applied


@dataclass(frozen=True)
class ScratchValues:
    """The values the tier puts where the README says CHANGE-ME (and the ports it listens on)."""

    sip_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    provider_port: int
    agi_port: int
    recordings_dir: Path
    #: cdr_pgsql.conf's hostname: the socket directory of perezvon's embedded PostgreSQL (`perezvon db serve`).
    cdr_db_host: Path
    ami_secret: str = "pbx-tier-ami-secret"
    #: extensions.conf's PEREZVON_AGI_SECRET, and the perezvon under test's PEREZVON_AGI_SECRET.
    agi_secret: str = "pbx-tier-agi-secret-0123456789"
    trunk_login: str = "shop-login"
    trunk_password: str = "shop-trunk-password"
    voicemail_pin: str = "4242"
    phone_passwords: dict[str, str] = field(default_factory=lambda: {ext: f"phone-{ext}-secret" for ext in OPERATORS})

    @property
    def provider_uri(self) -> str:
        return f"sip:{PROVIDER_HOST}:{self.provider_port}"


def edits_for(values: ScratchValues) -> list[Edit]:
    """Exactly the README's "Change every value marked CHANGE-ME" table, for loopback and free ports."""
    provider = f"{PROVIDER_HOST}:{values.provider_port}"
    edits = [
        # pjsip.conf: where Asterisk listens, and the provider (sipp on 127.0.0.2).
        Edit("pjsip.conf", "transport-udp", "bind", value(f"{PBX_HOST}:{values.sip_port}")),
        Edit("pjsip.conf", "trunk-auth", "username", value(values.trunk_login)),
        Edit("pjsip.conf", "trunk-auth", "password", value(values.trunk_password)),
        Edit("pjsip.conf", "trunk-aor", "contact", value(f"sip:{provider}")),
        Edit("pjsip.conf", "trunk", "from_domain", value(PROVIDER_HOST)),
        Edit("pjsip.conf", "trunk-reg", "server_uri", value(f"sip:{provider}")),
        Edit("pjsip.conf", "trunk-reg", "client_uri", value(f"sip:{values.trunk_login}@{provider}")),
        Edit("pjsip.conf", "trunk-identify", "match", value(PROVIDER_HOST)),
        # manager.conf: a free port (bindaddr stays loopback) and the secret.
        Edit("manager.conf", "general", "port", value(str(values.ami_port))),
        Edit("manager.conf", "perezvon", "secret", value(values.ami_secret)),
        # extensions.conf: perezvon's FastAGI and the recordings directory.
        Edit("extensions.conf", "globals", "PEREZVON_AGI", value(f"{PBX_HOST}:{values.agi_port}")),
        Edit("extensions.conf", "globals", "PEREZVON_AGI_SECRET", value(values.agi_secret)),
        Edit("extensions.conf", "globals", "RECORDINGS_DIR", value(str(values.recordings_dir))),
        # cdr_pgsql.conf: perezvon's embedded PostgreSQL, by its socket directory.
        Edit("cdr_pgsql.conf", "global", "hostname", value(str(values.cdr_db_host))),
    ]
    edits += [Edit("pjsip.conf", f"{ext}-auth", "password", value(secret))
              for ext, secret in values.phone_passwords.items()]
    edits += [Edit("voicemail.conf", "default", box, pin(values.voicemail_pin)) for box in ("general", *OPERATORS)]
    return edits


@dataclass(frozen=True)
class ScratchDir:
    """A directory holding everything one Asterisk run reads and writes."""

    root: Path
    prefix: Path
    values: ScratchValues
    applied: tuple[Applied, ...]

    @property
    def asterisk_conf(self) -> Path:
        return self.root / "etc" / "asterisk.conf"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def full_log(self) -> Path:
        return self.log_dir / "full"

    @property
    def sounds(self) -> Path:
        return self.root / "data" / "sounds"

    @property
    def cdr_csv(self) -> Path:
        return self.log_dir / "cdr-custom" / "perezvon-cdr.csv"

    @property
    def queue_log(self) -> Path:
        return self.log_dir / "queue_log"

    @property
    def control_socket(self) -> Path:
        return self.root / "run" / "asterisk.ctl"

    @property
    def binary(self) -> Path:
        return self.prefix / "sbin" / "asterisk"


def _asterisk_conf(root: Path, prefix: Path) -> str:
    dirs = {
        "astetcdir": root / "etc", "astmoddir": prefix / "lib" / "asterisk" / "modules",
        "astvarlibdir": root / "lib", "astdbdir": root / "lib", "astkeydir": root / "lib",
        "astdatadir": root / "data", "astagidir": root / "data" / "agi-bin", "astspooldir": root / "spool",
        "astrundir": root / "run", "astlogdir": root / "log", "astsbindir": prefix / "sbin",
    }
    lines = ["; Written by tests/pbx/scratch_conf.py: every directory inside this scratch run.", "[directories]"]
    lines += [f"{key} => {path}" for key, path in dirs.items()]
    lines += ["", "[options]", "verbose = 3", "debug = 0", "documentation_language = en_US",
              "; The tier's sounds are only these few prompts (no sound packages can be downloaded).",
              "defaultlanguage = en", ""]
    return "\n".join(lines)


def _tier_files(values: ScratchValues) -> dict[str, str]:
    """Files the tier writes over Asterisk's samples (not shipped by the project): a full log to read
    ERROR/WARNING/NOTICE/VERBOSE from, and an RTP range of free ports."""
    return {
        "logger.conf": "[general]\ndateformat = %F %T.%3q\n\n[logfiles]\n"
                       "full => notice,warning,error,verbose,dtmf\nmessages.log => notice,warning,error\n",
        "rtp.conf": f"[general]\nrtpstart = {values.rtp_start}\nrtpend = {values.rtp_end}\n",
    }


#: Prompts VoiceMail and the dialplan may play; each becomes a short tone (the tier only needs them
#: to exist: a missing prompt is a WARNING and a VoiceMail that gives up).
PROMPTS = ("beep", "vm-intro", "vm-theperson", "vm-isunavail", "vm-isonphone", "vm-goodbye", "vm-msgsaved",
           "vm-review", "vm-toreenter", "vm-tocancelmsg", "vm-tooshort", "vm-rec-unv", "auth-thankyou",
           # features.conf's transfers: the attended transfer prompts for the number (without the file it
           # gives up: "Unable to acquire target extension"), and the sounds that follow
           "pbx-transfer", "pbx-invalid", "beeperr", "pbx-parkingfailed",
           "silence/1", *(f"digits/{d}" for d in range(10)), *(f"letters/{c}" for c in "abcdefghijklmnopqrstuvwxyz"))


def write_tone(path: Path, seconds: float = 0.2, hz: float = 440.0) -> None:
    """An 8 kHz 16-bit mono WAV (what format_wav reads) with a short sine tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * n / rate)))
                      for n in range(int(rate * seconds)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def make_scratch(root: Path, prefix: Path, values: ScratchValues) -> ScratchDir:
    """Fill `root` with the scratch configuration and empty run directories."""
    for sub in ("etc", "lib/keys", "data/agi-bin", "data/moh", "spool", "run", "log/cdr-custom", "log/cel-custom"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    values.recordings_dir.mkdir(parents=True, exist_ok=True)
    # Read-only data of the install (XML documentation, REST API specs...) is shared, not copied.
    installed_data = prefix / "var" / "lib" / "asterisk"
    for entry in installed_data.iterdir():
        if entry.name not in ("sounds", "moh", "agi-bin") and not (root / "data" / entry.name).exists():
            (root / "data" / entry.name).symlink_to(entry)
    # 1. Asterisk's sample configuration (tools/asterisk/build.sh installs it), as on a packaged server.
    # The README's install moves the deprecated sample users.conf away (Asterisk 22 warns while it exists).
    for sample in sorted((prefix / "etc" / "asterisk").glob("*.conf")):
        if sample.name not in ("users.conf", "asterisk.conf"):
            shutil.copyfile(sample, root / "etc" / sample.name)
    # 2. The project's files over them, with only the CHANGE-ME values rewritten (asterisk-conf/README.md).
    edits = edits_for(values)
    applied: list[Applied] = []
    for path in sorted(SHIPPED.glob("*.conf")):
        text, done = rewrite(path.name, path.read_text(encoding="utf-8"), edits)
        (root / "etc" / path.name).write_text(text, encoding="utf-8")
        applied += done
    missing = {(e.file, e.section, e.key) for e in edits} - {(a.file, a.section, a.key) for a in applied}
    assert not missing, f"edits for files that are not shipped: {missing}"
    # 3. The tier's own logger and RTP range, and directories pointing into the scratch run.
    for name, text in _tier_files(values).items():
        (root / "etc" / name).write_text(text, encoding="utf-8")
    (root / "etc" / "asterisk.conf").write_text(_asterisk_conf(root, prefix), encoding="utf-8")
    for prompt in PROMPTS:
        write_tone(root / "data" / "sounds" / "en" / f"{prompt}.wav")
    write_tone(root / "data" / "moh" / "tone.wav", seconds=2.0, hz=330.0)
    return ScratchDir(root=root, prefix=prefix, values=values, applied=tuple(applied))


def remove_scratch(scratch: ScratchDir) -> None:
    shutil.rmtree(scratch.root, ignore_errors=True)
