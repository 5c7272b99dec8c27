"""Parameter counts per module group (works on the meta device: nothing is allocated)."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn


def param_report(
    groups: dict[str, nn.Module | Iterable[nn.Parameter]],
    total: Iterable[nn.Parameter] | None = None,
) -> dict[str, dict[str, int]]:
    """{group: {"total": n, "trainable": n}}; works on the meta device (nothing allocated)."""

    def count(params: Iterable[nn.Parameter]) -> dict[str, int]:
        unique = {id(p): p for p in params}.values()
        return {
            "total": sum(p.numel() for p in unique),
            "trainable": sum(p.numel() for p in unique if p.requires_grad),
        }

    report = {
        name: count(g.parameters() if isinstance(g, nn.Module) else g) for name, g in groups.items()
    }
    if total is not None:
        report["total"] = count(total)
    return report


def format_param_report(report: dict[str, dict[str, int]]) -> str:
    """A small table for logs."""
    lines = [f"{'module':<20} {'total':>15} {'trainable':>15}"]
    lines += [f"{k:<20} {v['total']:>15,} {v['trainable']:>15,}" for k, v in report.items()]
    return "\n".join(lines)
