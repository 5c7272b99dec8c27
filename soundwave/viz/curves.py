"""Training curves of stage and pretraining dirs.

A dir's history is ``history.json`` (the trainer's rows, written when training ends) or,
while training still runs, the rows parsed back from ``train.log``.  Training rows hold
``step`` and scalars (``loss``, ``ctc_loss``, ``lm_loss``, ``lr``, ...); validation rows
hold ``step`` and ``valid_*`` metrics.  Two pictures:

* :func:`plot_stages`: one column per dir, losses (log scale) on top, validation metrics
  below;
* :func:`plot_metric`: one panel per metric, one line per dir (runs of an ablation).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from soundwave.errors import UserError
from soundwave.viz.figure import new_figure

VALID_PREFIX = "valid_"
# what the trainer logs: "<date> <time> INFO step 50 loss=5.633 lr=0.00153 ..." and
# "<date> <time> INFO step 150 validation {"loss": 2.15, ...}"
_LOG_LINE = re.compile(r"\bINFO step (\d+) (.*)$")
_COLORS = [f"C{i}" for i in range(10)]


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


def default_labels(dirs: Sequence[str | Path]) -> list[str]:
    """The shortest trailing parts of the paths that tell the dirs apart
    (``exp/a/align``, ``exp/b/align`` -> ``a/align``, ``b/align``)."""
    parts = [Path(d).resolve().parts for d in dirs]
    for n in range(1, max((len(p) for p in parts), default=1) + 1):
        labels = ["/".join(p[-n:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(d) for d in dirs]  # the same dir twice


def _loss_keys(h: History) -> list[str]:
    keys = [k for k in h.logged_keys() if "loss" in k and not k.startswith(VALID_PREFIX)]
    return sorted(keys, key=lambda k: (k != "loss", k))


def _metric_keys(h: History) -> list[str]:
    return [k for k in h.logged_keys() if k.startswith(VALID_PREFIX) and k != VALID_PREFIX + "loss"]


def _color_map(keys: Sequence[str]) -> dict[str, str]:
    return {k: _COLORS[i % len(_COLORS)] for i, k in enumerate(dict.fromkeys(keys))}


def _is_loss(key: str) -> bool:
    return "loss" in key or "perplexity" in key


def _log_scale_if_positive(ax: Axes, values: list[float]) -> None:
    """Log scale with plain numbers (5, 6, 10, not 6x10^0); minor ticks are labelled too
    when the values span less than two decades (only 2 and 5 above one), as losses late in
    training do."""
    if not values or min(values) <= 0:
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    span = max(values) / min(values)
    if span >= 100:
        return

    def minor(v: float, _: object) -> str:
        mantissa = round(v / 10 ** math.floor(math.log10(v)))
        return f"{v:g}" if span < 10 or mantissa in (2, 5) else ""

    ax.yaxis.set_minor_formatter(FuncFormatter(minor))
    ax.tick_params(axis="y", which="minor", labelsize="small")


def _legend_above_data(ax: Axes, values: list[float]) -> None:
    """Raise the top of the y range so that the legend (upper right) covers no line."""
    labels = ax.get_legend_handles_labels()[1]
    entries = len(labels)
    ncols = 2 if entries > 2 and max(map(len, labels)) <= 16 else 1
    lo, hi = min(values), max(values)
    rows = math.ceil(entries / ncols)
    room = 0.12 + 0.1 * rows  # fraction of the axis height the legend takes
    if ax.get_yscale() == "log":
        span = max(hi / lo, 1.5)
        ax.set_ylim(lo / span**0.08, hi * span ** (room / (1 - room)))
    else:
        if hi > lo:
            ax.set_ylim(lo - 0.05 * (hi - lo), hi + (hi - lo) * room / (1 - room))
        else:  # one value: centre it
            pad = max(abs(hi), 1.0) * 0.1
            ax.set_ylim(lo - pad, hi + pad * (1 + 2 * room))
    ax.legend(fontsize="small", loc="upper right", ncols=ncols)


def _note(ax: Axes, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.5")
    ax.set_yticks([])


def _plot_losses(ax: Axes, h: History, colors: dict[str, str]) -> None:
    """Training losses (a loss identical to ``loss`` is named in its label, not redrawn)
    and the validation loss as markers."""
    keys = _loss_keys(h)
    series = {k: h.series(k) for k in keys}
    same = [k for k in keys[1:] if series[k] == series.get("loss")]
    plotted: list[float] = []
    for key in keys:
        if key in same:
            continue
        steps, values = series[key]
        label = " = ".join([key, *same]) if key == "loss" else key
        ax.plot(
            steps,
            values,
            color=colors[key],
            label=label,
            lw=1.4,
            marker="." if len(steps) < 30 else None,
        )
        plotted += values
    steps, values = h.series(VALID_PREFIX + "loss")
    if steps:
        ax.plot(steps, values, "o--", color="k", ms=4, lw=1, label="valid loss")
        plotted += values
    if not plotted:
        _note(ax, "no training steps logged yet")
        return
    _log_scale_if_positive(ax, plotted)
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", alpha=0.1)
    _legend_above_data(ax, plotted)


def _with_last(label: str, steps: list[float], values: list[float]) -> str:
    """A legend label with the last value (where a label on the curve would cross it)."""
    return f"{label}: {values[-1]:.3g} at {steps[-1]:g}" if steps else label


def _plot_valid(ax: Axes, h: History, colors: dict[str, str]) -> None:
    keys = _metric_keys(h)
    if not keys:
        _note(ax, "no validation yet" if h.running else "no validation metrics")
        return
    plotted: list[float] = []
    for key in keys:
        steps, values = h.series(key)
        plotted += values
        ax.plot(
            steps,
            values,
            "o-",
            color=colors[key],
            ms=4,
            lw=1.2,
            label=_with_last(key.removeprefix(VALID_PREFIX), steps, values),
        )
    ax.set_ylabel("validation")
    ax.grid(True, alpha=0.3)
    if plotted:
        _legend_above_data(ax, plotted)


def _title(h: History) -> str:
    state = " (train.log: not finished)" if h.running else ""
    return f"{h.label}: {h.last_step} steps{state}"


def plot_stages(histories: Sequence[History]) -> Figure:
    """One column per history: training losses (log scale) above, validation metrics below
    (the second row only when some history has validation metrics)."""
    if not histories:
        raise ValueError("no histories to plot")
    rows = 2 if any(_metric_keys(h) for h in histories) else 1
    cols = len(histories)
    fig = new_figure(max(5.0, 4.6 * cols), 3.3 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False, sharex="col")
    colors = _color_map(
        ["loss"]
        + [k for h in histories for k in _loss_keys(h)]
        + [k for h in histories for k in _metric_keys(h)]
    )
    for col, h in enumerate(histories):
        _plot_losses(axes[0, col], h, colors)
        axes[0, col].set_title(_title(h), fontsize="medium")
        if rows == 2:
            _plot_valid(axes[1, col], h, colors)
        axes[-1, col].set_xlabel("step")
    return fig


def plot_metric(histories: Sequence[History], metrics: Sequence[str]) -> Figure:
    """One panel per metric (``valid_asr_wer``, ``loss``, ...), one line per history."""
    if not histories or not metrics:
        raise ValueError("no histories or metrics to plot")
    cols = min(len(metrics), 3)
    rows = math.ceil(len(metrics) / cols)
    fig = new_figure(max(6.0, 5.2 * cols), 3.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    colors = _color_map([h.label for h in histories])
    for ax, metric in zip(axes, metrics):
        plotted: list[float] = []
        for h in histories:
            steps, values = h.series(metric)
            if not steps:
                continue
            marker = "o" if metric.startswith(VALID_PREFIX) or len(steps) < 30 else None
            ax.plot(
                steps,
                values,
                color=colors[h.label],
                marker=marker,
                ms=4,
                lw=1.4,
                label=_with_last(h.label, steps, values)
                if metric.startswith(VALID_PREFIX)
                else h.label,
            )
            plotted += values
        if not plotted:
            logged = sorted({k for h in histories for k in h.logged_keys()})
            raise UserError(f"no run logged '{metric}'; logged: {', '.join(logged) or 'nothing'}")
        if _is_loss(metric):
            _log_scale_if_positive(ax, plotted)
        ax.set_title(metric, fontsize="medium")
        ax.set_xlabel("step")
        ax.grid(True, which="major", alpha=0.3)
        _legend_above_data(ax, plotted)
    for ax in axes[len(metrics) :]:
        ax.remove()
    return fig
