-- The audit's daily roll-up (crm/audit_rollup.py): per day of the shop's time zone, what the audit counts over
-- that day's inbound calls, so a 30-day report sums 30 days of rows instead of reading every call. A day is
-- used only while it is clean: not flagged dirty and no mark in audit_dirty_hours overlaps it; otherwise the
-- audit reads that day from the calls, as it reads the partial days at the edges of a range.

-- One row per (zone, day): its bounds as PostgreSQL computed them (the calls rolled up are exactly those that
-- started in [day_start, day_end)), the day's totals, and its callbacks.
CREATE TABLE audit_rollup_days (
    zone               text NOT NULL,
    day                date NOT NULL,
    day_start          timestamptz NOT NULL,
    day_end            timestamptz NOT NULL CHECK (day_end > day_start),
    dirty              boolean NOT NULL DEFAULT true,
    rolled_at          timestamptz NOT NULL DEFAULT now(),
    inbound            integer NOT NULL DEFAULT 0,
    answered           integer NOT NULL DEFAULT 0,
    missed             integer NOT NULL DEFAULT 0,
    queued             integer NOT NULL DEFAULT 0,
    abandoned_in_queue integer NOT NULL DEFAULT 0,
    -- Answered calls by ring time: width_bucket(ring_s, {5,10,20,30,60}) 0..5, at index 1..6.
    answer_speed       integer[] NOT NULL DEFAULT '{0,0,0,0,0,0}',
    -- Callback tasks whose missed calls all started on this day (a task whose missed calls span days is
    -- listed in audit_rollup_spanning instead and counted from the tasks by the audit, once per range).
    cb_tasks           integer NOT NULL DEFAULT 0,
    cb_reached         integer NOT NULL DEFAULT 0,
    cb_on_time         integer NOT NULL DEFAULT 0,
    -- Seconds from each of those reached tasks' first missed call to the call that reached it (NULL where
    -- unknown), so the median and p90 over a range are exact.
    cb_delays          double precision[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (zone, day)
);
CREATE INDEX audit_rollup_days_start ON audit_rollup_days (zone, day_start);

-- Per dialled number.
CREATE TABLE audit_rollup_numbers (
    zone     text NOT NULL,
    day      date NOT NULL,
    did      text NOT NULL,
    inbound  integer NOT NULL,
    answered integer NOT NULL,
    missed   integer NOT NULL
);
CREATE INDEX audit_rollup_numbers_day ON audit_rollup_numbers (zone, day);

-- Missed calls per reason.
CREATE TABLE audit_rollup_reasons (
    zone   text NOT NULL,
    day    date NOT NULL,
    reason text NOT NULL,
    missed integer NOT NULL
);
CREATE INDEX audit_rollup_reasons_day ON audit_rollup_reasons (zone, day);

-- Missed calls per local hour and ISO weekday (a weekday is kept per row: a day's bounds and its calls' local
-- dates can disagree where a time zone jumps at midnight).
CREATE TABLE audit_rollup_hours (
    zone   text NOT NULL,
    day    date NOT NULL,
    hour   smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    dow    smallint NOT NULL CHECK (dow BETWEEN 1 AND 7),
    missed integer NOT NULL
);
CREATE INDEX audit_rollup_hours_day ON audit_rollup_hours (zone, day);

-- Per manager: calls taken (calls.manager_id), missed calls whose callback is theirs (tasks.assignee_id), and
-- their reached callbacks on time / late by the day of the task's last missed call (tasks.last_missed_at).
CREATE TABLE audit_rollup_managers (
    zone              text NOT NULL,
    day               date NOT NULL,
    manager_id        bigint NOT NULL,
    taken             integer NOT NULL,
    missed_assigned   integer NOT NULL,
    callbacks_on_time integer NOT NULL,
    callbacks_late    integer NOT NULL
);
CREATE INDEX audit_rollup_managers_day ON audit_rollup_managers (zone, day);

-- Callback tasks with missed calls on this day and on others (see cb_tasks).
CREATE TABLE audit_rollup_spanning (
    zone    text NOT NULL,
    day     date NOT NULL,
    task_id bigint NOT NULL
);
CREATE INDEX audit_rollup_spanning_day ON audit_rollup_spanning (zone, day);

-- UTC hours whose calls or callbacks changed: written by the triggers below in the writer's own transaction,
-- so no change is ever committed without its mark; crm/audit_rollup.py takes them and recomputes the days.
-- No unique key: a writer never waits for another's uncommitted mark of the same hour (nor deadlocks on it);
-- the minutely job takes them all, duplicates included.
CREATE TABLE audit_dirty_hours (hour timestamptz NOT NULL);
CREATE INDEX audit_dirty_hours_hour ON audit_dirty_hours (hour);

-- A reached call's start decides its task's figures: find the tasks it reached.
CREATE INDEX tasks_reached_call ON tasks (reached_call_id) WHERE reached_call_id IS NOT NULL;

-- The marks: the hours of the changed calls (`changed`: their old and new starts, inbound ones), and of the
-- callback tasks they belong to or reached (`tasks`): those tasks' inbound calls and their last missed call.
-- Statement-level triggers with transition tables: a bulk import pays once per statement, not once per row.
CREATE FUNCTION audit_calls_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH task_ids AS (SELECT DISTINCT n.callback_task_id AS id FROM new_rows n WHERE n.callback_task_id IS NOT NULL)
    INSERT INTO audit_dirty_hours (hour)
    SELECT date_trunc('hour', n.started_at, 'UTC') FROM new_rows n WHERE n.direction = 'inbound'
    UNION
    SELECT date_trunc('hour', c.started_at, 'UTC') FROM task_ids k JOIN calls c ON c.callback_task_id = k.id
    WHERE c.direction = 'inbound'
    UNION
    SELECT date_trunc('hour', t.last_missed_at, 'UTC') FROM task_ids k JOIN tasks t ON t.id = k.id
    WHERE t.last_missed_at IS NOT NULL;
    RETURN NULL;
