-- Who was given each order and why: the distribution of new orders (crm/distribution.py) and, later,
-- a manager handing an order over. Shown in the order's history; the latest row per manager also
-- spreads ties evenly (whoever got an order longest ago is next).
CREATE TABLE order_assignments (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    manager_id  bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    -- NULL: the distribution rules; else the manager who assigned it by hand.
    assigned_by bigint REFERENCES managers (id) ON DELETE SET NULL,
    reason      text NOT NULL CHECK (reason ~ '^[a-z_]{1,32}$'),
    explanation text NOT NULL DEFAULT '' CHECK (length(explanation) <= 300)
);
CREATE INDEX order_assignments_order ON order_assignments (order_id, assigned_at);
CREATE INDEX order_assignments_manager ON order_assignments (manager_id, assigned_at DESC);

-- Distribution can be switched off (orders then wait on the orders page for someone to take them).
CREATE TABLE distribution_settings (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    enabled boolean NOT NULL DEFAULT true
);
INSERT INTO distribution_settings DEFAULT VALUES;
