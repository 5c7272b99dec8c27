"""Training curves of stage and pretraining dirs (histories read by :mod:`.history`).  Two
pictures:

* :func:`plot_stages`: one column per dir, losses (log scale) on top, validation metrics
  below;
* :func:`plot_metric`: one panel per metric, one line per dir (runs of an ablation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from soundwave.errors import UserError
from soundwave.viz.figure import new_figure
from soundwave.viz.history import VALID_PREFIX, History

_COLORS = [f"C{i}" for i in range(10)]


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
