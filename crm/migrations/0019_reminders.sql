-- Every task kind has a reminder: at its due time its assignee is told once (the panel, later e-mail).
ALTER TABLE tasks ADD COLUMN reminded_at timestamptz;

-- An alert's e-mail went (a retried job never sends it twice).
ALTER TABLE alerts ADD COLUMN emailed_at timestamptz;
