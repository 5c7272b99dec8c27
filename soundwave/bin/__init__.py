"""Command-line entry points: ``python -m soundwave.bin.<name> --help``."""
