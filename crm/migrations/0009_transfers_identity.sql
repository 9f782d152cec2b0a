-- Every transfer of a call, in order, and who the call ended up with; the caller's identity as sent.
--
-- A call may be transferred several times (101 -> 102 -> 103). `calls.answered_by` keeps who answered
-- first; `calls.operator_extension` / `manager_id` become whoever took the last transfer (the call's
-- callback and recording belong to them). One row per transfer, numbered by `seq` from 1.
CREATE TABLE call_transfers (
    call_id        bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq            integer NOT NULL CHECK (seq >= 1),
    at             timestamptz NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('blind', 'attended')),
    from_extension text NOT NULL DEFAULT '',
    -- What was dialled (extension, group, number); '' when Asterisk did not say.
    target         text NOT NULL DEFAULT '',
    -- The person who took the call (extension or number); '' when nobody did.
    taken_by       text NOT NULL DEFAULT '',
    result         text NOT NULL CHECK (result IN ('completed', 'busy', 'no_answer', 'failed', 'abandoned')),
    PRIMARY KEY (call_id, seq)
);

-- The caller-ID name the network sent (before the router renamed it for the operator's phone), bounded
-- and without control characters, and the presentation: 'allowed', 'restricted' (the caller hid the
-- number: the network may still pass it), 'anonymous' (no number at all). '' when not known.
ALTER TABLE calls ADD COLUMN caller_name text NOT NULL DEFAULT '' CHECK (length(caller_name) <= 80);
ALTER TABLE calls ADD COLUMN caller_presentation text NOT NULL DEFAULT ''
    CHECK (caller_presentation IN ('', 'allowed', 'restricted', 'anonymous'));
