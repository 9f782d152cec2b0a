"""Tasks against a real PostgreSQL: creation, filters, role scoping, overdue-first order, closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm import customers, orders, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.errors import AccessDenied, Conflict, InvalidInput, NotFound
from crm.models import Manager, Task, TaskKind
from crm.orders import OrderInput
from crm.tasks import TaskFilter, TaskInput
from tests.conftest import MakeManager


async def _task(pool: Pool, title: str, *, assignee: Manager | None = None, due_in: timedelta | None = None,
                kind: TaskKind = "callback", created_by: int | None = None) -> Task:
    due = None if due_in is None else datetime.now(UTC) + due_in
    return await tasks.create_task(pool, TaskInput(kind=kind, title=title, due_at=due,
                                                   assignee_id=None if assignee is None else assignee.id),
                                   created_by)


async def _titles(pool: Pool, viewer: Manager, flt: TaskFilter | None = None) -> list[str]:
    page = await tasks.list_tasks(pool, viewer, flt or TaskFilter())
    return [t.title for t in page.items]


async def test_system_created_task_with_links(pool: Pool, make_manager: MakeManager) -> None:
    operator = await make_manager("operator", name="Борис Кузнецов")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", phones=("+79161234567",)))
    order = await orders.create_order(pool, OrderInput(number="A-7", customer_id=customer.id), None)
    due = datetime.now(UTC) + timedelta(minutes=5)
    task = await tasks.create_task(pool, TaskInput(
        kind="callback", title="  Перезвонить\x00 клиенту ", customer_id=customer.id, order_id=order.id,
        assignee_id=operator.id, due_at=due), None)
    assert task.created_by_id is None
    assert task.title == "Перезвонить клиенту" and task.kind == "callback" and task.status == "open"
    assert task.customer_name == "Клиент" and task.order_number == "A-7"
    assert task.assignee_name == "Борис Кузнецов" and task.due_at == due
    assert task.closed_at is None and task.result_note == ""
    assert await tasks.get_task(pool, task.id) == task


async def test_task_created_by_a_manager(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    task = await _task(pool, "Предложить скидку", kind="follow_up", created_by=head.id)
    assert task.created_by_id == head.id and task.assignee_id is None and task.due_at is None


@pytest.mark.parametrize("data", [
    TaskInput(kind="errand", title="x"),  # type: ignore[arg-type]
    TaskInput(kind="custom", title=" \x00 "),
    TaskInput(kind="custom", title="x" * 301),
    TaskInput(kind="custom", title="x", due_at=datetime(2030, 1, 1)),  # naive time
    TaskInput(kind="custom", title="x", customer_id=999999),
    TaskInput(kind="custom", title="x", order_id=999999),
    TaskInput(kind="custom", title="x", assignee_id=999999),
])
async def test_bad_tasks_are_refused(pool: Pool, data: TaskInput) -> None:
    with pytest.raises(InvalidInput):
        await tasks.create_task(pool, data, None)
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 0


async def test_filters_by_assignee_status_and_kind(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    anna = await make_manager("operator")
    boris = await make_manager("operator")
    await _task(pool, "anna callback", assignee=anna)
    await _task(pool, "anna custom", assignee=anna, kind="custom")
    await _task(pool, "boris follow", assignee=boris, kind="follow_up")
    await _task(pool, "nobody callback")
    done = await _task(pool, "anna done", assignee=anna)
    await tasks.close_task(pool, done.id, anna, result_note="дозвонились")

    assert set(await _titles(pool, head, TaskFilter(assignee_id=anna.id))) == {
        "anna callback", "anna custom", "anna done"}
    assert await _titles(pool, head, TaskFilter(unassigned=True)) == ["nobody callback"]
    assert await _titles(pool, head, TaskFilter(status="done")) == ["anna done"]
    assert set(await _titles(pool, head, TaskFilter(kind="callback"))) == {
        "anna callback", "nobody callback", "anna done"}
    assert await _titles(pool, head, TaskFilter(assignee_id=anna.id, status="open", kind="custom")) == [
        "anna custom"]
    assert await _titles(pool, head, TaskFilter(status="cancelled")) == []
    with pytest.raises(InvalidInput):
        await tasks.list_tasks(pool, head, TaskFilter(status="lost"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await tasks.list_tasks(pool, head, TaskFilter(kind="errand"))  # type: ignore[arg-type]


async def test_filter_by_customer(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("admin")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    await tasks.create_task(pool, TaskInput(kind="custom", title="his", customer_id=customer.id), None)
    await _task(pool, "other")
    assert await _titles(pool, head, TaskFilter(customer_id=customer.id)) == ["his"]


async def test_operator_sees_own_and_unassigned_supervisor_sees_all(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    admin = await make_manager("admin")
    anna = await make_manager("operator")
    boris = await make_manager("operator")
    await _task(pool, "anna's", assignee=anna)
    borises = await _task(pool, "boris's", assignee=boris)
    await _task(pool, "free")
    assert set(await _titles(pool, anna)) == {"anna's", "free"}
    assert set(await _titles(pool, boris)) == {"boris's", "free"}
    assert set(await _titles(pool, head)) == {"anna's", "boris's", "free"}
    assert set(await _titles(pool, admin)) == {"anna's", "boris's", "free"}
    # A filter cannot widen an operator's view.
    assert await _titles(pool, anna, TaskFilter(assignee_id=boris.id)) == []
    with pytest.raises(AccessDenied):
        await tasks.get_task(pool, borises.id, anna)
    assert (await tasks.get_task(pool, borises.id, head)).id == borises.id


async def test_overdue_first_then_by_due_time_then_closed(pool: Pool, make_manager: MakeManager) -> None:
    head = await make_manager("supervisor")
    closed_overdue = await _task(pool, "closed, was overdue", due_in=timedelta(hours=-5))
    await _task(pool, "open, no due time")
    await _task(pool, "open, due in 2h", due_in=timedelta(hours=2))
    await _task(pool, "overdue 10 min", due_in=timedelta(minutes=-10))
    await _task(pool, "open, due in 5 min", due_in=timedelta(minutes=5))
    await _task(pool, "overdue 3 h", due_in=timedelta(hours=-3))
    closed_later = await _task(pool, "closed, due later", due_in=timedelta(hours=1))
    await tasks.close_task(pool, closed_overdue.id, head)
    await tasks.close_task(pool, closed_later.id, head, status="cancelled")
    titles = await _titles(pool, head)
    assert titles[:5] == ["overdue 3 h", "overdue 10 min", "open, due in 5 min", "open, due in 2h",
                          "open, no due time"]
    assert set(titles[5:]) == {"closed, was overdue", "closed, due later"}
    page = await tasks.list_tasks(pool, head, TaskFilter(), limit=2)
    assert [t.title for t in page.items] == ["overdue 3 h", "overdue 10 min"] and page.has_more
    rest = await tasks.list_tasks(pool, head, TaskFilter(), limit=5, offset=5)
    assert len(rest.items) == 2 and not rest.has_more
    now = datetime.now(UTC)
    overdue = [t.title for t in (await tasks.list_tasks(pool, head, TaskFilter())).items if t.is_overdue(now)]
    assert overdue == ["overdue 3 h", "overdue 10 min"]


async def test_close_once_then_conflict(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    task = await _task(pool, "Перезвонить", assignee=anna)
    closed = await tasks.close_task(pool, task.id, anna, result_note="Клиент\r\nподтвердил\x00")
    assert closed.status == "done" and closed.result_note == "Клиент\nподтвердил"
    assert closed.closed_at is not None
    with pytest.raises(Conflict):
        await tasks.close_task(pool, task.id, anna, result_note="ещё раз")
    with pytest.raises(Conflict):
        await tasks.close_task(pool, task.id, anna, status="cancelled")
    assert await tasks.get_task(pool, task.id) == closed


async def test_cancel_and_bad_close_status(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    task = await _task(pool, "Перезвонить")  # unassigned: any operator may close it
    with pytest.raises(InvalidInput):
        await tasks.close_task(pool, task.id, anna, status="open")
    cancelled = await tasks.close_task(pool, task.id, anna, status="cancelled")
    assert cancelled.status == "cancelled"
    with pytest.raises(NotFound):
        await tasks.close_task(pool, 999999, anna)


async def test_operator_cannot_close_someone_elses_task(pool: Pool, make_manager: MakeManager) -> None:
    anna = await make_manager("operator")
    boris = await make_manager("operator")
    head = await make_manager("supervisor")
    task = await _task(pool, "Борис перезвонит", assignee=boris)
    with pytest.raises(AccessDenied):
        await tasks.close_task(pool, task.id, anna)
    assert (await tasks.get_task(pool, task.id)).status == "open"
    assert (await tasks.close_task(pool, task.id, head, result_note="закрыл руководитель")).status == "done"
