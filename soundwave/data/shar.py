"""Reading lhotse Shar directories: cuts and their data streamed from numbered shards.

A Shar directory (written by ``soundwave.bin.export_shar``, or by lhotse's own
``CutSet.to_shar``) holds, per shard ``NNNNNN``, ``cuts.NNNNNN.jsonl.gz`` and one tar per
data field (``features.NNNNNN.tar``, ``whisper_tail.NNNNNN.tar``,
``sw_encoder_out.NNNNNN.tar``, ``recording.NNNNNN.tar``).  :class:`SharCuts` reads it
with lhotse's ``CutSet.from_shar(shuffle_shards=..., stateful_shuffle=True, seed=...)``:
every pass reads the shards sequentially, in an order drawn from the seed and the number
of passes completed so far, and each cut arrives with its data in memory.

Before anything is read, :func:`scan_shar` checks the layout (every field has every
shard; a tar whose size is not whole tar records was cut short) and counts the cuts of
each shard from the small ``cuts`` files alone, so that the data mixture knows each
dataset's size without reading a byte of features.  A shard that turns out damaged while
it is streamed is one :class:`UserError` naming its damaged file.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lhotse import CutSet
from lhotse.cut import Cut
from lhotse.lazy import Dillable

from soundwave.errors import UserError

_SHARD_FILE = re.compile(r"^(?P<field>[^.]+)\.(?P<index>\d{6})\.(?P<ext>tar|jsonl\.gz)$")
# Python's tarfile pads a finished archive to whole records: a shorter file was cut short.
TAR_RECORD = tarfile.RECORDSIZE


@dataclass
class SharLayout:
    """The shards of a Shar directory: per shard, field -> file, and its number of cuts."""

    root: Path
    shards: list[dict[str, Path]]
    counts: list[int]

    @property
    def fields(self) -> list[str]:
        return sorted(set(self.shards[0]) - {"cuts"})

    def lhotse_fields(self) -> dict[str, list[str]]:
        """The ``fields`` argument of ``CutSet.from_shar``: field -> shard files in order."""
        return {f: [str(s[f]) for s in self.shards] for f in self.shards[0]}


def is_shar_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory of Shar shards (it holds ``cuts.NNNNNN.jsonl.gz``)."""
    p = Path(path)
    return p.is_dir() and any(p.glob("cuts.[0-9][0-9][0-9][0-9][0-9][0-9].jsonl.gz"))


def scan_shar(root: str | Path) -> SharLayout:
    """Check the layout of Shar directory ``root`` and count its cuts (see the module doc)."""
    root = Path(root)
    files: dict[str, dict[int, Path]] = {}
    for p in sorted(root.iterdir()):
        m = _SHARD_FILE.match(p.name)
        if m:
            files.setdefault(m["field"], {})[int(m["index"])] = p
    cuts = files.get("cuts", {})
    if not cuts:
        raise UserError("not a Shar directory: no cuts.NNNNNN.jsonl.gz", root)
    indices = sorted(cuts)
    if indices != list(range(len(indices))):
        missing = sorted(set(range(indices[-1] + 1)) - set(indices))
        raise UserError(
            f"Shar shard {missing[0]:06d} is missing (cuts.{missing[0]:06d}.jsonl.gz)", root
        )
    for field, found in files.items():
        for i in indices:
            if i not in found:
                raise UserError(f"Shar field '{field}' has no shard {i:06d}", root)
        extra = sorted(set(found) - set(indices))
        if extra:
            raise UserError(
                f"Shar field '{field}' has shard {extra[0]:06d}, which has no cuts", root
            )
    shards = [{field: found[i] for field, found in files.items()} for i in indices]
    for shard in shards:
        for path in shard.values():
            if path.suffix == ".tar" and path.stat().st_size % TAR_RECORD:
                raise UserError(
                    f"truncated Shar shard ({path.stat().st_size} bytes, not whole tar records): "
                    "re-export it (soundwave.bin.export_shar)",
                    path,
                )
    return SharLayout(root, shards, [_count_cuts(s["cuts"]) for s in shards])


def _count_cuts(path: Path) -> int:
    try:
        with gzip.open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(f"damaged Shar shard: {_reason(err)}", path) from None


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err).strip() or type(err).__name__
    return text.splitlines()[0]


def find_damaged(shard: dict[str, Path]) -> tuple[Path, str] | None:
    """The first file of ``shard`` that does not read through, and why (None if all do)."""
    for field, path in shard.items():
        try:
            if field == "cuts":
                _count_cuts(path)
                continue
            with tarfile.open(path, "r|*") as tar:
                for member in tar:
                    if member.isfile():
                        tar.extractfile(member).read()
        except UserError as err:
            return path, err.message
        except (OSError, EOFError, tarfile.TarError, zlib.error) as err:
            return path, _reason(err)
    return None


class SharCuts(Dillable):
    """The cuts of a Shar directory, streamed shard by shard (see the module docstring).

    ``seed`` and ``shuffle_shards`` go to lhotse's reader; the shard order of each pass is
    lhotse's (``stateful_shuffle``: seed + the number of completed passes), so two readers
    made with the same seed read the same cuts in the same order, pass after pass;
    :meth:`for_pass` reads a given pass.
    """

    def __init__(self, layout: SharLayout, seed: int = 0, shuffle_shards: bool = True) -> None:
        self.layout = layout
        self.reader = CutSet.from_shar(
            fields=layout.lhotse_fields(),
            shuffle_shards=shuffle_shards,
            stateful_shuffle=True,
            seed=seed,
        ).data

    def __len__(self) -> int:
        return sum(self.layout.counts)

    def __iter__(self) -> Iterator[Cut]:
        return self.for_pass(None)

    def for_pass(self, epoch: int | None) -> Iterator[Cut]:
        """The cuts of pass number ``epoch``, in lhotse's shard order for that pass whatever
        was read before (the training mixture numbers its passes, so that a pass's order
        does not depend on other reads of the same reader); None: the next pass."""
        it = iter(self.reader)
        order: list[int] | None = None
        read = 0
        while True:
            if order is None:  # lhotse draws this pass's order when it starts, from the same RNG
                if epoch is not None:
                    self.reader.epoch = epoch
                order = self.reader._maybe_shuffle_shards(list(range(len(self.layout.shards))))
            try:
                cut = next(it)
            except StopIteration:
                return
            except Exception as err:  # lhotse's tar and manifest readers raise many types
                raise self._damaged(order, read, err) from None
            read += 1
            yield cut

    def _damaged(self, order: list[int], read: int, err: Exception) -> UserError:
        """The error of a pass that failed after ``read`` cuts: names the shard it was in."""
        done = 0
        for index in order:
            done += self.layout.counts[index]
            if done > read:
                break
        shard = self.layout.shards[index]
        found = find_damaged(shard)
        path, why = found if found else (shard["cuts"], _reason(err))
        return UserError(f"damaged Shar shard: {why}", path)
