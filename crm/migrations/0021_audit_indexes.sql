-- The audit's reads: a missed call's callback task (and back), callbacks by when they were missed.
CREATE INDEX calls_callback_task ON calls (callback_task_id) WHERE callback_task_id IS NOT NULL;
CREATE INDEX tasks_callbacks_by_missed ON tasks (last_missed_at) WHERE kind = 'callback';
-- Inbound calls by start with what the audit counts: its passes over a range read the index alone.
CREATE INDEX calls_inbound_audit ON calls (started_at)
    INCLUDE (outcome, reason, did, manager_id, ring_s, queue, callback_task_id)
    WHERE direction = 'inbound';
