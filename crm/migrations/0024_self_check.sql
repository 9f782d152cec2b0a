-- Self-check calls (crm/self_check/): on a schedule, perezvon calls the shop's own number through the
-- trunk, as a customer would, and reports whether the shop answered, how fast, and whether the callback
-- of a missed test call was worked within the deadline. Test calls are marked and kept out of the figures.
CREATE TABLE self_check_settings (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled   boolean NOT NULL DEFAULT false,
    -- ISO weekdays (1 Monday .. 7 Sunday) and the local time (the shop's time zone) of the test call.
    weekdays  integer[] NOT NULL DEFAULT '{5}' CHECK (weekdays <@ '{1,2,3,4,5,6,7}'),
    at_time   time NOT NULL DEFAULT '17:45',
    -- The shop's number the test call dials through the trunk (digits as the provider expects them).
    did       text NOT NULL DEFAULT '' CHECK (did ~ '^[0-9]{0,20}$'),
    -- The number the test call arrives from (E.164): how perezvon recognises it coming back in.
    caller    text NOT NULL DEFAULT '' CHECK (caller = '' OR caller ~ '^\+[0-9]{6,15}$'),
    -- How long the test call stays on the line after the shop answers (it plays a short message).
    wait_s    integer NOT NULL DEFAULT 10 CHECK (wait_s BETWEEN 1 AND 120)
);
INSERT INTO self_check_settings DEFAULT VALUES;

CREATE TABLE self_check_runs (
    id              bigserial PRIMARY KEY,
    -- The scheduled moment it ran for (one run per moment, whichever instance got there); NULL: by hand.
    slot            timestamptz UNIQUE,
    requested_by    bigint REFERENCES managers (id) ON DELETE SET NULL,
    -- The Originate's ChannelId: the outgoing test call's Linkedid.
    linkedid        text NOT NULL UNIQUE CHECK (length(linkedid) BETWEEN 1 AND 64),
    did             text NOT NULL CHECK (did ~ '^[0-9]{1,20}$'),
    caller          text NOT NULL CHECK (caller ~ '^\+[0-9]{6,15}$'),
    wait_s          integer NOT NULL,
    -- pending: waiting for the instance holding the PBX connection; calling: the Originate is queued;
    -- refused: it could not be placed (error); answered / missed: the shop's call came back and ended so;
    -- no_call: the test call never reached the shop's number within the window (trunk or provider trouble).
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'calling', 'refused', 'answered', 'missed', 'no_call')),
    error           text NOT NULL DEFAULT '' CHECK (length(error) <= 500),
    created_at      timestamptz NOT NULL DEFAULT now(),
    placed_at       timestamptz,
    finished_at     timestamptz,
    -- The call the shop received (inbound, from `caller` to `did`), once it ended.
    inbound_call_id bigint REFERENCES calls (id) ON DELETE SET NULL,
    ring_s          double precision
);
CREATE INDEX self_check_runs_recent ON self_check_runs (created_at DESC);
CREATE INDEX self_check_runs_open ON self_check_runs (state) WHERE state IN ('pending', 'calling');

-- A test call (either leg) points at its run; every figure counts only calls where this is NULL.
ALTER TABLE calls ADD COLUMN self_check_run_id bigint REFERENCES self_check_runs (id) ON DELETE SET NULL;
CREATE INDEX calls_self_check ON calls (self_check_run_id) WHERE self_check_run_id IS NOT NULL;
