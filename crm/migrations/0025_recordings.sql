-- Call recordings: the files MixMonitor writes (named from the call's Linkedid), verified, checksummed and
-- kept in a dated layout under the storage directory; each row links the file to its call, the customer and
-- the customer's order. Files are never overwritten and never lost: what cannot be registered is either left
-- where it is (a file for a call we do not know) or moved to the quarantine directory, and listed in
-- recording_problems for the admins.

CREATE TABLE recordings (
    id          bigserial PRIMARY KEY,
    -- Never cascades: a recording row is how we know where a file is.
    call_id     bigint NOT NULL REFERENCES calls (id),
    customer_id bigint REFERENCES customers (id) ON DELETE SET NULL,
    order_id    bigint REFERENCES orders (id) ON DELETE SET NULL,
    -- mixed: both sides in one file (<Linkedid>.wav); operator / customer: one side (MixMonitor's r() / t()
    -- files); stereo: both sides apart in two channels (option D's .raw, converted).
    kind        text NOT NULL CHECK (kind IN ('mixed', 'operator', 'customer', 'stereo')),
    -- Stereo: who is on the first (left) channel; the other side is on the second.
    left_party  text CHECK (left_party IN ('operator', 'customer')),
    -- Relative to the storage directory (or the archive directory once archived): YYYY/MM/DD/NAME.wav.
    path        text NOT NULL CHECK (path ~ '^[0-9]{4}/[0-9]{2}/[0-9]{2}/[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.wav$'
                                     AND path !~ '\.\.'),
    bytes       bigint NOT NULL CHECK (bytes > 0),
    duration_s  double precision NOT NULL CHECK (duration_s >= 0),
    sample_rate integer NOT NULL CHECK (sample_rate > 0),
    channels    smallint NOT NULL CHECK (channels BETWEEN 1 AND 8),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- What was odd but still registered: truncated (the header promised more), unfinished (the header was
    -- never completed), duration_differs (from the call's talk time).
    issues      text[] NOT NULL DEFAULT '{}',
    -- Marked by a supervisor: never archived or deleted by the retention.
    keep        boolean NOT NULL DEFAULT false,
    kept_by     bigint REFERENCES managers (id) ON DELETE SET NULL,
    -- The call's start: the date of the layout and the age the retention counts.
    recorded_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- stored: under the storage directory; archived: moved under the archive directory; deleted: gone (the row
    -- stays as the record of what there was).
    state       text NOT NULL DEFAULT 'stored' CHECK (state IN ('stored', 'archived', 'deleted')),
    state_at    timestamptz,
    UNIQUE (call_id, kind)
);
CREATE INDEX recordings_order ON recordings (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX recordings_customer ON recordings (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX recordings_stored_age ON recordings (recorded_at, id) WHERE state = 'stored';

-- Where the call's recording stands: none (none expected, e.g. an unanswered call's header-only file was
-- dropped), pending (looked for, not there yet), registered, missing (the wait is over and no usable file
-- came), corrupt (a file came but holds no readable audio: it is in the quarantine).
ALTER TABLE calls ADD COLUMN recording_state text NOT NULL DEFAULT 'none'
    CHECK (recording_state IN ('none', 'pending', 'registered', 'missing', 'corrupt'));
CREATE INDEX calls_recording_flagged ON calls (ended_at DESC) WHERE recording_state IN ('pending', 'missing', 'corrupt');

-- Files that could not be registered, for the admins: unknown_call (left in the recordings directory),
-- corrupt / empty (moved to the quarantine), refused (a name that would leave the directory, a symlink,
-- not a plain file, or a second different file for a recording already registered: left in place).
CREATE TABLE recording_problems (
    id              bigserial PRIMARY KEY,
    -- The file's name as found (control characters replaced), or the call id a name was refused for.
    file_name       text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 300),
    kind            text NOT NULL CHECK (kind IN ('unknown_call', 'corrupt', 'empty', 'refused')),
    detail          text NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
    call_id         bigint REFERENCES calls (id) ON DELETE SET NULL,
    -- Relative to the quarantine directory, when the file was moved there.
    quarantine_path text CHECK (length(quarantine_path) <= 300),
    bytes           bigint,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE UNIQUE INDEX recording_problems_open ON recording_problems (file_name) WHERE resolved_at IS NULL;
