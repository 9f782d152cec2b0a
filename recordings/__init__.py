"""Recording files and transcription (later work)."""
