"""Kaldi data-dir files: their names, how each is keyed, and reading and checking their lines.

A data dir is a set of key-value files, one ``<id> <value>`` per line, sorted in C-locale
(byte) order of the id.  Every file is keyed by one kind of id:

* utterance: ``text``, ``text.*`` (e.g. ``text.de``, a translation), ``utt2*``,
  ``segments``, ``feats.scp``, ``vad.scp``;
* speaker: ``spk2*`` (``spk2utt`` is always derived from ``utt2spk``), ``cmvn.scp``;
* recording: ``wav.scp``, ``reco2*`` — without ``segments`` recordings *are* utterances
  and these files are keyed by utterance id.

Any file following these names travels with the directory through split, subset,
combine, fix and copy.  Files ending in ``.bak``, ``.orig``, ``.old``, ``.tmp``,
``.backup`` or ``~``, hidden files and sub-directories are not part of the data.
``frame_shift`` (one value) is copied as it is.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from soundwave.errors import UserError
from soundwave.fileio import atomic_write

UTT, SPK, RECO = "utt", "spk", "reco"

STANDARD_FILES = (
    "utt2spk",
    "spk2utt",
    "text",
    "wav.scp",
    "segments",
    "feats.scp",
    "utt2dur",
    "utt2num_frames",
    "reco2dur",
    "reco2file_and_channel",
    "spk2gender",
    "cmvn.scp",
)
# Files that, when present, must list every id of their kind (as Kaldi's validate_data_dir
# checks); fix_data_dir keeps only the ids present in all of them.  Other files of a kind
# (extras such as ``text.de`` or ``utt2task``) may cover a subset.
UTT_COVERAGE = ("text", "feats.scp", "utt2dur", "utt2num_frames")
RECO_COVERAGE = ("reco2dur", "reco2file_and_channel")
SPK_COVERAGE = ("spk2gender", "cmvn.scp")
VERBATIM_FILES = ("frame_shift",)
_IGNORED_SUFFIXES = (".bak", ".orig", ".old", ".tmp", ".backup", "~")
_WS = re.compile(r"[ \t]+")
SORTED = "sorted"  # what read_table reports when it had to sort a file


def file_kind(name: str) -> str | None:
    """The kind of id (UTT, SPK or RECO) that keys the file ``name``; None if not data."""
    if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES) or _WS.search(name):
        return None
    if name in ("text", "segments", "feats.scp", "vad.scp") or _has_prefix(name, "text.", "utt2"):
        return UTT
    if name == "cmvn.scp" or _has_prefix(name, "spk2"):
        return SPK
    if name == "wav.scp" or _has_prefix(name, "reco2"):
        return RECO
    return None


def _has_prefix(name: str, *prefixes: str) -> bool:
    return any(name.startswith(p) and len(name) > len(p) for p in prefixes)


class Segment(NamedTuple):
    """One ``segments`` entry: the recording and the time span (seconds) of an utterance."""

    reco: str
    start: float
    end: float


# A segment may end this far past the end of its audio (seconds): reading truncates it.
# Only rounding of the times is forgiven (Kaldi's extract-segments allows 0.5 s); a segment
# further past the end names audio that is not there, so validation and manifests refuse it.
MAX_OVERSHOOT = 0.02
AUDIO_EXTENSIONS = (".wav", ".flac", ".sph", ".mp3", ".ogg", ".opus", ".m4a", ".aiff", ".au")
_ARK = re.compile(r"^(?P<path>.+):(?P<offset>\d+)$")


@dataclass(frozen=True)
class WavSource:
    """A parsed ``wav.scp`` value: a ``file`` path, a ``pipe`` command (without its ``|``)
    or an ``ark`` path with a byte offset (Kaldi's extended filenames)."""

    kind: Literal["file", "pipe", "ark"]
    target: str
    offset: int = 0

    @classmethod
    def parse(cls, value: str) -> WavSource:
        v = value.strip()
        if v.endswith("|"):
            return cls("pipe", v[:-1].strip())
        m = _ARK.match(v)
        if m:
            return cls("ark", m["path"], int(m["offset"]))
        return cls("file", v)

    @property
    def value(self) -> str:
        """The ``wav.scp`` value of this source."""
        if self.kind == "pipe":
            return f"{self.target} |"
        if self.kind == "ark":
            return f"{self.target}:{self.offset}"
        return self.target

    def files(self) -> list[str]:
        """The files this source reads (for a pipe: its arguments that look like audio)."""
        if self.kind != "pipe":
            return [self.target]
        try:
            words = shlex.split(self.target)
        except ValueError:
            return []
        return [w for w in words if w.lower().endswith(AUDIO_EXTENSIONS)]


class LineError(ValueError):
    """A malformed line; ``reason`` is a short category used in fix reports."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def parse_segment(value: str) -> Segment:
    """Parse ``<reco> <start> <end>`` (the value of a ``segments`` line)."""
    fields = _WS.split(value.strip(" \t"))
    if len(fields) != 3:
        raise LineError("malformed segment", "expected '<utt> <recording> <start> <end>'")
    try:
        start, end = float(fields[1]), float(fields[2])
    except ValueError:
        raise LineError("malformed segment", "start and end must be numbers") from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise LineError("malformed segment", "start and end must be finite")
    if start < 0:
        raise LineError("negative segment start", f"start {fields[1]} < 0")
    if end <= start:
        raise LineError("segment end not after start", f"start {fields[1]} >= end {fields[2]}")
    return Segment(fields[0], start, end)


def _check_number(value: str, what: str, kind: type) -> None:
    try:
        x = kind(value)
    except ValueError:
        raise LineError(f"bad {what}", f"'{value}' is not a number") from None
    if not math.isfinite(x) or x < 0:
        raise LineError(f"bad {what}", f"'{value}' must be >= 0")


def check_value(name: str, value: str) -> None:
    """Raise :class:`LineError` if ``value`` is not a valid value for file ``name``."""
    if name == "utt2spk" and _WS.search(value):
        raise LineError("bad speaker id", f"'{value}' contains whitespace")
    elif name == "segments":
        parse_segment(value)
    elif name in ("utt2dur", "reco2dur"):
        _check_number(value, "duration", float)
    elif name == "utt2num_frames":
        _check_number(value, "frame count", int)
    elif name == "spk2gender" and value not in ("m", "f"):
        raise LineError("bad gender", f"'{value}' is not 'm' or 'f'")
    elif name == "reco2file_and_channel" and len(_WS.split(value)) != 2:
        raise LineError("malformed reco2file_and_channel", "expected '<reco> <file> <channel>'")


def parse_line(name: str, raw: bytes, *, repair: bool = False) -> tuple[str, str]:
    """Split one raw line of file ``name`` into (id, value), checking the value.

    With ``repair``, a trailing carriage return is removed instead of being an error.
    """
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LineError("not valid UTF-8", f"bad byte at column {e.start + 1}") from None
    if s.endswith("\r"):
        if not repair:
            raise LineError("DOS line ending", "line ends with a carriage return")
        s = s.rstrip("\r")
    s = s.strip(" \t")
    if not s:
        raise LineError("empty line")
    parts = _WS.split(s, maxsplit=1)
    if len(parts) == 1:
        raise LineError("no value", f"'{parts[0]}' has no value")
    key, value = parts
    check_value(name, value)
    return key, value


def raw_lines(path: Path) -> list[bytes]:
    """The lines of ``path`` as bytes, without their newlines."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as e:
        raise UserError(f"cannot read: {e.strerror}", path) from None
    if lines[-1] == b"":
        lines.pop()
    return lines


def read_table(
    path: str | os.PathLike, *, strict: bool = True, on_fix: Callable[[str], None] | None = None
) -> dict[str, str]:
    """Read a key-value file into a dict in file order.

    ``strict``: any malformed line, duplicate id or unsorted id is a :class:`UserError`
    naming the file and line.  Otherwise (for fix_data_dir) malformed lines and identical
    duplicate lines are dropped and DOS line endings removed, each change reported to
    ``on_fix``; the result is sorted, and only two different values for one id are an error.
    """
    path = Path(path)
    if strict:
        return _read_strict(path)
    return _read_lenient(path, on_fix or (lambda _: None))


def _read_strict(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    prev: str | None = None
    for lineno, raw in enumerate(raw_lines(path), 1):
        try:
            key, value = parse_line(path.name, raw)
        except LineError as e:
            raise UserError(str(e), path, lineno) from None
        if key == prev:
            raise UserError(f"duplicate id '{key}' (also on line {lineno - 1})", path, lineno)
        if prev is not None and key < prev:
            raise UserError(
                f"not sorted: '{key}' comes after '{prev}' (sort with LC_ALL=C sort -k1,1, "
                "or run utils/fix_data_dir.sh)",
                path,
                lineno,
            )
        entries[key] = value
        prev = key
    return entries


def _read_lenient(path: Path, note: Callable[[str], None]) -> dict[str, str]:
    entries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(raw_lines(path), 1):
        try:
            key, value = parse_line(path.name, raw, repair=True)
        except LineError as e:
            note(f"dropped ({e.reason})")
            continue
        if raw.endswith(b"\r"):
            note("fixed (DOS line ending removed)")
        if key not in entries:
            entries[key] = value
            first_line[key] = lineno
        elif entries[key] == value:
            note("dropped (duplicate)")
        else:
            raise UserError(
                f"cannot repair: id '{key}' has a different value on line {first_line[key]}; "
                "remove one of the two lines",
                path,
                lineno,
            )
    keys = list(entries)
    if keys != sorted(keys):
        note(SORTED)
        return dict(sorted(entries.items()))
    return entries


def utt2spk_to_spk2utt(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group (utt, spk) pairs by speaker, speakers and utterances in order of appearance."""
    spk2utt: dict[str, list[str]] = {}
    for utt, spk in pairs:
        spk2utt.setdefault(spk, []).append(utt)
    return spk2utt


def data_file_names(path: Path) -> list[str]:
    """The data files of directory ``path``: standard ones first, then the rest sorted."""
    names = {
        p.name
        for p in path.iterdir()
        if p.is_file() and (file_kind(p.name) is not None or p.name in VERBATIM_FILES)
    }
    return [n for n in STANDARD_FILES if n in names] + sorted(names - set(STANDARD_FILES))


def format_seconds(x: float) -> str:
    """Seconds as Kaldi writes them: fixed point, trailing zeros removed (``1.5``, ``11``)."""
    return f"{x:.4f}".rstrip("0").rstrip(".") or "0"


def line_of(table: dict[str, str], key: str) -> int:
    """The 1-based line of ``key`` in ``table`` as written (tables are kept sorted)."""
    for i, k in enumerate(table, 1):
        if k == key:
            return i
    raise KeyError(key)


def write_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_write(path, "wb") as f:
        f.write(data)
