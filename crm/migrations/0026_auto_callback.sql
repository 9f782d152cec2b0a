-- Auto-callback (crm/auto_callback.py, off by default): when a callback task's assignee is online and free,
-- perezvon places the callback itself through the click-to-call path (their phone first, then the customer),
-- within working hours, at most `auto_max_attempts` times per task, `auto_spacing_minutes` apart.
ALTER TABLE callback_settings ADD COLUMN auto_callback boolean NOT NULL DEFAULT false;
ALTER TABLE callback_settings ADD COLUMN auto_max_attempts integer NOT NULL DEFAULT 3
    CHECK (auto_max_attempts BETWEEN 1 AND 20);
ALTER TABLE callback_settings ADD COLUMN auto_spacing_minutes integer NOT NULL DEFAULT 10
    CHECK (auto_spacing_minutes BETWEEN 1 AND 1440);

-- Every callback perezvon placed by itself, with the call it became (click_to_call.linkedid) or why it
-- could not be placed. The calls themselves are logged on the task as any callback attempt is.
CREATE TABLE auto_callback_attempts (
    id       bigserial PRIMARY KEY,
    task_id  bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    manager_id bigint REFERENCES managers (id) ON DELETE SET NULL,
    linkedid text CHECK (length(linkedid) <= 64),
    error    text NOT NULL DEFAULT '' CHECK (length(error) <= 500),
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auto_callback_attempts_task ON auto_callback_attempts (task_id, at DESC);
