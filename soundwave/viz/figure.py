"""Headless matplotlib figures saved atomically."""

from __future__ import annotations

import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from soundwave.fileio import atomic_path


def new_figure(width: float, height: float) -> Figure:
    """A figure on the Agg canvas (never a window) with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Write ``fig`` to ``path`` as PNG: a reader never sees a half-written picture."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
