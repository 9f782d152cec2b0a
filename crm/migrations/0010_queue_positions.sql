-- The queue's view of a call: the caller's place on joining and on leaving the waiting list (1 = next).
-- queue_hold_s (0002) is how long they waited: until a member answered (AgentConnect's HoldTime), else
-- until they gave up or the queue timed out (QueueCallerAbandon's HoldTime).
ALTER TABLE calls ADD COLUMN queue_position integer CHECK (queue_position >= 1);
ALTER TABLE calls ADD COLUMN queue_left_position integer CHECK (queue_left_position >= 1);
