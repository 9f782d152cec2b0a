-- The order CRM: managers, customers and their phones, orders with a status
-- workflow, tasks, notes, and minimal calls/alerts tables that later work fills.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE managers (
    id                   bigserial PRIMARY KEY,
    login                text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role                 text NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin')),
    password_hash        text NOT NULL,
    softphone            boolean NOT NULL DEFAULT false,
    vip_capable          boolean NOT NULL DEFAULT false,
    seniority            integer NOT NULL DEFAULT 0 CHECK (seniority BETWEEN 0 AND 100),
    max_concurrent_calls integer NOT NULL DEFAULT 1 CHECK (max_concurrent_calls BETWEEN 1 AND 20),
    active               boolean NOT NULL DEFAULT true,
    presence             text NOT NULL DEFAULT 'offline' CHECK (presence IN ('online', 'away', 'offline')),
    presence_changed_at  timestamptz NOT NULL DEFAULT now(),
    locale               text NOT NULL DEFAULT 'ru' CHECK (locale IN ('ru', 'en')),
    created_at           timestamptz NOT NULL DEFAULT now()
);
-- An extension rings exactly one manager.
CREATE TABLE manager_extensions (
    extension  text PRIMARY KEY CHECK (extension ~ '^[0-9]{2,6}$'),
    manager_id bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE
);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    manager_id   bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    token_sha256 bytea NOT NULL UNIQUE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE TABLE customers (
    id                     bigserial PRIMARY KEY,
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                   text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'company')),
    vip                    boolean NOT NULL DEFAULT false,
    region                 text NOT NULL DEFAULT '' CHECK (length(region) <= 100),
    tags                   text[] NOT NULL DEFAULT '{}',
    responsible_manager_id bigint REFERENCES managers (id) ON DELETE SET NULL,
    email                  text NOT NULL DEFAULT '' CHECK (length(email) <= 200),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_name_trgm ON customers USING gin (lower(name) gin_trgm_ops);
CREATE INDEX customers_responsible ON customers (responsible_manager_id, id);

-- Phones are stored as E.164 ('+79161234567'); one phone belongs to one customer.
CREATE TABLE customer_phones (
    e164        text PRIMARY KEY CHECK (e164 ~ '^\+[1-9][0-9]{6,14}$'),
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    label       text NOT NULL DEFAULT '' CHECK (length(label) <= 50),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);

-- The status workflow is data: statuses, allowed transitions, time limits.
CREATE TABLE order_statuses (
    code       text PRIMARY KEY CHECK (code ~ '^[a-z_]{2,32}$'),
    position   integer NOT NULL,
    title_ru   text NOT NULL,
    title_en   text NOT NULL,
    time_limit interval,
    is_final   boolean NOT NULL DEFAULT false,
    is_initial boolean NOT NULL DEFAULT false
);
CREATE TABLE order_transitions (
    from_status text NOT NULL REFERENCES order_statuses (code) ON DELETE CASCADE,
    to_status   text NOT NULL REFERENCES order_statuses (code) ON DELETE CASCADE,
    PRIMARY KEY (from_status, to_status)
);

INSERT INTO order_statuses (code, position, title_ru, title_en, time_limit, is_final, is_initial) VALUES
    ('new',        10, 'Новый',              'New',              interval '5 minutes', false, true),
    ('confirmed',  20, 'Подтверждён',        'Confirmed',        interval '2 hours',   false, false),
    ('assembling', 30, 'Комплектуется',      'Assembling',       interval '1 day',     false, false),
    ('shipped',    40, 'Отгружен',           'Shipped',          interval '7 days',    false, false),
    ('delivered',  50, 'Доставлен',          'Delivered',        interval '3 days',    false, false),
    ('completed',  60, 'Выполнен',           'Completed',        NULL,                 true,  false),
    ('cancelled',  70, 'Отменён',            'Cancelled',        NULL,                 true,  false),
    ('return_requested', 80, 'Запрошен возврат', 'Return requested', interval '1 day', false, false),
    ('returned',   90, 'Возвращён',          'Returned',         NULL,                 true,  false);

