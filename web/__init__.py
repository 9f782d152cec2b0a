"""The web service and the composition root (command line, wiring of all packages)."""
