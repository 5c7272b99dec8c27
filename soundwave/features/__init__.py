"""Whisper log-mel features: extraction, storage and on-the-fly computation."""
