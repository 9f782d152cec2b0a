-- Call records: one `calls` row per Asterisk Linkedid, one `call_legs` row per device the call
-- tried (an operator's phone or an external number), both written idempotently from the call
-- tracker's facts. Every timestamp comes from the PBX event, never from now(), so replaying the
-- same facts leaves the tables unchanged.

-- 'unknown': a leg fact arrived for a call whose CallStarted was lost (e.g. a write that failed);
-- the call's CallEnded (or a late CallStarted) sets the real direction.
ALTER TABLE calls DROP CONSTRAINT calls_direction_check;
ALTER TABLE calls ADD CONSTRAINT calls_direction_check
    CHECK (direction IN ('inbound', 'outbound', 'internal', 'unknown'));

ALTER TABLE calls
    -- The customer's number in E.164 when it parses (the caller inbound, the number dialled
    -- outbound); `caller` / `callee` keep the raw values (e.g. 'anonymous').
    ADD COLUMN customer_e164        text CHECK (customer_e164 ~ '^\+[1-9][0-9]{6,14}$'),
    -- The operator the call belongs to: who answered an inbound call, who placed an outbound one.
    ADD COLUMN operator_extension   text NOT NULL DEFAULT '',
    -- Operator extension (inbound, internal) or external number (outbound) that answered.
    ADD COLUMN answered_by          text NOT NULL DEFAULT '',
    ADD COLUMN hung_up_by           text CHECK (hung_up_by IN ('customer', 'operator', 'pbx')),
    ADD COLUMN hung_up_by_extension text NOT NULL DEFAULT '',
    -- Waiting time (until answer, or the whole call when missed) and talk time, in seconds.
    ADD COLUMN ring_s               double precision CHECK (ring_s >= 0),
    ADD COLUMN talk_s               double precision CHECK (talk_s >= 0),
    ADD COLUMN click_to_call        boolean NOT NULL DEFAULT false,
    -- First seen through a resync after a bridge restart (started before we looked).
    ADD COLUMN resynced             boolean NOT NULL DEFAULT false,
    ADD COLUMN queue                text NOT NULL DEFAULT '',
    ADD COLUMN queue_hold_s         double precision CHECK (queue_hold_s >= 0),
    ADD COLUMN transfer_kind        text CHECK (transfer_kind IN ('blind', 'attended')),
    ADD COLUMN transferred_from     text NOT NULL DEFAULT '',
    ADD COLUMN transferred_to       text NOT NULL DEFAULT '';

-- A missed call's reason is a slug (no_answer, busy, abandoned, queue_timeout, unavailable, rejected,
-- failed); the tracker may learn new ones, so only the shape is checked here.
ALTER TABLE calls ADD CONSTRAINT calls_reason_check CHECK (reason ~ '^[a-z_]{0,32}$');

CREATE INDEX calls_customer_e164 ON calls (customer_e164, started_at DESC);
CREATE INDEX calls_manager ON calls (manager_id, started_at DESC);

CREATE TABLE call_legs (
    id          bigserial PRIMARY KEY,
    call_id     bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- Asterisk's channel name, e.g. 'PJSIP/101-00000001': unique within one call.
    channel     text NOT NULL CHECK (length(channel) BETWEEN 1 AND 200),
    -- The operator's extension for an operator leg, the external number for a trunk leg.
    extension   text,
    number      text,
    -- The manager the extension belonged to when the leg rang.
    manager_id  bigint REFERENCES managers (id) ON DELETE SET NULL,
    ringing_at  timestamptz,
    answered_at timestamptz,
    ended_at    timestamptz,
    -- Asterisk's DialStatus (ANSWER, NOANSWER, BUSY, CANCEL, CHANUNAVAIL...), '' while live.
    dial_status text NOT NULL DEFAULT '',
    ring_s      double precision CHECK (ring_s >= 0),
    -- What the leg came to; NULL while it is still ringing or talking.
    result      text CHECK (result IN ('answered', 'answered_elsewhere', 'no_answer', 'busy', 'rejected',
                                       'unavailable', 'cancelled', 'failed')),
    UNIQUE (call_id, channel)
);
-- "Calls that rang me": the operator's journal scope.
CREATE INDEX call_legs_manager ON call_legs (manager_id, call_id);
