"""Operations on Kaldi data directories: split, subset, combine, copy, filter.

Each works on :class:`~soundwave.data.kaldi.DataDir` objects in memory and carries every
data file along (``text.*``, ``utt2*``, ``spk2*``, ``reco2*`` included); the entry points
in ``soundwave/bin`` load, call these and save.
"""

from __future__ import annotations

import bisect
import os
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, pairwise
from pathlib import Path
from typing import BinaryIO

from soundwave.data.kaldi import DataDir
from soundwave.data.tables import (
    RECO,
    RECO_COVERAGE,
    SPK,
    SPK_COVERAGE,
    UTT,
    UTT_COVERAGE,
    format_seconds,
    line_of,
    raw_lines,
)
from soundwave.data.validate import check_data_dir
from soundwave.errors import UserError
from soundwave.fileio import atomic_dir

# ---------------------------------------------------------------------------- split


def _contiguous_parts(sizes: Sequence[int], num: int) -> list[int]:
    """Boundaries b_0=0 < b_1 < ... < b_num=len(sizes) cutting ``sizes`` into ``num``
    non-empty runs whose sums are as close as possible to total/num."""
    cum = [0, *accumulate(sizes)]
    n = len(sizes)
    bounds = [0]
    for k in range(1, num):
        target = cum[-1] * k / num
        lo, hi = bounds[-1] + 1, n - (num - k)  # leave one item for every later part
        j = min(max(bisect.bisect_left(cum, target), lo), hi)
        if j > lo and abs(cum[j - 1] - target) <= abs(cum[j] - target):
            j -= 1
        bounds.append(j)
    bounds.append(n)
    return bounds


def split_datadir(d: DataDir, num: int, *, per_utt: bool = False) -> list[DataDir]:
    """Split into ``num`` parts of contiguous speakers (``per_utt``: utterances), balanced
    by the number of utterances, as Kaldi's ``split_data.sh`` does."""
    if num < 1:
        raise UserError(f"cannot split into {num} parts")
    if per_utt:
        groups = [[u] for u in d.utt_ids]
    else:
        groups = list(d.spk2utt.values())
    what = "utterances" if per_utt else "speakers"
    if num > len(groups):
        raise UserError(
            f"cannot split {len(groups)} {what} into {num} parts"
            + ("" if per_utt else " (try --per-utt)")
        )
    bounds = _contiguous_parts([len(g) for g in groups], num)
    return [d.select(u for g in groups[a:b] for u in g) for a, b in pairwise(bounds)]


def split_data(data: str | os.PathLike, num: int, *, per_utt: bool = False) -> Path:
    """Write ``<data>/split<num>[utt]/{1..num}``; the split dir appears whole."""
    data = Path(data)
    d = DataDir.load(data)
    check_data_dir(d, data, check_paths=False)
    parts = split_datadir(d, num, per_utt=per_utt)
    out = data / f"split{num}{'utt' if per_utt else ''}"
    with atomic_dir(out) as tmp:
        for i, part in enumerate(parts, 1):
            part.save(tmp / str(i))
    return out


# --------------------------------------------------------------------------- subset


def first_utts(d: DataDir, n: int) -> list[str]:
    return d.utt_ids[:n]


def last_utts(d: DataDir, n: int) -> list[str]:
    return d.utt_ids[-n:] if n > 0 else []


def random_utts(d: DataDir, n: int, seed: int = 0) -> list[str]:
    """``n`` utterances drawn at random (reproducibly for a ``seed``)."""
    utts = d.utt_ids
    return random.Random(seed).sample(utts, min(n, len(utts)))


def speaker_utts(d: DataDir, n: int, seed: int = 0) -> list[str]:
    """Whole speakers, in random order, until about ``n`` utterances (Kaldi --speakers)."""
    spk2utt = d.spk2utt
    spks = list(spk2utt)
    random.Random(seed).shuffle(spks)
    out: list[str] = []
    for spk in spks:
        if len(out) >= n:
            break
        out += spk2utt[spk]
    return out


def per_speaker_utts(d: DataDir, n: int) -> list[str]:
    """The first ``n`` utterances of every speaker (Kaldi --per-spk)."""
    return [u for utts in d.spk2utt.values() for u in utts[:n]]


def shortest_utts(d: DataDir, n: int) -> list[str]:
    """The ``n`` shortest utterances by ``utt2dur`` (or ``utt2num_frames``)."""
    for name in ("utt2dur", "utt2num_frames"):
        if name in d:
            table = d[name]
            return sorted(table, key=lambda u: (float(table[u]), u))[:n]
    raise UserError("--shortest needs utt2dur or utt2num_frames in the data dir")


def _open_input(path: str) -> tuple[str, list[bytes]]:
    """(display name, lines) of ``path``; ``-`` is standard input."""
    if path == "-":
        data = sys.stdin.buffer.read().split(b"\n")
        if data[-1] == b"":
            data.pop()
        return "<stdin>", data
    return path, raw_lines(Path(path))


def input_fields(files: Sequence[str]) -> Iterator[tuple[str, int, list[str]]]:
    """(file, line number, fields) of every non-blank line of ``files`` (none: standard
    input), as Kaldi's perl tools read their inputs."""
    for path in files or ["-"]:
        name, lines = _open_input(path)
        for lineno, raw in enumerate(lines, 1):
            try:
                fields = raw.decode("utf-8").split()
            except UnicodeDecodeError:
                raise UserError("not valid UTF-8", name, lineno) from None
            if fields:
                yield name, lineno, fields


