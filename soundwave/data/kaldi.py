"""Kaldi data directories: a small in-memory model over their files (:mod:`.tables`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from soundwave.data.tables import (
    RECO,
    SPK,
    STANDARD_FILES,
    UTT,
    VERBATIM_FILES,
    Segment,
    data_file_names,
    file_kind,
    parse_segment,
    read_table,
    utt2spk_to_spk2utt,
    write_file,
)
from soundwave.errors import UserError
from soundwave.fileio import atomic_dir


@dataclass
class DataDir:
    """A Kaldi data directory in memory: one sorted dict per file, keyed by file name.

    ``spk2utt`` is not stored: it is derived from ``utt2spk`` (:attr:`spk2utt`) and
    written by :meth:`save`.
    """

    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    verbatim: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        skip: Collection[str] = (),
        strict: bool = True,
        on_fix: Callable[[str, str], None] | None = None,
    ) -> DataDir:
        """Read every data file of ``path`` but ``skip`` (see :func:`read_table` for
        ``strict``; ``on_fix`` gets the file name and the change)."""
        path = Path(path)
        if not path.is_dir():
            raise UserError("no such data directory", path)
        d = cls()
        for name in data_file_names(path):
            if name in skip or name == "spk2utt":
                continue
            if name in VERBATIM_FILES:
                d.verbatim[name] = (path / name).read_bytes()
            else:
                note = (lambda msg, name=name: on_fix(name, msg)) if on_fix else None
                d.tables[name] = read_table(path / name, strict=strict, on_fix=note)
        return d

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def get(self, name: str) -> dict[str, str] | None:
        return self.tables.get(name)

    def __getitem__(self, name: str) -> dict[str, str]:
        return self.tables[name]

    @property
    def utt2spk(self) -> dict[str, str]:
        return self.tables.get("utt2spk", {})

    @property
    def utt_ids(self) -> list[str]:
        return list(self.utt2spk)

    @property
    def spk_ids(self) -> list[str]:
        return sorted(set(self.utt2spk.values()))

    @property
    def spk2utt(self) -> dict[str, list[str]]:
        return dict(sorted(utt2spk_to_spk2utt(self.utt2spk.items()).items()))

    @property
    def has_segments(self) -> bool:
        return "segments" in self.tables

    def key_kind(self, name: str) -> str:
        """The kind of id keying file ``name`` here: recording files are keyed by
        utterance when there is no ``segments``."""
        kind = file_kind(name) or UTT
        return UTT if kind == RECO and not self.has_segments else kind

    def segments(self) -> dict[str, Segment]:
        """The parsed ``segments`` file (empty without one)."""
        return {u: parse_segment(v) for u, v in self.tables.get("segments", {}).items()}

    def reco_of(self) -> dict[str, str]:
        """Utterance id -> recording id (the utterance itself without ``segments``)."""
        if self.has_segments:
            return {u: s.reco for u, s in self.segments().items()}
        return {u: u for u in self.utt2spk}

    @property
    def reco_ids(self) -> list[str]:
        if "wav.scp" in self.tables:
            return list(self.tables["wav.scp"])
        return sorted(set(self.reco_of().values()))

    @property
    def extras(self) -> dict[str, dict[str, str]]:
        """The non-standard files (``text.de``, ``utt2task``, ``spk2age``, …)."""
        return {n: t for n, t in self.tables.items() if n not in STANDARD_FILES}

    def select(self, utts: Iterable[str]) -> DataDir:
        """The sub-directory of utterances ``utts``, with their speakers and recordings."""
        keep = set(utts) & self.utt2spk.keys()
        reco_of = self.reco_of()
        ids = {
            UTT: keep,
            SPK: {self.utt2spk[u] for u in keep},
            RECO: {reco_of[u] for u in keep if u in reco_of},
        }
        out = DataDir(verbatim=dict(self.verbatim))
        for name, table in self.tables.items():
            wanted = ids[self.key_kind(name)]
            out.tables[name] = {k: v for k, v in table.items() if k in wanted}
        return out

    def sort(self) -> DataDir:
        """Sort every table by id (C-locale order) in place; returns ``self``."""
        self.tables = {n: dict(sorted(t.items())) for n, t in self.tables.items()}
        return self

    def render(self) -> dict[str, bytes]:
        """The bytes of every file this directory writes, ``spk2utt`` included."""
        files = {
            name: "".join(f"{k} {v}\n" for k, v in sorted(t.items())).encode()
            for name, t in self.tables.items()
        }
        if "utt2spk" in self.tables:
            files["spk2utt"] = "".join(
                f"{s} {' '.join(us)}\n" for s, us in self.spk2utt.items()
            ).encode()
        files.update(self.verbatim)
        return files

    def save(self, path: str | os.PathLike) -> Path:
        """Write the directory; a new one appears whole, an existing one file by file.

        Data files of an existing directory that this one does not have are removed;
        anything else there (sub-directories, ``conf``, backups) is left alone.
        """
        path = Path(path)
        files = self.render()
        if not path.exists():
            with atomic_dir(path) as tmp:
                for name, data in files.items():
                    (tmp / name).write_bytes(data)
            return path
        if not path.is_dir():
            raise UserError("exists and is not a directory", path)
        for name, data in files.items():
            write_file(path / name, data)
        for name in data_file_names(path):
            if name not in files:
                (path / name).unlink()
        return path
