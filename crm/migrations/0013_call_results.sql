-- What a call came to, in the shop's own words: disposition codes an admin defines («заказ оформлен»,
-- «консультация», «перезвонить»...), chosen by the operator on the pop during or after the call.
CREATE TABLE call_dispositions (
    code     text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    title_ru text NOT NULL CHECK (length(title_ru) BETWEEN 1 AND 80),
    title_en text NOT NULL CHECK (length(title_en) BETWEEN 1 AND 80),
    position integer NOT NULL DEFAULT 0,
    -- An inactive code stays on the calls that have it but is no longer offered.
    active   boolean NOT NULL DEFAULT true
);
INSERT INTO call_dispositions (code, title_ru, title_en, position) VALUES
    ('order_placed', 'заказ оформлен', 'order placed', 1),
    ('consultation', 'консультация', 'consultation', 2),
    ('call_back', 'перезвонить', 'call back', 3),
    ('order_status', 'статус заказа', 'order status', 4),
    ('complaint', 'жалоба', 'complaint', 5),
    ('wrong_number', 'ошиблись номером', 'wrong number', 6);

ALTER TABLE calls ADD COLUMN disposition text REFERENCES call_dispositions (code) ON UPDATE CASCADE;
ALTER TABLE calls ADD COLUMN disposition_by bigint REFERENCES managers (id) ON DELETE SET NULL;
ALTER TABLE calls ADD COLUMN disposition_at timestamptz;

-- A note written on the pop belongs to the customer and remembers the call it was written on.
ALTER TABLE notes ADD COLUMN call_id bigint REFERENCES calls (id) ON DELETE SET NULL;