def read_id_list(path: str | os.PathLike) -> list[str]:
    """The first field of every non-blank line of ``path`` (``-``: standard input)."""
    return [fields[0] for _, _, fields in input_fields([str(path)])]


def spk_list_utts(d: DataDir, spks: Iterable[str]) -> list[str]:
    wanted = set(spks)
    return [u for u, s in d.utt2spk.items() if s in wanted]


# -------------------------------------------------------------------------- combine


def combine_datadirs(
    dirs: Sequence[tuple[str | os.PathLike, DataDir]],
    warn: Callable[[str], None] | None = None,
) -> DataDir:
    """Merge data dirs (given with their paths, for messages).

    An utterance id in two inputs is an error; a speaker or recording id may be shared if
    its entries agree.  A file that must cover all ids but is missing from some input is
    left out with a warning (as Kaldi does), except ``segments``: inputs without it get
    whole-recording segments from ``utt2dur``/``reco2dur`` or the audio.
    """
    warn = warn or (lambda msg: print(f"combine_data: {msg}", file=sys.stderr))
    if not dirs:
        raise UserError("nothing to combine")
    dirs = [(Path(p), d) for p, d in dirs]
    if any(d.has_segments for _, d in dirs) and not all(d.has_segments for _, d in dirs):
        dirs = [(p, d if d.has_segments else with_segments(d)) for p, d in dirs]
    names = list(dict.fromkeys(n for _, d in dirs for n in d.tables))
    must_cover = set(UTT_COVERAGE) | set(RECO_COVERAGE) | set(SPK_COVERAGE)
    out = DataDir()
    for name in names:
        missing = [str(p) for p, d in dirs if name not in d]
        if missing and name in must_cover | {"wav.scp", "segments"}:
            warn(f"leaving out {name}: it is missing from {', '.join(missing)}")
            continue
        merged: dict[str, str] = {}
        origin: dict[str, Path] = {}
        for p, d in dirs:
            for k, v in d.tables.get(name, {}).items():
                if k in merged:
                    if d.key_kind(name) == UTT:
                        raise UserError(
                            f"id '{k}' is also in {origin[k] / name}: ids must be unique "
                            "across the combined directories",
                            p / name,
                            line_of(d[name], k),
                        )
                    if merged[k] != v:
                        raise UserError(
                            f"id '{k}' has a different value in {origin[k] / name}",
                            p / name,
                            line_of(d[name], k),
                        )
                    continue
                merged[k] = v
                origin[k] = p
        out.tables[name] = dict(sorted(merged.items()))
    for _, d in dirs:
        for name, data in d.verbatim.items():
            out.verbatim.setdefault(name, data)
    return out


def with_segments(d: DataDir) -> DataDir:
    """``d`` with a ``segments`` file covering each (utterance = recording) whole."""
    from soundwave.data.audio import audio_info

    durs = d.get("utt2dur") or d.get("reco2dur") or {}
    segments = {}
    for utt in d.utt_ids:
        dur = durs.get(utt)
        if dur is None:
            if utt not in d.tables.get("wav.scp", {}):
                raise UserError(f"cannot make a segment for '{utt}': no utt2dur and no wav.scp")
            dur = format_seconds(audio_info(d["wav.scp"][utt]).duration)
        segments[utt] = f"{utt} 0 {dur}"
    out = DataDir(dict(d.tables), dict(d.verbatim))
    out.tables["segments"] = segments
    if "reco2dur" not in out and "utt2dur" in d:
        out.tables["reco2dur"] = dict(d["utt2dur"])
    return out


# ----------------------------------------------------------------------------- copy


def copy_datadir(
    d: DataDir,
    *,
    utt_prefix: str = "",
    utt_suffix: str = "",
    spk_prefix: str = "",
    spk_suffix: str = "",
) -> DataDir:
    """``d`` with utterance and speaker ids renamed (Kaldi's ``copy_data_dir.sh``).

    Recording ids change with the utterance ids only when there is no ``segments`` file.
    """

    def utt(u: str) -> str:
        return f"{utt_prefix}{u}{utt_suffix}"

    def spk(s: str) -> str:
        return f"{spk_prefix}{s}{spk_suffix}"

    out = DataDir(verbatim=dict(d.verbatim))
    for name, table in d.tables.items():
        key = {UTT: utt, SPK: spk, RECO: str}[d.key_kind(name)]
        if name == "utt2spk":
            new = {utt(u): spk(s) for u, s in table.items()}
        else:
            new = {key(k): v for k, v in table.items()}
        out.tables[name] = dict(sorted(new.items()))
    return out


# ----------------------------------------------------------------------- filter_scp


def filter_scp(
    ids: Iterable[bytes], lines: Iterable[bytes], *, field: int = 1, exclude: bool = False
) -> Iterator[bytes]:
    """The lines (bytes, newline kept) whose ``field``-th field (1-based) is in ``ids``
    (``exclude``: not in), in input order, as Kaldi's ``filter_scp.pl -f``."""
    wanted = set(ids)
    for line in lines:
        fields = line.split()
        if not fields:
            continue
        hit = 0 < field <= len(fields) and fields[field - 1] in wanted
        if hit != exclude:
            yield line if line.endswith(b"\n") else line + b"\n"


def first_fields(stream: BinaryIO) -> Iterator[bytes]:
    for line in stream:
        fields = line.split()
        if fields:
            yield fields[0]
