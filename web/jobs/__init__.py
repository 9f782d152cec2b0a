"""Background work on the job queue (procrastinate, on perezvon's PostgreSQL).

- `queue`: the procrastinate app and its tasks (what runs later or repeatedly: a missed call's
  callback task, deadline checks and escalations);
- `runtime`: the worker inside `perezvon serve` and the `perezvon worker` command, the link from the
  call recorder (a call that ended becomes a job), and the admins' view of the queue.

Jobs survive restarts (they are rows), are retried with backoff, and a queueing lock per call keeps one
waiting job per event; the work itself is idempotent (crm/callbacks.py), so a retry or a second worker
never counts a call twice. Periodic jobs run once per period across any number of workers (procrastinate
records each period it deferred).
"""
