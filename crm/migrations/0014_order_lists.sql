-- The orders list and its API: newest first, and `updated_since` for shops that sync their orders.
CREATE INDEX orders_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_updated ON orders (updated_at, id);
