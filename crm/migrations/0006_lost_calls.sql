-- No call stays "in progress" forever. A call whose end the bridge did not see (perezvon or the AMI
-- connection was down when it ended, or its Hangup never came) is closed with what is known:
-- `answered` when someone had picked up, else the explicit outcome `lost`. `closed_by` says who
-- closed it: 'pbx' (the PBX reported the end), 'resync' (after a login Asterisk no longer had the
-- call), 'timeout' (still open after the bound). NULL while the call is open.
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check CHECK (outcome IN ('answered', 'missed', 'lost'));
ALTER TABLE calls ADD COLUMN closed_by text CHECK (closed_by IN ('pbx', 'resync', 'timeout'));
UPDATE calls SET closed_by = 'pbx' WHERE ended_at IS NOT NULL;

-- The open calls, for the resync and the timeout sweep (few rows, looked at after every login).
CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL;
