"""The base layer every other package may import: settings, logging with secret masking, the clock, the version."""