END $$;

-- Any change of a row counts (whole rows compared, as JSON so any column type compares): a column the audit
-- reads, today's or a later migration's (a self-check run), is never missed; an update that changes nothing
-- (a replayed fact) marks nothing. Most updates come while the call is today's, which is never rolled up.
CREATE FUNCTION audit_calls_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT o.id, o.started_at AS old_start, n.started_at AS new_start, o.direction AS old_direction,
               n.direction AS new_direction, o.callback_task_id AS old_task, n.callback_task_id AS new_task
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
    ), task_ids AS (
        SELECT old_task AS id FROM changed WHERE old_task IS NOT NULL
        UNION SELECT new_task FROM changed WHERE new_task IS NOT NULL
        UNION SELECT t.id FROM changed ch JOIN tasks t ON t.reached_call_id = ch.id WHERE ch.old_start <> ch.new_start
    )
    INSERT INTO audit_dirty_hours (hour)
    SELECT date_trunc('hour', old_start, 'UTC') FROM changed WHERE old_direction = 'inbound'
    UNION
    SELECT date_trunc('hour', new_start, 'UTC') FROM changed WHERE new_direction = 'inbound'
    UNION
    SELECT date_trunc('hour', c.started_at, 'UTC') FROM task_ids k JOIN calls c ON c.callback_task_id = k.id
    WHERE c.direction = 'inbound'
    UNION
    SELECT date_trunc('hour', t.last_missed_at, 'UTC') FROM task_ids k JOIN tasks t ON t.id = k.id
    WHERE t.last_missed_at IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION audit_calls_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH task_ids AS (
        SELECT o.callback_task_id AS id FROM old_rows o WHERE o.callback_task_id IS NOT NULL
        UNION SELECT t.id FROM old_rows o JOIN tasks t ON t.reached_call_id = o.id
    )
    INSERT INTO audit_dirty_hours (hour)
    SELECT date_trunc('hour', o.started_at, 'UTC') FROM old_rows o WHERE o.direction = 'inbound'
    UNION
    SELECT date_trunc('hour', c.started_at, 'UTC') FROM task_ids k JOIN calls c ON c.callback_task_id = k.id
    WHERE c.direction = 'inbound'
    UNION
    SELECT date_trunc('hour', t.last_missed_at, 'UTC') FROM task_ids k JOIN tasks t ON t.id = k.id
    WHERE t.last_missed_at IS NOT NULL;
    RETURN NULL;
END $$;

-- A new task has no calls yet; a callback written already closed (an import) counts by its last missed call.
CREATE FUNCTION audit_tasks_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_dirty_hours (hour)
    SELECT DISTINCT date_trunc('hour', n.last_missed_at, 'UTC') FROM new_rows n
    WHERE n.kind = 'callback' AND n.last_missed_at IS NOT NULL;
    RETURN NULL;
END $$;

-- A task's change (its assignee, deadline, outcome, the call that reached it, when it was last missed...).
CREATE FUNCTION audit_tasks_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT n.id, o.last_missed_at AS old_missed, n.last_missed_at AS new_missed
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n)
    )
    INSERT INTO audit_dirty_hours (hour)
    SELECT date_trunc('hour', old_missed, 'UTC') FROM changed WHERE old_missed IS NOT NULL
    UNION
    SELECT date_trunc('hour', new_missed, 'UTC') FROM changed WHERE new_missed IS NOT NULL
    UNION
    SELECT date_trunc('hour', c.started_at, 'UTC') FROM changed k JOIN calls c ON c.callback_task_id = k.id
    WHERE c.direction = 'inbound';
    RETURN NULL;
END $$;

CREATE FUNCTION audit_tasks_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_dirty_hours (hour)
    SELECT date_trunc('hour', o.last_missed_at, 'UTC') FROM old_rows o WHERE o.last_missed_at IS NOT NULL
    UNION
    SELECT date_trunc('hour', c.started_at, 'UTC') FROM old_rows o JOIN calls c ON c.callback_task_id = o.id
    WHERE c.direction = 'inbound';
    RETURN NULL;
END $$;

-- Emptied tables: nothing rolled up is true any more.
CREATE FUNCTION audit_rollup_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE audit_rollup_days, audit_rollup_numbers, audit_rollup_reasons, audit_rollup_hours,
             audit_rollup_managers, audit_rollup_spanning, audit_dirty_hours;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_calls_inserted AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_calls_inserted();
CREATE TRIGGER audit_calls_updated AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_calls_updated();
CREATE TRIGGER audit_calls_deleted AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_calls_deleted();
CREATE TRIGGER audit_calls_truncated AFTER TRUNCATE ON calls FOR EACH STATEMENT EXECUTE FUNCTION audit_rollup_reset();
CREATE TRIGGER audit_tasks_inserted AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tasks_inserted();
CREATE TRIGGER audit_tasks_updated AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tasks_updated();
CREATE TRIGGER audit_tasks_deleted AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tasks_deleted();
CREATE TRIGGER audit_tasks_truncated AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION audit_rollup_reset();
