-- Security hardening (issue 9): server-side login sessions that can be revoked, API tokens that
-- expire and can be revoked, and a history of changes to an order's items and total.

-- One row per logged-in browser. The cookie carries a random token; only its SHA-256 is stored.
-- Logout deletes the row, a password change / deactivation / "log out everywhere" deletes them all;
-- a row unused for the idle timeout or older than the absolute lifetime no longer logs anyone in.
CREATE TABLE manager_sessions (
    id           bigserial PRIMARY KEY,
    manager_id   bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    token_sha256 bytea NOT NULL UNIQUE,
    address      text NOT NULL DEFAULT '' CHECK (length(address) <= 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manager_sessions_manager ON manager_sessions (manager_id);

ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz;

-- What changed in an order besides its status: items and total, with who and when.
CREATE TABLE order_changes (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    changed_by  bigint REFERENCES managers (id) ON DELETE SET NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    old_total   numeric(14, 2) NOT NULL,
    new_total   numeric(14, 2) NOT NULL,
    old_items   jsonb NOT NULL,
    new_items   jsonb NOT NULL
);
CREATE INDEX order_changes_order ON order_changes (order_id, changed_at);
