-- Outgoing webhooks: the shop's own systems told of calls, callbacks, alerts and order status changes.
CREATE TABLE webhook_endpoints (
    id         bigserial PRIMARY KEY,
    url        text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 500),
    -- HMAC-SHA256 key of the signature header; shown once when the endpoint is made.
    secret     text NOT NULL CHECK (length(secret) BETWEEN 16 AND 200),
    events     text[] NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, endpoint): what was sent, how it went. The event id makes a retry idempotent for the
-- receiver (the same X-Perezvon-Event-Id) and for us (one delivery per event and endpoint).
CREATE TABLE webhook_deliveries (
    id          bigserial PRIMARY KEY,
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    text NOT NULL CHECK (length(event_id) <= 100),
    event       text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    status      integer,
    error       text NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    delivered_at timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (created_at DESC);
