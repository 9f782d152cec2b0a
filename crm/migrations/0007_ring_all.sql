-- A routing group can ring all its free members at once (one Dial with '&'): the first to pick up
-- takes the call, the others see "answered elsewhere", not a missed call. Off: the least-loaded one.
ALTER TABLE routing_groups ADD COLUMN ring_all boolean NOT NULL DEFAULT false;
