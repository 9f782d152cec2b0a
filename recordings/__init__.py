"""Call recordings: the files MixMonitor writes, found, verified, stored, served by id and expired
(`register`, `wav_check`, `storage`, `raw_convert`, `scan`, `retention`, `store`, `settings`), and their
transcription (`recordings.transcription`). Imports no web."""
