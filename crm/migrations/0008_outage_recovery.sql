-- Calls made while the bridge was down: Asterisk's own CDRs, the bridge's heartbeat, and its gaps.
--
-- pbx_cdr is written by Asterisk itself (cdr_pgsql, asterisk-conf/cdr_pgsql.conf), never by perezvon.
-- cdr_pgsql reads this table's columns once, when the module loads, and fills every column named after a
-- CDR field or CDR variable; columns it has no value for (id, received_at) are left to their defaults.
-- The times and durations are float8 on purpose: for a float column cdr_pgsql writes epoch seconds with
-- microseconds, for a text or timestamp column the server's local time in whole seconds with no zone.
-- The table must exist before Asterisk starts (no table: cdr_pgsql declines to load).
CREATE TABLE pbx_cdr (
    id          bigserial PRIMARY KEY,
    -- The call id perezvon keys calls by (CDR(linkedid)); uniqueid is party A's channel.
    linkedid    text NOT NULL DEFAULT '',
    uniqueid    text NOT NULL DEFAULT '',
    sequence    integer,
    start       double precision,
    -- 0 when the pair never answered.
    answer      double precision,
    "end"       double precision,
    duration    double precision,
    billsec     double precision,
    -- ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION.
    disposition text NOT NULL DEFAULT '',
    clid        text NOT NULL DEFAULT '',
    src         text NOT NULL DEFAULT '',
    dst         text NOT NULL DEFAULT '',
    dcontext    text NOT NULL DEFAULT '',
    channel     text NOT NULL DEFAULT '',
    dstchannel  text NOT NULL DEFAULT '',
    lastapp     text NOT NULL DEFAULT '',
    lastdata    text NOT NULL DEFAULT '',
    accountcode text NOT NULL DEFAULT '',
    userfield   text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pbx_cdr_linkedid ON pbx_cdr (linkedid);
-- The backfill reads the rows of calls that ended after the bridge lost the AMI.
CREATE INDEX pbx_cdr_end ON pbx_cdr ("end");

-- A call whose record was built (or completed) from pbx_cdr after an outage, not from live AMI events.
ALTER TABLE calls ADD COLUMN recovered boolean NOT NULL DEFAULT false;

-- The last moment the bridge was connected to the PBX's AMI (written every few seconds while it is),
-- so that a service stopped for hours knows after its restart since when it saw nothing.
CREATE TABLE pbx_link (
    name              text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    last_connected_at timestamptz NOT NULL
);

-- Every time the bridge was without AMI: from its last heartbeat to the next login, and what the
-- backfill found in pbx_cdr (calls it never saw, calls it saw only in part).
CREATE TABLE pbx_gaps (
    id              bigserial PRIMARY KEY,
    lost_at         timestamptz NOT NULL,
    regained_at     timestamptz NOT NULL CHECK (regained_at >= lost_at),
    -- NULL until the backfill of this gap finished (or when it failed: see error).
    backfilled_at   timestamptz,
    calls_recovered integer NOT NULL DEFAULT 0 CHECK (calls_recovered >= 0),
    calls_completed integer NOT NULL DEFAULT 0 CHECK (calls_completed >= 0),
    error           text NOT NULL DEFAULT '' CHECK (length(error) <= 500)
);
CREATE INDEX pbx_gaps_recent ON pbx_gaps (regained_at DESC);
