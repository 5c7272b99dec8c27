"""Repair a Kaldi data directory as Kaldi's ``fix_data_dir.sh`` does, and say what changed.

Repairs: sort every file; drop identical duplicate lines, empty lines, lines without a
value, lines that are not UTF-8 and malformed values; keep only the utterances present in
every file that must cover them (``utt2spk``, ``text``, ``segments`` or ``wav.scp``,
``feats.scp``, ``utt2dur``, ``utt2num_frames``) and whose speaker and recording survive;
drop segments of unknown recordings or past a recording's end; drop recordings and
speakers left without utterances; regenerate ``spk2utt``.  The originals go to
``<dir>/.backup``.  What cannot be repaired (ids not prefixed by their speaker, two values
for one id) is a :class:`~soundwave.errors.UserError`, and the directory is left as it was.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from soundwave.data.kaldi import DataDir
from soundwave.data.tables import (
    MAX_OVERSHOOT,
    RECO,
    RECO_COVERAGE,
    SORTED,
    SPK,
    SPK_COVERAGE,
    UTT,
    UTT_COVERAGE,
    data_file_names,
    write_file,
)
from soundwave.data.validate import check_data_dir
from soundwave.errors import UserError

UTTERANCES = "utterances"  # the report's pseudo-file for utterance-level drops


@dataclass
class FixReport:
    """What :func:`fix_data_dir` changed: ``changes[(file, what)]`` is a count."""

    path: Path
    changes: Counter[tuple[str, str]] = field(default_factory=Counter)
    utts_before: int = 0
    utts_after: int = 0
    spks_after: int = 0
    recos_after: int = 0
    written: bool = False

    def note(self, name: str, what: str, n: int = 1) -> None:
        self.changes[(name, what)] += n

    def lines(self) -> list[str]:
        out = []
        for (name, what), n in sorted(self.changes.items()):
            if what == SORTED:
                out.append(f"{self.path / name}: sorted")
            elif name == UTTERANCES:
                out.append(f"{self.path}: {n} utterance{'s' * (n != 1)} dropped ({what})")
            else:
                out.append(f"{self.path / name}: {n} line{'s' * (n != 1)} {what}")
        summary = (
            f"{self.path}: kept {self.utts_after} of {self.utts_before} utterances, "
            f"{self.spks_after} speakers, {self.recos_after} recordings"
        )
        if self.written:
            out.append(f"{summary}; originals in {self.path / '.backup'}")
        else:
            out.append(f"{summary}; nothing to fix")
        return out


def _drop(
    d: DataDir, name: str, keep: Callable[[str, str], bool], why: str, note: Callable
) -> None:
    table = d.tables[name]
    kept = {k: v for k, v in table.items() if keep(k, v)}
    if len(kept) < len(table):
        note(UTTERANCES if name == "utt2spk" else name, why, len(table) - len(kept))
        d.tables[name] = kept


def repair(d: DataDir, note: Callable[[str, str, int], None]) -> DataDir:
    """The repaired copy of a leniently loaded ``d``; ``note(file, what, count)`` hears
    every drop."""
    d = DataDir({n: dict(t) for n, t in d.tables.items()}, dict(d.verbatim))
    # Recordings: those in wav.scp and every recording-level file that must cover them.
    if d.has_segments:
        for name in RECO_COVERAGE:
            if name in d and "wav.scp" in d:
                cover = d[name]
                _drop(
                    d,
                    "wav.scp",
                    lambda k, _, c=cover: k in c,
                    f"dropped (recording missing from {name})",
                    note,
                )
        segs = d.segments()
        if "wav.scp" in d:
            wav = d["wav.scp"]
            _drop(
                d,
                "segments",
                lambda u, _: segs[u].reco in wav,
                "dropped (recording not in wav.scp)",
                note,
            )
        if "reco2dur" in d:
            dur = {k: float(v) for k, v in d["reco2dur"].items()}
            _drop(
                d,
                "segments",
                lambda u, _: segs[u].end <= dur.get(segs[u].reco, float("inf")) + MAX_OVERSHOOT,
                "dropped (segment ends past its recording's end in reco2dur)",
                note,
            )
    # Speakers: drop the utterances of speakers missing from spk2gender / cmvn.scp.
    for name in SPK_COVERAGE:
        if name in d:
            cover = d[name]
            _drop(d, "utt2spk", lambda _, s, c=cover: s in c, f"speaker missing from {name}", note)
    # Utterances: those in every file that must cover them.
    coverage = ["segments"] if d.has_segments else ["wav.scp", *RECO_COVERAGE]
    for name in [*coverage, *UTT_COVERAGE]:
        if name in d:
            cover = d[name]
            _drop(d, "utt2spk", lambda u, _, c=cover: u in c, f"missing from {name}", note)
    # Everything else follows the surviving utterances.
    utts = d.utt2spk.keys()
    spks = set(d.utt2spk.values())
    recos = set(d.reco_of().values())
    reasons = {
        UTT: (utts, "dropped (utterance not kept)"),
        SPK: (spks, "dropped (speaker without utterances)"),
        RECO: (recos, "dropped (recording without utterances)"),
    }
    for name in list(d.tables):
        ids, why = reasons[d.key_kind(name)]
        _drop(d, name, lambda k, _, ids=ids: k in ids, why, note)
    return d


def fix_data_dir(
    path: str | os.PathLike, *, check_paths: bool = True, backup: bool = True
) -> FixReport:
    """Repair the data directory ``path`` in place (see the module docstring)."""
    path = Path(path)
    report = FixReport(path)
    if not (path / "utt2spk").is_file():
        raise UserError("cannot repair: missing required file utt2spk", path / "utt2spk")
    raw = DataDir.load(path, strict=False, on_fix=report.note)
    report.utts_before = len(raw.utt2spk)
    fixed = repair(raw, report.note)
    if not fixed.utt2spk:
        raise UserError("cannot repair: no utterance is left in every file", path)
    try:
        check_data_dir(fixed, path, check_paths=check_paths)
    except UserError as e:
        raise UserError(f"cannot repair: {e.message}", e.path, e.line) from None
    report.utts_after = len(fixed.utt2spk)
    report.spks_after = len(fixed.spk_ids)
    report.recos_after = len(fixed.reco_ids)

    files = fixed.render()
    on_disk = data_file_names(path)
    changed = [n for n, data in files.items() if _read(path / n) != data]
    stale = [n for n in on_disk if n not in files]
    if changed or stale:
        if backup:
            bak = path / ".backup"
            bak.mkdir(exist_ok=True)
            for name in on_disk:
                shutil.copy2(path / name, bak / name)
        for name in changed:
            write_file(path / name, files[name])
        for name in stale:
            (path / name).unlink()
        report.written = True
    return report


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
