"""The shipped asterisk-conf/ on a real Asterisk 22.10.1: it loads cleanly and has what perezvon relies on.

The static checks (tests/test_asterisk_conf.py) cannot see what only Asterisk knows: that `mailbox` is
not a chan_pjsip option (every operator endpoint was dropped), that a module logs an ERROR at every
start, which classes an AMI action needs. This loads the files as an admin would (only the CHANGE-ME
values changed: scratch_conf.py) and asks Asterisk itself.
"""

from __future__ import annotations

import re

from tests.pbx.ami_raw import ami_login
from tests.pbx.asterisk_process import Asterisk
from tests.pbx.scratch_conf import OPERATORS, SHIPPED

#: Contexts asterisk-conf/README.md names (the dialplan's entry points and subroutines).
CONTEXTS = ("from-trunk", "perezvon-fallback", "from-internal", "perezvon-originate", "perezvon-outbound-cid")


def test_the_readme_names_these_contexts() -> None:
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\[([a-z-]+)\]", readme)) & set(CONTEXTS)
    assert named >= {"from-trunk", "perezvon-fallback", "from-internal", "perezvon-originate"}


async def test_loads_with_no_error_or_warning(asterisk: Asterisk) -> None:
    assert asterisk.full_log(), "the full log (logger.conf) is empty: nothing to check"
    # Only what loading logged: the calls of other tests may warn for good reasons (perezvon down...).
    assert asterisk.log_lines("ERROR", boot_only=True) == []
    assert asterisk.log_lines("WARNING", boot_only=True) == []


async def test_every_context_is_loaded(asterisk: Asterisk) -> None:
    for context in CONTEXTS:
        out = await asterisk.cli(f"dialplan show {context}")
        assert f"[ Context '{context}' created by 'pbx_config' ]" in out, out


async def test_operator_endpoints_and_trunk_exist(asterisk: Asterisk) -> None:
    out = await asterisk.cli("pjsip show endpoints")
    names = set(re.findall(r"^\s*Endpoint:\s+([^\s/]+)", out, flags=re.MULTILINE)) - {"<Endpoint"}
    assert names == {*OPERATORS, "trunk"}, out
    identify = await asterisk.cli("pjsip show identifies")
    assert "127.0.0.2/32" in identify, identify


async def test_the_modules_calls_depend_on_are_running(asterisk: Asterisk) -> None:
    out = await asterisk.cli("module show")
    for module in ("res_agi.so", "chan_pjsip.so", "app_queue.so", "app_mixmonitor.so", "app_voicemail.so",
                   "cdr_manager.so", "cdr_custom.so", "cel_custom.so", "chan_audiosocket.so"):
        line = next((line for line in out.splitlines() if line.startswith(module)), "")
        assert "Running" in line, f"{module}: {line or 'not loaded'}"
    assert not any(line.startswith("res_config_pgsql.so") and "Running" in line for line in out.splitlines())


async def test_the_perezvon_ami_user_logs_in_with_the_classes_the_bridge_needs(asterisk: Asterisk) -> None:
    values = asterisk.scratch.values
    answer = await ami_login("127.0.0.1", values.ami_port, "perezvon", values.ami_secret)
    assert answer["Response"] == "Success"
    out = await asterisk.cli("manager show user perezvon")
    found = re.findall(r"^\s*(read perm|write perm):(.*)$", out, flags=re.MULTILINE)
    perms = {key.strip(): set(value.strip().split(",")) for key, value in found}
    assert perms["read perm"] == {"system", "call", "agent", "dialplan", "cdr"}, out
    # reporting: CoreShowChannels and DeviceStateList; system: PJSIPShowContacts (manager.conf says why).
    assert perms["write perm"] == {"originate", "call", "reporting", "system"}, out
