-- Customer notices: what the shop tells a customer by SMS or messenger through one gateway (a missed call
-- will be returned; an order moved to a status). The texts and quiet hours are the admin's; the gateway is
-- configured in the environment (PEREZVON_NOTICE_*), like SMTP, because it carries a secret.
CREATE TABLE notice_settings (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- What {shop} says in the texts.
    shop_name       text NOT NULL DEFAULT '' CHECK (length(shop_name) <= 100),
    -- Local times in the shop's zone (PEREZVON_TIMEZONE); start > end crosses midnight (21:00-09:00).
    -- A notice due inside them is held and sent when they end.
    quiet_enabled   boolean NOT NULL DEFAULT true,
    quiet_start     time NOT NULL DEFAULT '21:00',
    quiet_end       time NOT NULL DEFAULT '09:00',
    CHECK (NOT quiet_enabled OR quiet_start <> quiet_end),
    -- "We missed your call and will call you back within N minutes": off until an admin switches it on.
    missed_enabled  boolean NOT NULL DEFAULT false,
    missed_template text NOT NULL
        DEFAULT 'Мы пропустили ваш звонок и перезвоним в течение {minutes} мин.'
        CHECK (length(missed_template) BETWEEN 1 AND 500),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO notice_settings DEFAULT VALUES;

-- The text an order's customer gets when the order moves to the status; a status without a row sends none.
CREATE TABLE notice_templates (
    status     text PRIMARY KEY REFERENCES order_statuses (code) ON DELETE CASCADE,
    template   text NOT NULL CHECK (length(template) BETWEEN 1 AND 500),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per notice, keyed by its cause ('missed:<task id>', 'order-status:<order id>:<history id>'):
-- recording a cause twice (a retried job, a second worker) sends one notice.
CREATE TABLE customer_notices (
    id           bigserial PRIMARY KEY,
    cause        text NOT NULL UNIQUE CHECK (length(cause) <= 100),
    kind         text NOT NULL CHECK (kind IN ('missed_call', 'order_status')),
    to_phone     text NOT NULL CHECK (to_phone ~ '^\+[1-9][0-9]{6,14}$'),
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000),
    -- queued: to send; held: waits for the end of quiet hours (held_until); sent; failed: gave up after the
    -- last attempt; skipped: no longer worth sending (the missed call was returned before it went).
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'held', 'sent', 'failed', 'skipped')),
    error        text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    attempts     integer NOT NULL DEFAULT 0,
    held_until   timestamptz,
    gateway      text NOT NULL DEFAULT '' CHECK (length(gateway) <= 20),
    task_id      bigint REFERENCES tasks (id) ON DELETE SET NULL,
    order_id     bigint REFERENCES orders (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempted_at timestamptz,
    sent_at      timestamptz
);
CREATE INDEX customer_notices_recent ON customer_notices (created_at DESC, id DESC);
CREATE INDEX customer_notices_open ON customer_notices (id) WHERE state IN ('queued', 'held');
