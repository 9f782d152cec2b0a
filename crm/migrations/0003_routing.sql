-- Routing configuration: manager groups, rules by dialled number / channel / customer type /
-- region, working-hours schedules and holidays, and the decision recorded on each call.

CREATE TABLE routing_groups (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    -- Asterisk queue to fall back to when nobody in the group can take the call.
    queue       text NOT NULL DEFAULT '' CHECK (queue ~ '^[A-Za-z0-9_-]{0,64}$'),
    ring_timeout_s integer NOT NULL DEFAULT 20 CHECK (ring_timeout_s BETWEEN 5 AND 300)
);
CREATE TABLE routing_group_members (
    group_id   bigint NOT NULL REFERENCES routing_groups (id) ON DELETE CASCADE,
    manager_id bigint NOT NULL REFERENCES managers (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, manager_id)
);
CREATE INDEX routing_group_members_manager ON routing_group_members (manager_id);

-- The shop's dialled numbers (DIDs, digits of the E.164 form) and the sales channel each advertises:
-- the site's number, a landing page's, the app's. Rules match on the channel through this table.
CREATE TABLE routing_numbers (
    did     text PRIMARY KEY CHECK (did ~ '^[0-9]{1,20}$'),
    channel text NOT NULL CHECK (channel IN ('site', 'landing', 'app', 'phone', 'marketplace', 'other')),
    label   text NOT NULL DEFAULT '' CHECK (length(label) <= 100)
);

-- Working hours: a schedule per DID or the global one (did = '').
CREATE TABLE routing_schedules (
    id          bigserial PRIMARY KEY,
    did         text NOT NULL DEFAULT '' UNIQUE CHECK (did ~ '^[0-9]{0,20}$'),
    timezone    text NOT NULL DEFAULT 'Europe/Moscow' CHECK (length(timezone) BETWEEN 1 AND 64),
    -- One entry per weekday (ISO 1 = Monday .. 7): opening and closing time; no row = closed that day.
    hours       jsonb NOT NULL DEFAULT '{"1":["09:00","21:00"],"2":["09:00","21:00"],"3":["09:00","21:00"],"4":["09:00","21:00"],"5":["09:00","21:00"],"6":["10:00","18:00"],"7":["10:00","18:00"]}',
    -- A closing time before the opening one runs past midnight; '24:00' closes at midnight.
    -- Where calls go when closed: 'voicemail:NAME', 'dial:+NUMBER', 'playback:SOUND', 'hangup'.
    after_hours_target text NOT NULL DEFAULT 'voicemail:general'
        CHECK (after_hours_target ~ '^(voicemail|dial|playback):.+$' OR after_hours_target = 'hangup')
);
CREATE TABLE routing_holidays (
    schedule_id bigint NOT NULL REFERENCES routing_schedules (id) ON DELETE CASCADE,
    day         date NOT NULL,
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    PRIMARY KEY (schedule_id, day)
);
INSERT INTO routing_schedules (did) VALUES ('');

-- Rules: the first matching rule (lowest position) picks the group. Empty fields match anything.
CREATE TABLE routing_rules (
    id            bigserial PRIMARY KEY,
    position      integer NOT NULL DEFAULT 100,
    did           text NOT NULL DEFAULT '' CHECK (did ~ '^[0-9]{0,20}$'),
    channel       text NOT NULL DEFAULT '' CHECK (channel IN ('', 'site', 'landing', 'app', 'phone', 'marketplace', 'other')),
    customer_kind text NOT NULL DEFAULT '' CHECK (customer_kind IN ('', 'person', 'company')),
    region        text NOT NULL DEFAULT '' CHECK (length(region) <= 100),
    -- RESTRICT: deleting a group that rules still send calls to is refused, never silently cascaded.
    group_id      bigint NOT NULL REFERENCES routing_groups (id) ON DELETE RESTRICT,
    note          text NOT NULL DEFAULT '' CHECK (length(note) <= 200)
);
CREATE INDEX routing_rules_position ON routing_rules (position, id);

-- Order statuses that make a call urgent (route to that order's manager first).
ALTER TABLE order_statuses ADD COLUMN urgent_for_calls boolean NOT NULL DEFAULT false;
UPDATE order_statuses SET urgent_for_calls = true WHERE code IN ('new', 'shipped', 'return_requested');

-- Global routing options (one row).
CREATE TABLE routing_settings (
    id                   boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- 'responsible' (the customer's responsible manager) or 'last_order' (the manager of their latest order).
    sticky_source        text NOT NULL DEFAULT 'responsible' CHECK (sticky_source IN ('responsible', 'last_order')),
    default_queue        text NOT NULL DEFAULT 'sales' CHECK (default_queue ~ '^[A-Za-z0-9_-]{1,64}$'),
    default_ring_timeout_s integer NOT NULL DEFAULT 20 CHECK (default_ring_timeout_s BETWEEN 5 AND 300)
);
INSERT INTO routing_settings DEFAULT VALUES;

-- The decision recorded on the call ("why did this call go there"). Only crm/routing_data.py writes
-- these; the call recorder (crm/calls.py) never does, so either may write first.
ALTER TABLE calls
    ADD COLUMN route_reason     text NOT NULL DEFAULT '' CHECK (route_reason ~ '^[a-z_]{0,32}$'),
    ADD COLUMN route_targets    text NOT NULL DEFAULT '',
    ADD COLUMN route_fallback   text NOT NULL DEFAULT '',
    ADD COLUMN route_explain    text NOT NULL DEFAULT '',
    -- The manager rung first.
    ADD COLUMN route_manager_id bigint REFERENCES managers (id) ON DELETE SET NULL,
    ADD COLUMN routed_at        timestamptz;
