-- Transcripts of call recordings (crm/transcripts/, the transcription jobs in web/jobs/transcription.py):
-- one per recording, its timed segments searchable in Russian and English, and what was found in them
-- (order numbers that link the call to the order, keywords that alert the supervisors, promises that
-- become a follow-up task the operator confirms).
CREATE TABLE transcripts (
    id               bigserial PRIMARY KEY,
    recording_id     bigint NOT NULL UNIQUE REFERENCES recordings (id) ON DELETE CASCADE,
    call_id          bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- queued: waiting for a worker; running: a worker (or `perezvon transcribe`) has it since started_at;
    -- done: segments stored; failed: the last attempt's error is kept, and it is retried until attempts run out.
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '' CHECK (length(error) <= 2000),
    engine           text NOT NULL DEFAULT '' CHECK (length(engine) <= 40),
    model            text NOT NULL DEFAULT '' CHECK (length(model) <= 300),
    language         text NOT NULL DEFAULT '' CHECK (length(language) <= 8),
    duration_s       double precision,
    elapsed_s        double precision,
    -- Order numbers spoken in the call that exist as orders; keywords heard (the configured ones).
    orders_mentioned text[] NOT NULL DEFAULT '{}',
    keywords_found   text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    done_at          timestamptz
);
CREATE INDEX transcripts_waiting ON transcripts (id) WHERE state <> 'done';
CREATE INDEX transcripts_call ON transcripts (call_id);

CREATE TABLE transcript_segments (
    transcript_id bigint NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    start_s       double precision NOT NULL CHECK (start_s >= 0),
    end_s         double precision NOT NULL CHECK (end_s >= start_s),
    speaker       text CHECK (speaker IN ('operator', 'customer')),
    text          text NOT NULL CHECK (length(text) <= 5000),
    -- Russian stems («возврата» finds «возврат») and English ones, in one vector.
    search        tsvector GENERATED ALWAYS AS (to_tsvector('russian', text) || to_tsvector('english', text)) STORED,
    PRIMARY KEY (transcript_id, position)
);
CREATE INDEX transcript_segments_search ON transcript_segments USING gin (search);

-- Words that flag a call and alert the supervisors when heard (matched by word start: «возврат» also
-- finds «возврата»); edited on the transcription settings page.
CREATE TABLE transcript_keywords (
    word       text PRIMARY KEY CHECK (word ~ '^[а-яёa-z0-9-]{3,40}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO transcript_keywords (word) VALUES ('жалоба'), ('жалобу'), ('возврат'), ('отмена'), ('отменить'), ('суд');

-- A keyword alert points at its call.
ALTER TABLE alerts ADD COLUMN call_id bigint REFERENCES calls (id) ON DELETE CASCADE;

-- "Перезвоню завтра": a follow-up the operator promised, proposed as a task they confirm (or dismiss).
CREATE TABLE task_suggestions (
    id            bigserial PRIMARY KEY,
    transcript_id bigint NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    call_id       bigint NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    -- Who is asked to confirm: the operator of the call (NULL: the supervisors).
    manager_id    bigint REFERENCES managers (id) ON DELETE SET NULL,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    phrase        text NOT NULL CHECK (length(phrase) <= 300),
    due_at        timestamptz,
    state         text NOT NULL DEFAULT 'suggested' CHECK (state IN ('suggested', 'accepted', 'dismissed')),
    task_id       bigint REFERENCES tasks (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (transcript_id, phrase)
);
CREATE INDEX task_suggestions_open ON task_suggestions (manager_id) WHERE state = 'suggested';
