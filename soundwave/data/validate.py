"""Check a Kaldi data directory as Kaldi's ``validate_data_dir.sh`` does.

The first problem found is raised as one :class:`~soundwave.errors.UserError` naming the
file and line; a good directory passes silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from soundwave.data.audio import audio_info
from soundwave.data.kaldi import DataDir
from soundwave.data.tables import (
    MAX_OVERSHOOT,
    RECO,
    RECO_COVERAGE,
    SPK,
    SPK_COVERAGE,
    UTT,
    UTT_COVERAGE,
    WavSource,
    file_kind,
    format_seconds,
    line_of,
    read_table,
)
from soundwave.errors import UserError


def validate_data_dir(
    path: str | os.PathLike,
    *,
    text: bool = True,
    wav: bool = True,
    feats: bool = True,
    check_paths: bool = True,
) -> DataDir:
    """Validate the data directory ``path`` and return it loaded.

    ``text=False`` (``--no-text``) does not require or check ``text``; ``wav=False``
    (``--no-wav``) ignores ``wav.scp``, ``segments`` and the ``reco2*`` files;
    ``feats=False`` (``--no-feats``) ignores ``feats.scp`` (which is optional anyway).
    ``check_paths`` checks that the audio files and arks named by ``wav.scp`` and
    ``feats.scp`` exist (relative paths: from the current directory, as in Kaldi).
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError("no such data directory", path)
    for name in ("utt2spk", "spk2utt"):
        _require(path, name, "")
    if text:
        _require(path, "text", " (if this is by design, specify --no-text)")
    if wav and not (path / "wav.scp").is_file() and not (feats and (path / "feats.scp").is_file()):
        raise UserError(
            "missing required file: a data dir needs wav.scp or feats.scp "
            "(if this is by design, specify --no-wav)",
            path / "wav.scp",
        )
    skip = set()
    if not text:
        skip.add("text")
    if not feats:
        skip.add("feats.scp")
    if not wav:
        skip.add("segments")
        skip.update(p.name for p in path.iterdir() if file_kind(p.name) == RECO)
    d = DataDir.load(path, skip=skip)
    check_data_dir(d, path, spk2utt=read_table(path / "spk2utt"), check_paths=check_paths)
    return d


def _require(path: Path, name: str, hint: str) -> None:
    if not (path / name).is_file():
        raise UserError(f"missing required file {name}{hint}", path / name)


def check_data_dir(
    d: DataDir,
    where: str | os.PathLike,
    *,
    spk2utt: dict[str, str] | None = None,
    check_paths: bool = True,
) -> None:
    """Check the consistency of ``d`` (its files as they are or would be written in
    ``where``); ``spk2utt`` is the file's content when it exists on disk."""
    where = Path(where)
    utt2spk = d.utt2spk
    if "utt2spk" not in d:
        raise UserError("missing required file utt2spk", where / "utt2spk")
    if not utt2spk:
        raise UserError("no utterances", where / "utt2spk")
    _check_speaker_prefixes(utt2spk, where / "utt2spk")
    if spk2utt is not None:
        _check_spk2utt(d, spk2utt, where)

    keyed_by_utt = ("segments",) if d.has_segments else ("wav.scp",)
    for name, table in d.tables.items():
        if name == "utt2spk":
            continue
        kind = file_kind(name)
        if name in keyed_by_utt or name in UTT_COVERAGE:
            _check_same_ids(table, name, utt2spk, "utt2spk", where)
        elif kind == UTT:
            _check_subset(table, name, utt2spk, "utt2spk", where)
    if d.has_segments:
        _check_segments(d, where, check_paths)

    reco_ids = d.get("wav.scp") or dict.fromkeys(d.reco_ids)
    reco_ref = next(n for n in ("wav.scp", "segments", "utt2spk") if n in d)
    spk_ids = dict.fromkeys(d.spk_ids)
    for name, table in d.tables.items():
        kind = file_kind(name)
        if kind == RECO and name != "wav.scp":
            check = _check_same_ids if name in RECO_COVERAGE else _check_subset
            check(table, name, reco_ids, reco_ref, where)
        elif kind == SPK:
            check = _check_same_ids if name in SPK_COVERAGE else _check_subset
            check(table, name, spk_ids, "utt2spk", where)

    if check_paths:
        for name in ("wav.scp", "feats.scp", "cmvn.scp"):
            if name in d:
                _check_files_exist(d[name], where / name)


def _check_speaker_prefixes(utt2spk: dict[str, str], path: Path) -> None:
    done: set[str] = set()
    prev = None
    for line, (utt, spk) in enumerate(utt2spk.items(), 1):
        if not utt.startswith(spk):
            raise UserError(
                f"utterance id '{utt}' does not start with its speaker id '{spk}' "
                "(Kaldi needs speaker-prefixed utterance ids)",
                path,
                line,
            )
        if spk != prev:
            if spk in done:
                raise UserError(
                    f"the utterances of speaker '{spk}' are not contiguous in sorted order "
                    f"(here after speaker '{prev}'): a speaker id that is a prefix of another "
                    "needs a separator, e.g. 'spk1-' and 'spk10-'",
                    path,
                    line,
                )
            done.add(spk)
            prev = spk


