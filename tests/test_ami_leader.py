"""Two instances on one database: exactly one leads (holds the AMI connection); when it goes, the other takes over."""

from __future__ import annotations

import asyncio

import asyncpg

from web.ami_leader import AMI_LOCK_KEY, AmiLeadership


class Leading:
    """A stand-in for the AMI client's term: says when it starts and when it is stopped."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.Future()
        finally:
            self.stopped.set()


async def test_one_instance_leads_and_the_other_takes_over_when_it_dies(db_dsn: str) -> None:
    first, second = Leading(), Leading()
    a = AmiLeadership(db_dsn, first, retry_s=0.05, keepalive_s=0.2)
    b = AmiLeadership(db_dsn, second, retry_s=0.05, keepalive_s=0.2)
    task_a = asyncio.create_task(a.run())
    async with asyncio.timeout(10):
        await first.started.wait()
    task_b = asyncio.create_task(b.run())
    try:
        # b is on standby: it keeps asking for the lock that a's connection holds.
        async with asyncio.timeout(10):
            await b.saw_other_leader.wait()
        assert a.held and not b.held and not second.started.is_set()
        admin = await asyncpg.connect(db_dsn)
        try:
            # a's connection dies as a crashed process's would: PostgreSQL drops its lock with it.
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND objid = ($1::bigint & x'ffffffff'::bigint)::oid", AMI_LOCK_KEY)
        finally:
            await admin.close()
        async with asyncio.timeout(10):
            await first.stopped.wait()
            await second.started.wait()
        assert b.held and b.terms == 1
    finally:
        for task in (task_a, task_b):
            task.cancel()
        await asyncio.gather(task_a, task_b, return_exceptions=True)
