"""Static checks of ``asterisk-conf/``: what a real Asterisk would refuse, or silently get wrong.

No Asterisk runs in CI, so the configuration is checked here: every file parses as Asterisk config
syntax; the dialplan passes ``asterisklint`` and our own checks (Goto/Gosub targets, variables that
are read but never set, ``${LINKEDID}``, recording names); the AMI user has exactly the classes the
bridge's events and actions need; and the dialplan agrees with ``pbx_bridge.agi_contract`` on the
AGI script, its arguments and the variables the router sets (one source of truth for those names).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx_bridge import agi_contract, ami_actions, ami_events
from tests.asterisk_conf_parser import (
    CONF,
    agi_step,
    check_target,
    dialplan,
    globals_,
    parse,
    reads,
    resolved,
    section,
    sets,
    split_args,
    targets,
)
from web import self_check_caller

CAPTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk-22"
#: Our own recordings from the PBX tier's Asterisk (tests/pbx/ami_capture.py): Pickup, BlindTransfer, ...
OUR_CAPTURES = CAPTURES.with_name("asterisk-22-perezvon")
CONF_FILES = sorted(path.name for path in CONF.glob("*.conf"))

#: Router variables the dialplan reads after the AGI (CALLERID(name) is a function the phone shows).
ROUTER_VARS = {agi_contract.VAR_TARGETS, agi_contract.VAR_RING_TIMEOUT, agi_contract.VAR_FALLBACK,
               agi_contract.VAR_REASON, agi_contract.VAR_CUSTOMER_ID}
#: Variables Asterisk itself sets on the channel (the dialplan reads them, never sets them).
ASTERISK_VARS = {"EXTEN", agi_contract.AGISTATUS, "DIALSTATUS", "QUEUESTATUS", "READSTATUS"}
#: Variables perezvon's own AMI Originates set (the self-check call's time on the line).
ORIGINATE_VARS = {self_check_caller.WAIT_VARIABLE}
#: Dialplan functions the configuration may use.
FUNCTIONS = {"CALLERID", "CHANNEL", "CONNECTEDLINE", "CUT", "FIELDQTY", "IF", "LOCAL"}
#: Fallback kinds the dialplan handles ("queue:sales", "voicemail:BOX", "dial:NUMBER", ...).
FALLBACK_KINDS = {"queue", "voicemail", "dial", "playback", "hangup"}

#: AMI event classes for the events the bridge decodes that the Asterisk 22 captures lack (docs.asterisk.org).
#: None: an action's answer (a list), sent to the asking session whatever its read classes.
EVENT_CLASSES_NOT_CAPTURED: dict[str, str | None] = {
    "AgentRingNoAnswer": "agent",
    "ContactStatus": "system", "CoreShowChannel": None, "CoreShowChannelsComplete": None,
    "ContactList": None, "DeviceStateListComplete": None,
}
#: Classes each AMI action is registered with in Asterisk (main/manager.c); any one of them allows it.
ACTION_CLASSES: dict[str, set[str]] = {
    "Login": set(), "Logoff": set(), "Ping": set(), "Originate": {"originate"}, "Hangup": {"system", "call"},
    "Redirect": {"call"}, "Atxfer": {"call"}, "BlindTransfer": {"call"},
    "CoreShowChannels": {"system", "reporting"}, "Status": {"system", "call", "reporting"},
    # res/res_manager_devicestate.c and res/res_pjsip/pjsip_options.c of Asterisk 22.10.1.
    "DeviceStateList": {"call", "reporting"}, "PJSIPShowContacts": {"system"},
}
#: "system" is granted only because PJSIPShowContacts has no other class (manager.conf says why).
NEVER_WRITE = {"command", "config", "all"}
#: pjsip.conf options that name another object, and that object's type.
PJSIP_REFERENCES = {"aors": "aor", "auth": "auth", "outbound_auth": "auth", "transport": "transport",
                    "endpoint": "endpoint"}


# --- every file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CONF_FILES)
def test_file_parses_with_unique_sections_and_known_templates(name: str) -> None:
    sections = parse(name)
    assert sections, f"{name}: no sections"
    for index, sec in enumerate(sections):
        for parent in sec.parents:
            earlier = [s for s in sections[:index] if s.name == parent]
            assert len(earlier) == 1, f"{name}:{sec.lineno}: template {parent!r} must be defined once, before"
        twins = [s for s in sections if s.name == sec.name]
        if name == "pjsip.conf":  # one name may be an endpoint and an aor (phones register as 101@...)
            types = [tuple(resolved(name, s, "type")) for s in twins]
            assert len(set(types)) == len(types) and all(len(t) == 1 for t in types), f"pjsip [{sec.name}] types"
        else:
            assert len(twins) == 1, f"{name}:{sec.lineno}: [{sec.name}] defined {len(twins)} times"


@pytest.mark.parametrize("name", CONF_FILES)
def test_no_linkedid_variable(name: str) -> None:
    """``${LINKEDID}`` expands to "" in Asterisk; the call id is ``${CHANNEL(linkedid)}``."""
    for sec in parse(name):
        assert not any("${LINKEDID}" in e.value.upper() for e in sec.entries), f"{name} [{sec.name}]"


# --- the dialplan --------------------------------------------------------------------------------

def _asterisklint(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import os, sys; from asterisklint.main import main; sys.exit(main(sys.argv[1:], os.environ))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_asterisklint_reports_nothing() -> None:
    """asterisklint (dev dependency): apps exist, labels unique, Goto targets exist, no stray ``;``."""
    result = _asterisklint("dialplan-check", str(CONF / "extensions.conf"))
    assert "No module named 'asterisklint'" not in result.stderr, "pip install asterisklint (dev dependency)"
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_modules_conf_loads_every_module_the_dialplan_uses() -> None:
    result = _asterisklint("modules-show", str(CONF / "extensions.conf"))
    used = set(re.findall(r"^load => (\S+)$", result.stdout, re.M))
    modules = section("modules.conf", "modules")
    loaded = set(modules.values("load")) | set(modules.values("require"))
    assert used and used <= loaded, f"not loaded: {used - loaded}"
    assert {"res_agi.so", "app_mixmonitor.so", "app_queue.so", "res_pjsip.so", "chan_pjsip.so"} <= \
        set(modules.values("require"))
    assert {"cdr_manager.so", "cel_manager.so", "res_audiosocket.so", "app_audiosocket.so",
            "chan_audiosocket.so"} <= loaded
    assert not loaded & set(modules.values("noload"))


def test_every_goto_and_gosub_target_exists() -> None:
    checked = 0
    for step in dialplan():
        for target in targets(step):
            check_target(step, target)
            checked += 1
    assert checked > 10


def test_every_variable_read_is_set_global_asterisks_or_the_routers() -> None:
    steps, known = dialplan(), set(globals_())
    assigned = set().union(*(sets(s) for s in steps))
    read = set().union(*(reads(s) for s in steps))
    gosub_args = {name for name in read if re.fullmatch(r"ARG\d+", name)}
    assert read - assigned - known - ASTERISK_VARS - ORIGINATE_VARS - gosub_args == ROUTER_VARS
    assert not assigned & ROUTER_VARS, "the dialplan must not overwrite the router's answer"
    assert known <= read, f"globals never used: {known - read}"
    functions = {m for s in steps for m in re.findall(r"\$\{(\w+)\(", s.data)}
    functions |= {s.data.lstrip("_").split("(", 1)[0] for s in steps if s.app == "Set" and "(" in s.data.split("=")[0]}
    assert functions <= FUNCTIONS, f"unexpected functions: {functions - FUNCTIONS}"


def test_recordings_are_named_by_the_calls_linkedid() -> None:
    recorded = {s.context for s in dialplan() if s.app == "MixMonitor"}
    assert recorded == {"from-trunk", "from-internal", "perezvon-originate"}
    names: dict[tuple[str, str], set[str]] = {}
    for step in (s for s in dialplan() if s.app == "MixMonitor"):
        name, options = split_args(step.data)[:2]
        # The mixed file, and both sides apart as raw interleaved stereo (option D): recordings/register.py
        assert (name, options) in (("${RECORDINGS_DIR}/${CHANNEL(linkedid)}.wav", "b"),
                                   ("${RECORDINGS_DIR}/${CHANNEL(linkedid)}.raw", "bD")), step.lineno
        names.setdefault((step.context, step.exten), set()).add(name.rsplit(".", 1)[1])
    assert all(found == {"wav", "raw"} for found in names.values()), names


def test_calls_to_customers_are_recorded_and_show_the_shops_number() -> None:
    for dial in (s for s in dialplan() if s.app == "Dial" and "@${TRUNK}" in s.data):
        options = split_args(dial.data)[2]
        assert "b(perezvon-outbound-cid^s^1)" in options, f"line {dial.lineno}: shop caller ID"
        # A duty number, a self-check call: the shop's inbound call is recorded in from-trunk.
        if dial.context not in ("perezvon-fallback", "perezvon-selfcheck"):
            assert any(s.app == "MixMonitor" and (s.context, s.exten) == (dial.context, dial.exten)
                       and s.priority < dial.priority for s in dialplan()), f"line {dial.lineno}: not recorded"
    handler = [s for s in dialplan() if s.context == "perezvon-outbound-cid"]
    assert {s.data for s in handler if s.app == "Set"} == {"CONNECTEDLINE(num,i)=${SHOP_CALLERID}",
                                                            "CONNECTEDLINE(name,i)=${SHOP_CALLERID_NAME}"}


def test_queue_and_dial_options() -> None:
    for step in dialplan():
        if step.app == "Queue":
            assert split_args(step.data)[1] == "tr", "t: member may transfer; r: caller hears ringing"
        if step.app == "Dial" and step.context == "from-trunk":
            assert "t" in split_args(step.data)[2] and "T" not in split_args(step.data)[2], "only operators transfer"


# --- the contract with the FastAGI router ----------------------------------------------------------

def test_agi_script_and_arguments_match_the_contract() -> None:
    step = agi_step()
    url, *args = split_args(step.data)
    assert re.fullmatch(r"agi://\$\{PEREZVON_AGI\}/(\w+)", url), url
    assert url.rsplit("/", 1)[1] == agi_contract.ROUTE_SCRIPT
    assert len(args) == max(agi_contract.ARG_LINKEDID, agi_contract.ARG_DID, agi_contract.ARG_SECRET)
    assert args[agi_contract.ARG_LINKEDID - 1] == "${CHANNEL(linkedid)}"
    assert args[agi_contract.ARG_DID - 1] == "${" + agi_contract.VAR_DID + "}"
    assert args[agi_contract.ARG_SECRET - 1] == "${PEREZVON_AGI_SECRET}"
    before = [s for s in dialplan() if (s.context, s.exten) == (step.context, step.exten)][:step.priority - 1]
    assert any(s.app == "Set" and s.data == f"{agi_contract.VAR_DID}=${{EXTEN}}" for s in before)


def test_router_variables_are_read_only_after_the_agi() -> None:
    agi = agi_step()
    readers = [s for s in dialplan() if reads(s) & ROUTER_VARS]
    assert set().union(*(reads(s) & ROUTER_VARS for s in readers)) == ROUTER_VARS
    for step in readers:
        assert (step.context, step.exten) == (agi.context, agi.exten) and step.priority > agi.priority, step.lineno
    after = [s for s in dialplan() if (s.context, s.exten) == (agi.context, agi.exten) and s.priority > agi.priority]
    status_check = next(s for s in after if s.app == "GotoIf" and agi_contract.AGISTATUS in reads(s))
    first_dial = next(s for s in after if s.app in ("Dial", "Gosub"))
    assert status_check.priority < first_dial.priority, "check AGISTATUS before using the router's answer"
    assert not any(s.app == "Set" and s.data.startswith(agi_contract.VAR_CALLER_NAME) for s in after)


def _documented_fallback_kinds() -> set[str]:
    """Kinds in ``agi_contract.FALLBACK_KINDS`` if it exists, else in the comment beside VAR_FALLBACK."""
    declared = getattr(agi_contract, "FALLBACK_KINDS", None)
    if declared is not None:
        return {str(kind) for kind in declared}
    line = next(ln for ln in inspect.getsource(agi_contract).splitlines() if ln.startswith("VAR_FALLBACK"))
    return set(re.findall(r'"([a-z]+)(?::[^"]*)?"', line.split("#", 1)[1]))


def test_fallback_subroutine_handles_every_documented_kind() -> None:
    documented = _documented_fallback_kinds()
    assert documented and documented <= FALLBACK_KINDS, f"not handled: {documented - FALLBACK_KINDS}"
    fallback = [s for s in dialplan() if s.context == "perezvon-fallback"]
    assert {s.exten for s in fallback} == FALLBACK_KINDS | {"s"}
    dispatch = {s.data for s in fallback if s.exten == "s" and s.app == "GotoIf"}
    assert dispatch == {f'$["${{KIND}}" = "{kind}"]?{kind},1' for kind in FALLBACK_KINDS}
    gosubs = {s.data for s in dialplan() if s.app == "Gosub" and s.context == "from-trunk"}
    assert gosubs == {f"perezvon-fallback,s,1(${{{agi_contract.VAR_FALLBACK}}})",
                      "perezvon-fallback,s,1(queue:${DEFAULT_QUEUE})"}


# --- the AMI user and the other files -----------------------------------------------------------

def _captured_event_classes() -> dict[str, str]:
    classes: dict[str, str] = {}
    for path in [*CAPTURES.glob("*.ami"), *OUR_CAPTURES.glob("*.ami")]:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for event, privilege in re.findall(r"Event: (\w+)\r?\nPrivilege: (\w+)", text):
            classes[event] = privilege
    return classes


def test_ami_user_reads_exactly_the_classes_of_the_bridges_events() -> None:
    classes = {**_captured_event_classes(), **EVENT_CLASSES_NOT_CAPTURED}
    missing = set(ami_events.DECODERS) - set(classes)
    assert not missing, f"add the AMI class of {missing} here and in manager.conf"
    needed = {classes[event] for event in ami_events.DECODERS} - {None}
    user = section("manager.conf", "perezvon")
    assert set(user.values("read")[0].split(",")) == needed == {"system", "call", "agent", "dialplan", "cdr"}


def test_ami_user_writes_exactly_what_the_bridges_actions_need() -> None:
    def walk(cls: type[ami_actions.Action]) -> Iterator[type[ami_actions.Action]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    actions = {cls.name for cls in walk(ami_actions.Action)} | {"Atxfer", "BlindTransfer", "DeviceStateList",
                                                                 "PJSIPShowContacts"}
    write = set(section("manager.conf", "perezvon").values("write")[0].split(","))
    assert not write & NEVER_WRITE
    for action in actions:
        assert action in ACTION_CLASSES, f"add the AMI classes of {action} here (Asterisk's main/manager.c)"
        assert not ACTION_CLASSES[action] or ACTION_CLASSES[action] & write, f"{action} not allowed"
    assert write == {"originate", "call", "reporting", "system"}


def test_ami_listens_on_loopback_for_one_dedicated_user() -> None:
    general = section("manager.conf", "general")
    settings = {e.key: e.value for e in general.entries}
    assert settings | {"bindaddr": "127.0.0.1", "webenabled": "no", "timestampevents": "yes"} == settings
    assert [s.name for s in parse("manager.conf")] == ["general", "perezvon"]
    user = section("manager.conf", "perezvon")
    assert user.values("deny") == ["0.0.0.0/0.0.0.0"] and user.values("permit") == ["127.0.0.1/255.255.255.255"]


def test_names_the_dialplan_uses_exist_in_the_other_files() -> None:
    known = globals_()
    queue = section("queues.conf", known["DEFAULT_QUEUE"])
    assert queue.values("ringinuse") == ["no"] and queue.values("strategy") and queue.values("timeout")
    members = [m.split(",")[0] for m in queue.values("member")]
    assert members == ["PJSIP/101", "PJSIP/102", "PJSIP/103"]
    typed = {(s.name, resolved("pjsip.conf", s, "type")[0]): s for s in parse("pjsip.conf") if not s.template}
    operators = {(op, kind) for op in ("101", "102", "103") for kind in ("endpoint", "aor")}
    assert {(known["TRUNK"], "endpoint")} | operators <= set(typed)
    for (name, kind), sec in typed.items():
        for key, wanted in PJSIP_REFERENCES.items():
            for ref in (r.strip() for value in resolved("pjsip.conf", sec, key) for r in value.split(",")):
                assert (ref, wanted) in typed, f"pjsip [{name}] {key} = {ref}: no {wanted} of that name"
        if kind == "endpoint":
            assert resolved("pjsip.conf", sec, "direct_media") == ["no"], name
    assert known["GENERAL_MAILBOX"] in {e.key for e in section("voicemail.conf", "default").entries}
    assert section("features.conf", "featuremap").values("atxfer") == ["*2"]


def test_cdr_and_cel_feed_the_outage_backfill() -> None:
    assert section("cdr.conf", "general").values("unanswered") == ["yes"]
    assert section("cdr_manager.conf", "general").values("enabled") == ["yes"]
    assert section("cdr_manager.conf", "mappings").values("linkedid") == ["Linkedid"]
    cel = section("cel.conf", "general")
    assert cel.values("enable") == ["yes"]
    assert {"CHAN_START", "ANSWER", "HANGUP", "BRIDGE_ENTER", "LINKEDID_END"} <= set(cel.values("events")[0].split(","))
    for name in ("cdr_custom.conf", "cel_custom.conf"):
        assert "linkedid" in " ".join(section(name, "mappings").values(f"perezvon-{name[:3]}.csv"))
