"""The training history of a stage or pretraining dir, one reader for every report.

A dir's history is ``history.json`` (the trainer's rows, written when training ends) or,
while training still runs, the rows parsed back from ``train.log``.  Training rows hold
``step`` and scalars (``loss``, ``ctc_loss``, ``lm_loss``, ``lr``, ...); validation rows
hold ``step`` and ``valid_*`` metrics.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from soundwave.errors import UserError

VALID_PREFIX = "valid_"
# what the trainer logs: "<date> <time> INFO step 50 loss=5.633 lr=0.00153 ..." and
# "<date> <time> INFO step 150 validation {"loss": 2.15, ...}"
_LOG_LINE = re.compile(r"\bINFO step (\d+) (.*)$")


@dataclass
class History:
    """The logged rows of one training run, each kind sorted by step (one row per step)."""

    label: str
    source: Path  # the file the rows were read from
    train: list[dict[str, float]]
    valid: list[dict[str, float]]

    @property
    def running(self) -> bool:
        """Read from train.log: training has not finished (or was interrupted)."""
        return self.source.name != "history.json"

    @property
    def last_step(self) -> int:
        return int(max((r["step"] for r in self.train + self.valid), default=0))

    def logged_keys(self) -> list[str]:
        return sorted({k for r in self.train + self.valid for k in r if k != "step"})

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) of ``key``; non-finite values are left out."""
        rows = self.valid if key.startswith(VALID_PREFIX) else self.train
        pts = [(r["step"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
        return [s for s, _ in pts], [v for _, v in pts]


def parse_train_log(path: str | Path) -> list[dict[str, float]]:
    """The history rows of a trainer log.  Lines that do not parse (a line being written,
    other messages) are skipped: the log of a running training is read as it stands."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        m = _LOG_LINE.search(line)
        if m is None:
            continue
        step, rest = int(m.group(1)), m.group(2).strip()
        row: dict[str, float] = {}
        if rest.startswith("validation "):
            try:
                metrics = json.loads(rest.removeprefix("validation "))
            except json.JSONDecodeError:
                continue
            if isinstance(metrics, dict):
                row = {VALID_PREFIX + k: float(v) for k, v in metrics.items() if _is_num(v)}
        else:
            for token in rest.split():
                key, eq, value = token.partition("=")
                if eq and _is_num(value):
                    row[key] = float(value)
        if row:
            rows.append({"step": step, **row})
    return rows


def _is_num(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _split(rows: list[dict[str, float]]) -> tuple[list[dict], list[dict]]:
    """Training and validation rows; a step logged twice (a resumed run) keeps the last."""
    train: dict[int, dict] = {}
    valid: dict[int, dict] = {}
    for row in rows:
        kind = valid if any(k.startswith(VALID_PREFIX) for k in row) else train
        kind[int(row["step"])] = row
    return [train[s] for s in sorted(train)], [valid[s] for s in sorted(valid)]


def read_history(stage_dir: str | Path, label: str | None = None) -> History:
    """The history of ``stage_dir``: ``history.json`` if written, else ``train.log``."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        raise UserError("no such directory", stage_dir)
    label = label or stage_dir.name
    path = stage_dir / "history.json"
    if path.is_file():
        try:
            rows = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"invalid JSON: {err.msg}", path, err.lineno) from None
        if not isinstance(rows, list) or not all(
            isinstance(r, dict) and _is_num(r.get("step")) for r in rows
        ):
            raise UserError("expected a list of rows, each with a 'step'", path)
        rows = [{k: float(v) for k, v in r.items() if _is_num(v)} for r in rows]
    else:
        path = stage_dir / "train.log"
        if not path.is_file():
            raise UserError("no history.json or train.log (has training started?)", stage_dir)
        rows = parse_train_log(path)
    train, valid = _split(rows)
    return History(label, path, train, valid)