def _check_spk2utt(d: DataDir, spk2utt: dict[str, str], where: Path) -> None:
    expected = d.spk2utt
    for line, (spk, utts) in enumerate(spk2utt.items(), 1):
        if spk not in expected:
            raise UserError(f"speaker '{spk}' is not in utt2spk", where / "spk2utt", line)
        if utts.split() != expected[spk]:
            raise UserError(
                f"the utterances of speaker '{spk}' do not match utt2spk "
                "(regenerate it with utils/utt2spk_to_spk2utt.sh or utils/fix_data_dir.sh)",
                where / "spk2utt",
                line,
            )
    for spk in expected:
        if spk not in spk2utt:
            utt = expected[spk][0]
            raise UserError(
                f"speaker '{spk}' is missing from spk2utt",
                where / "utt2spk",
                line_of(d.utt2spk, utt),
            )


def _first(ids: Iterable[str]) -> str | None:
    return min(ids, default=None)


def _check_subset(
    table: dict[str, str], name: str, ref: dict[str, object], ref_name: str, where: Path
) -> None:
    """Every id of ``table`` must be in ``ref``."""
    extra = _first(k for k in table if k not in ref)
    if extra is not None:
        raise UserError(f"id '{extra}' is not in {ref_name}", where / name, line_of(table, extra))


def _check_same_ids(
    table: dict[str, str], name: str, ref: dict[str, object], ref_name: str, where: Path
) -> None:
    """``table`` must have exactly the ids of ``ref``; a missing id is reported at its
    line in file ``ref_name`` when ``ref`` is that file's table, else against ``name``."""
    extra = _first(k for k in table if k not in ref)
    missing = _first(k for k in ref if k not in table)
    if extra is not None and (missing is None or extra < missing):
        raise UserError(f"id '{extra}' is not in {ref_name}", where / name, line_of(table, extra))
    if missing is not None:
        if isinstance(ref.get(missing), str):  # ref is the table of file ref_name
            raise UserError(
                f"id '{missing}' is missing from {name}",
                where / ref_name,
                line_of(ref, missing),  # type: ignore[arg-type]
            )
        raise UserError(f"id '{missing}' (from {ref_name}) is missing from {name}", where / name)


def _check_segments(d: DataDir, where: Path, read_headers: bool = False) -> None:
    """Each segment's recording exists and the segment ends within it (by ``reco2dur``
    and, with ``read_headers``, by the audio file's own header)."""
    wav = d.get("wav.scp")
    reco2dur = d.get("reco2dur")
    lengths: dict[str, float | None] = {}  # recording -> its audio's duration (None: unknown)
    for line, (utt, seg) in enumerate(d.segments().items(), 1):
        if wav is not None and seg.reco not in wav:
            raise UserError(
                f"segment '{utt}' refers to recording '{seg.reco}', which is not in wav.scp",
                where / "segments",
                line,
            )
        if reco2dur is not None and seg.reco in reco2dur:
            dur = float(reco2dur[seg.reco])
            if seg.end > dur + MAX_OVERSHOOT:
                raise UserError(
                    f"segment '{utt}' ends at {format_seconds(seg.end)} s, past the end of "
                    f"recording '{seg.reco}' ({format_seconds(dur)} s in reco2dur)",
                    where / "segments",
                    line,
                )
        if read_headers and wav is not None:
            if seg.reco not in lengths:
                lengths[seg.reco] = _file_duration(wav[seg.reco])
            length = lengths[seg.reco]
            if length is not None and seg.end > length + MAX_OVERSHOOT:
                raise UserError(
                    f"segment '{utt}' ends at {format_seconds(seg.end)} s, past the end of "
                    f"recording '{seg.reco}' ({length:.3f} s of audio in {wav[seg.reco]})",
                    where / "segments",
                    line,
                )


def _file_duration(value: str) -> float | None:
    """The duration of a ``wav.scp`` file entry from its header (None for a pipe or an
    ark, which would have to be run or read; a missing file is reported elsewhere)."""
    if WavSource.parse(value).kind != "file" or not os.path.isfile(value.strip()):
        return None
    return audio_info(value).duration


def _check_files_exist(table: dict[str, str], path: Path) -> None:
    for line, (key, value) in enumerate(table.items(), 1):
        src = WavSource.parse(value)
        for f in src.files():
            if not os.path.isfile(f):
                what = "ark file" if src.kind == "ark" else "file"
                raise UserError(f"{what} '{f}' of '{key}' does not exist", path, line)
