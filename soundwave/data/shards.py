"""``J/N`` shards of a CutSet: how parallel jobs (feature extraction, decoding) split work.

Job J keeps every N-th cut starting at index J-1, so the N shards partition the input and
each is spread over the whole set (sorted by speaker) rather than one block of it.
"""

from __future__ import annotations

import os

from lhotse import CutSet

from soundwave.data.lhotse_io import load_cuts
from soundwave.errors import UserError


def parse_shard(text: str) -> tuple[int, int]:
    """``"J/N"`` -> (J, N), with 1 <= J <= N."""
    try:
        job, num = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard must look like J/N (e.g. 2/4), not '{text}'") from None
    if not 1 <= job <= num:
        raise UserError(f"--shard {text}: J must be between 1 and N")
    return job, num


def shard_cuts(cuts: CutSet, job: int, num: int) -> CutSet:
    """The J-th of N interleaved shards of ``cuts`` (all of them, in memory, for 1/1)."""
    if num == 1:
        return cuts.to_eager()
    return CutSet.from_cuts(c for i, c in enumerate(cuts) if i % num == job - 1)


def read_shard(cuts_path: str | os.PathLike, shard: str) -> tuple[CutSet, int, int]:
    """The cuts of shard ``"J/N"`` of the manifest at ``cuts_path``, with J and N."""
    job, num = parse_shard(shard)
    return shard_cuts(load_cuts(cuts_path, lazy=True), job, num), job, num
