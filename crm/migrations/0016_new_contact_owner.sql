-- A contact made for an unknown number remembers the call it was made for, so that call's operator can
-- become its responsible manager (the next call from that number then goes to them): the setting
-- new_contact_owner = 'answered' (the default) or 'none' (new contacts stay unassigned, shared).
ALTER TABLE customers ADD COLUMN created_by_call bigint REFERENCES calls (id) ON DELETE SET NULL;
ALTER TABLE routing_settings ADD COLUMN new_contact_owner text NOT NULL DEFAULT 'answered'
    CHECK (new_contact_owner IN ('answered', 'none'));
