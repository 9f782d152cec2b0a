"""Transcripts of call recordings: `data` (queue, claim, store, the backlog), `view` (reading and search),
`insights` (keywords and promises in the text, pure) and `findings` (acting on them: order links, alerts,
suggested follow-ups)."""
