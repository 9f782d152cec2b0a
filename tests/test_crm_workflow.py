"""The status workflow as pure rules: no database, just `StatusWorkflow` built from data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.errors import ForbiddenTransition, InvalidInput
from crm.models import OrderStatus
from crm.workflow import StatusWorkflow


def _status(code: str, position: int, *, initial: bool = False, final: bool = False) -> OrderStatus:
    return OrderStatus(code=code, position=position, title_ru=code.upper(), title_en=code.title(),
                       time_limit=None if final else timedelta(hours=1), is_final=final, is_initial=initial)


# Deliberately listed out of order: the workflow sorts by position, then code.
STATUSES = (
    _status("paid", 30),
    _status("cancelled", 90, final=True),
    _status("draft", 10, initial=True),
    _status("packed", 40),
    _status("archived", 90, final=True),
    _status("done", 50, final=True),
)
EDGES = (("draft", "paid"), ("draft", "cancelled"), ("draft", "archived"), ("paid", "packed"),
         ("paid", "cancelled"), ("packed", "done"), ("done", "archived"))


def _workflow() -> StatusWorkflow:
    return StatusWorkflow.build(STATUSES, EDGES)


def test_build_orders_statuses_by_position_then_code() -> None:
    workflow = _workflow()
    assert [s.code for s in workflow.statuses] == ["draft", "paid", "packed", "done", "archived", "cancelled"]
    assert workflow.initial.code == "draft"
    assert workflow.transitions == frozenset(EDGES)


def test_next_statuses_follow_workflow_order() -> None:
    workflow = _workflow()
    assert [s.code for s in workflow.next_statuses("draft")] == ["paid", "archived", "cancelled"]
    assert [s.code for s in workflow.next_statuses("paid")] == ["packed", "cancelled"]
    assert workflow.next_statuses("cancelled") == ()
    assert workflow.next_statuses("nonexistent") == ()


def test_allowed_transitions_pass() -> None:
    workflow = _workflow()
    for source, target in EDGES:
        workflow.check_transition(source, target)


def test_forbidden_transition_names_the_allowed_ones() -> None:
    workflow = _workflow()
    with pytest.raises(ForbiddenTransition) as info:
        workflow.check_transition("draft", "done")
    assert info.value.message == "an order in status 'draft' cannot move to 'done'; allowed: paid, archived, cancelled"
    with pytest.raises(ForbiddenTransition, match=r"allowed: none \(final status\)$"):
        workflow.check_transition("cancelled", "draft")
    with pytest.raises(ForbiddenTransition):
        workflow.check_transition("paid", "paid")


def test_unknown_codes_are_invalid_input_not_forbidden() -> None:
    workflow = _workflow()
    with pytest.raises(InvalidInput, match="unknown order status 'flying'"):
        workflow.check_transition("draft", "flying")
    with pytest.raises(InvalidInput, match="unknown order status"):
        workflow.check_transition("flying", "draft")
    with pytest.raises(InvalidInput):
        workflow.status("x" * 1000)
    assert workflow.status("paid").title("ru") == "PAID"
    assert workflow.status("paid").title("en") == "Paid"


def test_build_refuses_transitions_to_unknown_statuses() -> None:
    with pytest.raises(InvalidInput, match="unknown statuses: ghost, phantom"):
        StatusWorkflow.build(STATUSES, EDGES + (("draft", "ghost"), ("phantom", "paid")))


@pytest.mark.parametrize("statuses", [
    tuple(s for s in STATUSES if not s.is_initial) + (_status("draft", 10),),
    STATUSES + (_status("second_start", 5, initial=True),),
    (),
])
def test_build_needs_exactly_one_initial_status(statuses: tuple[OrderStatus, ...]) -> None:
    with pytest.raises(InvalidInput, match="exactly one initial status"):
        StatusWorkflow.build(statuses, ())


def test_build_accepts_any_iterables() -> None:
    workflow = StatusWorkflow.build(iter(STATUSES), (edge for edge in EDGES))
    assert len(workflow.statuses) == len(STATUSES) and len(workflow.transitions) == len(EDGES)
