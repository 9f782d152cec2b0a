-- Click-to-call: what an operator asked for (the panel's call button, POST /api/v1/calls/originate), kept
-- so the call record the PBX produces is linked to the customer, task and order it was placed from.
-- The call id is chosen by perezvon and handed to Asterisk as the Originate's ChannelId, so the
-- first channel's Uniqueid, and therefore the call's Linkedid, is known before the phone rings.
CREATE TABLE click_to_call (
    id           bigserial PRIMARY KEY,
    linkedid     text NOT NULL UNIQUE CHECK (length(linkedid) BETWEEN 1 AND 64),
    manager_id   bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    extension    text NOT NULL CHECK (length(extension) BETWEEN 1 AND 40),
    -- The customer's number, E.164 ('+79161234567').
    phone        text NOT NULL CHECK (phone ~ '^\+[0-9]{6,15}$'),
    customer_id  bigint REFERENCES customers (id) ON DELETE SET NULL,
    task_id      bigint REFERENCES tasks (id) ON DELETE SET NULL,
    order_id     bigint REFERENCES orders (id) ON DELETE SET NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    -- queued: Asterisk accepted the Originate; refused: it did not (see `error`); pending: not sent yet.
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'queued', 'refused')),
    error        text NOT NULL DEFAULT '' CHECK (length(error) <= 500)
);
CREATE INDEX click_to_call_manager ON click_to_call (manager_id, requested_at DESC);

-- The task a call was placed from (a callback, a follow-up); the order is calls.order_id.
ALTER TABLE calls ADD COLUMN task_id bigint REFERENCES tasks (id) ON DELETE SET NULL;
CREATE INDEX calls_task ON calls (task_id) WHERE task_id IS NOT NULL;