INSERT INTO order_transitions (from_status, to_status) VALUES
    ('new', 'confirmed'), ('new', 'cancelled'),
    ('confirmed', 'assembling'), ('confirmed', 'cancelled'),
    ('assembling', 'shipped'), ('assembling', 'cancelled'),
    ('shipped', 'delivered'), ('shipped', 'returned'),
    ('delivered', 'completed'), ('delivered', 'return_requested'),
    ('completed', 'return_requested'),
    ('return_requested', 'returned'), ('return_requested', 'completed');

CREATE TABLE orders (
    id                bigserial PRIMARY KEY,
    number            text NOT NULL UNIQUE CHECK (length(number) BETWEEN 1 AND 64),
    customer_id       bigint NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    manager_id        bigint REFERENCES managers (id) ON DELETE SET NULL,
    channel           text NOT NULL DEFAULT 'site'
                      CHECK (channel IN ('site', 'landing', 'app', 'phone', 'marketplace', 'other')),
    items             jsonb NOT NULL DEFAULT '[]',
    total             numeric(14, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    currency          text NOT NULL DEFAULT 'RUB' CHECK (currency ~ '^[A-Z]{3}$'),
    status            text NOT NULL REFERENCES order_statuses (code),
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_manager ON orders (manager_id, created_at DESC);
CREATE INDEX orders_open_status ON orders (status, status_changed_at);

CREATE TABLE order_status_history (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text REFERENCES order_statuses (code),
    to_status   text NOT NULL REFERENCES order_statuses (code),
    changed_by  bigint REFERENCES managers (id) ON DELETE SET NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    comment     text NOT NULL DEFAULT ''
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, changed_at);

-- Calls: one row per Asterisk Linkedid; the PBX bridge work fills the rest.
CREATE TABLE calls (
    id          bigserial PRIMARY KEY,
    linkedid    text NOT NULL UNIQUE,
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    caller      text NOT NULL DEFAULT '',
    callee      text NOT NULL DEFAULT '',
    did         text NOT NULL DEFAULT '',
    customer_id bigint REFERENCES customers (id) ON DELETE SET NULL,
    order_id    bigint REFERENCES orders (id) ON DELETE SET NULL,
    manager_id  bigint REFERENCES managers (id) ON DELETE SET NULL,
    started_at  timestamptz NOT NULL,
    answered_at timestamptz,
    ended_at    timestamptz,
    outcome     text CHECK (outcome IN ('answered', 'missed')),
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX calls_customer ON calls (customer_id, started_at DESC);
CREATE INDEX calls_started ON calls (started_at DESC);

CREATE TABLE tasks (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('callback', 'follow_up', 'custom')),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    customer_id   bigint REFERENCES customers (id) ON DELETE CASCADE,
    order_id      bigint REFERENCES orders (id) ON DELETE SET NULL,
    call_id       bigint REFERENCES calls (id) ON DELETE SET NULL,
    assignee_id   bigint REFERENCES managers (id) ON DELETE SET NULL,
    due_at        timestamptz,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    result_note   text NOT NULL DEFAULT '' CHECK (length(result_note) <= 5000),
    created_by_id bigint REFERENCES managers (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz
);
CREATE INDEX tasks_assignee_open ON tasks (assignee_id, due_at) WHERE status = 'open';
CREATE INDEX tasks_customer ON tasks (customer_id, created_at DESC);
CREATE INDEX tasks_status_due ON tasks (status, due_at);

CREATE TABLE notes (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    order_id    bigint REFERENCES orders (id) ON DELETE SET NULL,
    author_id   bigint REFERENCES managers (id) ON DELETE SET NULL,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_customer ON notes (customer_id, created_at DESC);

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    message         text NOT NULL,
    task_id         bigint REFERENCES tasks (id) ON DELETE CASCADE,
    order_id        bigint REFERENCES orders (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by bigint REFERENCES managers (id) ON DELETE SET NULL
);
