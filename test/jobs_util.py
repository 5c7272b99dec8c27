"""Helpers shared by the job-runner tests (test_jobs_*.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UTILS = REPO / "utils"


def sh(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """Run a command, capturing text output; ``env`` adds to the current environment."""
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stamp_command(tmp: str = "t") -> str:
    """A job body that records its start and end times in <tmp>/JOB.start / JOB.end."""
    return f"date +%s.%N > {tmp}/JOB.start; sleep 0.4; date +%s.%N > {tmp}/JOB.end"


def max_overlap(stamp_dir: Path, ids) -> int:
    """How many of the stamped jobs ran at the same time, at most."""
    events = []
    for i in ids:
        events.append((float((stamp_dir / f"{i}.start").read_text()), 1))
        events.append((float((stamp_dir / f"{i}.end").read_text()), -1))
    best = now = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start at a tie
        now += step
        best = max(best, now)
    return best


def copy_recipe(recipe: Path, dest: Path) -> Path:
    """A copy of ``recipe`` (run.sh, conf/, local/) at ``dest`` whose shared scripts and
    utils/ link to this repository's, as a checkout of the recipe has them."""
    dest.mkdir(parents=True)
    for name in ("run.sh", "conf", "local"):
        src = recipe / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    (dest / "utils").symlink_to(REPO / "utils")
    for name in ("soundwave.sh", "cmd.sh", "path.sh"):
        (dest / name).symlink_to(REPO / "egs" / "TEMPLATE" / name)
    return dest
