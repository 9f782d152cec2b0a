-- No missed call forgotten: one open callback task per number, kept up to date by every missed call from
-- it, closed by the first answered call with it (crm/callbacks.py).
ALTER TABLE tasks ADD COLUMN phone text CHECK (phone ~ '^\+[0-9]{6,15}$');
ALTER TABLE tasks ADD COLUMN missed_calls integer NOT NULL DEFAULT 0 CHECK (missed_calls >= 0);
ALTER TABLE tasks ADD COLUMN last_missed_at timestamptz;
-- 0 normal; each repeat missed call raises it (the list shows the most insistent callers first).
ALTER TABLE tasks ADD COLUMN priority integer NOT NULL DEFAULT 0;
-- How it was closed: 'reached' (an answered call with the number), or by hand ('' = not closed yet).
ALTER TABLE tasks ADD COLUMN outcome text NOT NULL DEFAULT '' CHECK (outcome IN ('', 'reached', 'manual'));
ALTER TABLE tasks ADD COLUMN reached_call_id bigint REFERENCES calls (id) ON DELETE SET NULL;
-- One open callback per number, whatever runs it (any worker, twice, after a restart).
CREATE UNIQUE INDEX tasks_one_open_callback_per_phone ON tasks (phone) WHERE kind = 'callback' AND status = 'open';
CREATE INDEX tasks_open_due ON tasks (due_at) WHERE status = 'open';

-- Attempts to call back that did not reach the customer: logged on the task, which stays open.
CREATE TABLE callback_attempts (
    id      bigserial PRIMARY KEY,
    task_id bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    call_id bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL,
    result  text NOT NULL CHECK (length(result) <= 32),
    UNIQUE (task_id, call_id)
);

CREATE TABLE callback_settings (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- Due this many working minutes after the missed call (a call at 23:40 is due 5 minutes after opening).
    deadline_minutes integer NOT NULL DEFAULT 5 CHECK (deadline_minutes BETWEEN 1 AND 10080),
    -- Calls abandoned after ringing less than this are counted but get no task (when exclude_short).
    short_ring_s     integer NOT NULL DEFAULT 3 CHECK (short_ring_s BETWEEN 0 AND 60),
    exclude_short    boolean NOT NULL DEFAULT true,
    -- Closing a callback by hand needs a result note; and, when set, a next-contact date.
    require_next_contact boolean NOT NULL DEFAULT false
);
INSERT INTO callback_settings DEFAULT VALUES;

-- One alert per cause: an overdue callback raises one, its escalation another, never twice.
ALTER TABLE alerts ADD COLUMN cause text;
ALTER TABLE alerts ADD COLUMN level integer NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX alerts_one_per_cause ON alerts (cause) WHERE cause IS NOT NULL;

-- Each missed call is counted on its callback task once, however often the job runs.
ALTER TABLE calls ADD COLUMN callback_task_id bigint REFERENCES tasks (id) ON DELETE SET NULL;

-- Why a job failed (procrastinate keeps the status, not the error): the admins' queue page shows it.
CREATE TABLE job_failures (
    id        bigserial PRIMARY KEY,
    job_id    bigint,
    task_name text NOT NULL,
    attempt   integer NOT NULL,
    error     text NOT NULL CHECK (length(error) <= 2000),
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_failures_at ON job_failures (at DESC);
