"""Task pages over real HTTP: my tasks with overdue first, filters, completing, creating from a card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient

from crm import customers, tasks
from crm.customers import CustomerInput
from crm.database import Pool
from crm.tasks import TaskInput
from tests.conftest import MakeManager, login

Client = TestClient[web.Request, web.Application]


async def test_my_tasks_overdue_first_and_marked(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    other = await make_manager("operator")
    now = datetime.now(UTC)
    later = await tasks.create_task(pool, TaskInput(kind="follow_up", title="Позже", assignee_id=me.id,
                                                    due_at=now + timedelta(hours=3)), None)
    late = await tasks.create_task(pool, TaskInput(kind="callback", title="Просрочено", assignee_id=me.id,
                                                   due_at=now - timedelta(hours=1)), None)
    await tasks.create_task(pool, TaskInput(kind="custom", title="Чужая", assignee_id=other.id), None)
    await login(client, me)
    html = await (await client.get("/tasks")).text()
    assert html.index(f'data-task-id="{late.id}"') < html.index(f'data-task-id="{later.id}"')
    overdue_row = html[html.index(f'data-task-id="{late.id}"') - 40:html.index(f'data-task-id="{later.id}"')]
    assert "overdue" in overdue_row and "Просрочена" in overdue_row
    assert "Чужая" not in html
    home = await (await client.get("/")).text()
    assert "Просрочено" in home and "Позже" in home


async def test_filters_by_kind_and_status(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    await tasks.create_task(pool, TaskInput(kind="callback", title="Звонок", assignee_id=me.id), None)
    done = await tasks.create_task(pool, TaskInput(kind="custom", title="Сделано", assignee_id=me.id), None)
    await tasks.close_task(pool, done.id, me, result_note="ok")
    await login(client, me)
    html = await (await client.get("/tasks", params={"kind": "custom"})).text()
    assert "Звонок" not in html and "Сделано" not in html  # default status is open
    html = await (await client.get("/tasks", params={"kind": "custom", "status": "done"})).text()
    assert "Сделано" in html and "Звонок" not in html
    html = await (await client.get("/tasks", params={"status": "any"})).text()
    assert "Сделано" in html and "Звонок" in html


async def test_supervisor_sees_anyones_tasks_operator_does_not(client: Client, pool: Pool,
                                                               make_manager: MakeManager) -> None:
    supervisor = await make_manager("supervisor")
    operator = await make_manager("operator")
    await tasks.create_task(pool, TaskInput(kind="callback", title="Задача оператора", assignee_id=operator.id), None)
    await login(client, supervisor)
    assert "Задача оператора" not in await (await client.get("/tasks")).text()
    assert "Задача оператора" in await (await client.get("/tasks", params={"assignee": "all"})).text()
    html = await (await client.get("/tasks", params={"assignee": str(operator.id)})).text()
    assert "Задача оператора" in html


async def test_operator_cannot_pick_another_assignee(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    other = await make_manager("operator")
    await tasks.create_task(pool, TaskInput(kind="callback", title="Чужая задача", assignee_id=other.id), None)
    await login(client, me)
    for assignee in ("all", str(other.id)):
        assert "Чужая задача" not in await (await client.get("/tasks", params={"assignee": assignee})).text()


async def test_complete_task_with_result(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    task = await tasks.create_task(pool, TaskInput(kind="callback", title="Перезвонить", assignee_id=me.id), None)
    csrf = await login(client, me)
    response = await client.post(f"/tasks/{task.id}/complete", allow_redirects=False,
                                 data={"_csrf": csrf, "result_note": "дозвонился", "next": "/tasks"})
    assert response.status == 303 and response.headers["Location"] == "/tasks"
    closed = await tasks.get_task(pool, task.id)
    assert closed.status == "done" and closed.result_note == "дозвонился"
    response = await client.post(f"/tasks/{task.id}/complete", data={"_csrf": csrf})
    assert response.status == 409  # already closed


async def test_complete_redirect_stays_on_this_site(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    task = await tasks.create_task(pool, TaskInput(kind="callback", title="x", assignee_id=me.id), None)
    csrf = await login(client, me)
    response = await client.post(f"/tasks/{task.id}/complete", allow_redirects=False,
                                 data={"_csrf": csrf, "next": "//evil.example/"})
    assert response.headers["Location"] == "/tasks"


async def test_cannot_complete_another_operators_task(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    other = await make_manager("operator")
    task = await tasks.create_task(pool, TaskInput(kind="callback", title="x", assignee_id=other.id), None)
    csrf = await login(client, me)
    assert (await client.post(f"/tasks/{task.id}/complete", data={"_csrf": csrf})).status == 403
    assert (await tasks.get_task(pool, task.id)).status == "open"


async def test_complete_without_csrf_is_forbidden(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    task = await tasks.create_task(pool, TaskInput(kind="callback", title="x", assignee_id=me.id), None)
    await login(client, me)
    assert (await client.post(f"/tasks/{task.id}/complete", data={"result_note": "x"})).status == 403
    assert (await tasks.get_task(pool, task.id)).status == "open"


async def test_create_task_from_the_card(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    colleague = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент", responsible_manager_id=me.id))
    csrf = await login(client, me)
    response = await client.post(f"/customers/{customer.id}/tasks", allow_redirects=False, data={
        "_csrf": csrf, "kind": "follow_up", "title": "Уточнить адрес", "due_at": "2030-05-01T14:30",
        "assignee_id": str(colleague.id)})
    assert response.status == 303
    page = await tasks.list_tasks(pool, colleague, tasks.TaskFilter(customer_id=customer.id))
    [task] = page.items
    assert task.title == "Уточнить адрес" and task.kind == "follow_up" and task.assignee_id == colleague.id
    assert task.due_at == datetime(2030, 5, 1, 11, 30, tzinfo=UTC)  # entered in Moscow time


async def test_create_task_refusal_keeps_input(client: Client, pool: Pool, make_manager: MakeManager) -> None:
    me = await make_manager("operator")
    customer = await customers.create_customer(pool, CustomerInput(name="Клиент"))
    csrf = await login(client, me)
    response = await client.post(f"/customers/{customer.id}/tasks", data={
        "_csrf": csrf, "kind": "callback", "title": "", "due_at": "2030-05-01T14:30", "assignee_id": ""})
    assert response.status == 422
    html = await response.text()
    assert "название: обязательное поле" in html and 'value="2030-05-01T14:30"' in html
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 0
