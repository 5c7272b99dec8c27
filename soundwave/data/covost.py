"""CoVoST 2 (speech translation over Common Voice): the released TSVs into Kaldi data dirs.

lhotse has no CoVoST 2 preparer, and its ``prepare_commonvoice`` reads Common Voice's own
splits (with the columns of later releases), not CoVoST's.  CoVoST 2's
``get_covost_splits.py`` writes, per language pair and split,
``covost_v2.<src>_<tgt>.<split>.tsv``: a header, then one clip per line with the
tab-separated columns ``path sentence translation client_id`` (pandas with
``quoting=QUOTE_NONE`` and ``\\`` as the escape character).  ``path`` names an MP3 clip
of ``<cv_root>/<src>/clips/``, ``client_id`` its Common Voice speaker.

CoVoST names a pair by Common Voice's language codes, some with a region (``en_de``,
``en_zh-CN``, ``en_sv-SE``); the translation file is named by the language alone
(``text.zh``), as the ``st_<src>_<tgt>`` tasks read it.

The En->X pairs translate the same English clips, so one data dir per split holds them
all: ``text`` (the source transcript), ``text.<tgt>`` per pair, ``utt2spk`` (the
``client_id``) and ``wav.scp`` (the clip's absolute path: ``make_manifests`` turns MP3
into an ffmpeg command source).  Utterance ids are ``<client_id>-<clip stem>``, so that
they sort by speaker.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from soundwave.data.kaldi import DataDir
from soundwave.errors import UserError

COLUMNS = ("path", "sentence", "translation", "client_id")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class CovostRow:
    """One clip of a CoVoST TSV and the line it was read from."""

    path: str
    sentence: str
    translation: str
    client_id: str
    line: int


def pair_tsv(covost_dir: str | os.PathLike, pair: str, split: str) -> Path:
    """Where ``get_covost_splits.py`` writes a pair's split (``pair``: ``en_de``, ``en_zh-CN``)."""
    return Path(covost_dir) / f"covost_v2.{pair}.{split}.tsv"


def _one_line(text: str) -> str:
    # an escaped newline or tab in a field would break a Kaldi line
    return " ".join(text.split())


def read_covost_tsv(path: str | os.PathLike) -> list[CovostRow]:
    """The rows of one CoVoST 2 split TSV; a bad row is a :class:`UserError` naming its line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return _parse_rows(path, f)
    except FileNotFoundError:
        raise UserError("CoVoST 2 TSV not found (written by get_covost_splits.py)", path) from None
    except UnicodeDecodeError as err:
        raise UserError(f"not valid UTF-8 (byte {err.start})", path) from None
    except csv.Error as err:
        raise UserError(f"not a TSV: {err}", path) from None


def _parse_rows(path: Path, f: TextIO) -> list[CovostRow]:
    # the dialect get_covost_splits.py writes with (pandas, QUOTE_NONE, "\\" escapes)
    reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise UserError(f"expected the header '{' '.join(COLUMNS)}', got {header!r}", path, 1)
    rows: list[CovostRow] = []
    first_line: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(COLUMNS):
            raise UserError(
                f"expected {len(COLUMNS)} tab-separated fields ({' '.join(COLUMNS)}), "
                f"got {len(fields)}",
                path,
                line,
            )
        clip, sentence, translation, client_id = (_one_line(f) for f in fields)
        for name, value in zip(COLUMNS, (clip, sentence, translation, client_id)):
            if not value:
                raise UserError(f"empty {name}", path, line)
        if " " in client_id:
            raise UserError(
                f"client_id {client_id!r} has a space (a speaker id has none)", path, line
            )
        if " " in clip or "/" in clip:
            raise UserError(f"path {clip!r} is not a clip file name", path, line)
        if clip in first_line:
            raise UserError(f"clip {clip!r} again (also on line {first_line[clip]})", path, line)
        first_line[clip] = line
        rows.append(CovostRow(clip, sentence, translation, client_id, line))
    return rows


def target_language(pair: str) -> str:
    """The language of a pair's translations, without region: ``en_zh-CN`` -> ``zh``."""
    return pair.split("_")[1].split("-")[0]


@dataclass
class _Utterance:
    row: CovostRow
    where: str  # "<tsv>:<line>" of its first row, for messages
    translations: dict[str, str] = field(default_factory=dict)


def covost_data_dir(
    covost_dir: str | os.PathLike,
    cv_root: str | os.PathLike,
    pairs: Sequence[str],
    split: str,
    *,
    skip_missing_clips: bool = False,
    log: Callable[[str], None] = print,
) -> DataDir:
    """The Kaldi data dir of one split over the language pairs ``pairs`` (``en_de`` ...),
    which must share their source language."""
    sources = {p.split("_")[0] for p in pairs}
    if not pairs or len(sources) != 1 or any(p.count("_") != 1 for p in pairs):
        raise UserError(f"language pairs {' '.join(pairs)!r}: need <src>_<tgt> with one source")
    clips = Path(cv_root) / sources.pop() / "clips"
    if not clips.is_dir():
        raise UserError("no such Common Voice clips directory", clips)
    utts: dict[str, _Utterance] = {}
    missing = 0
    for pair in pairs:
        tsv = pair_tsv(covost_dir, pair, split)
        target = target_language(pair)
        for row in read_covost_tsv(tsv):
            utt = utts.get(row.path)
            if utt is None:
                if not (clips / row.path).is_file():
                    if not skip_missing_clips:
                        raise UserError(f"clip {row.path!r} not found in {clips}", tsv, row.line)
                    missing += 1
                    continue
                utt = utts[row.path] = _Utterance(row, f"{tsv}:{row.line}")
            elif (utt.row.sentence, utt.row.client_id) != (row.sentence, row.client_id):
                raise UserError(
                    f"clip {row.path!r}: sentence or client_id differ from {utt.where} "
                    "(TSVs of different releases?)",
                    tsv,
                    row.line,
                )
            utt.translations[f"text.{target}"] = row.translation
    if missing:
        log(f"{split}: skipped {missing} rows whose clip is not in {clips}")
    if not utts:
        raise UserError(f"no clip of split {split!r} found in {clips}")
    tables: dict[str, dict[str, str]] = {"wav.scp": {}, "text": {}, "utt2spk": {}}
    for utt in utts.values():
        uid = f"{utt.row.client_id}-{Path(utt.row.path).stem}"
        tables["wav.scp"][uid] = str((clips / utt.row.path).resolve())
        tables["text"][uid] = utt.row.sentence
        tables["utt2spk"][uid] = utt.row.client_id
        for name, text in utt.translations.items():
            tables.setdefault(name, {})[uid] = text
    return DataDir(tables=tables).sort()


def prepare_covost2(
    covost_dir: str | os.PathLike,
    cv_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    pairs: Sequence[str],
    splits: Sequence[str] = SPLITS,
    *,
    skip_missing_clips: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Write ``<out_dir>/<split>/`` for every split; returns the utterances of each.

    Every split is read and checked before any data dir is written.
    """
    dirs = {
        s: covost_data_dir(
            covost_dir, cv_root, pairs, s, skip_missing_clips=skip_missing_clips, log=log
        )
        for s in splits
    }
    for split, data in dirs.items():
        data.save(Path(out_dir) / split)
        extras = " ".join(sorted(data.extras))
        log(
            f"{Path(out_dir) / split}: {len(data.utt_ids)} utterances, {len(data.spk_ids)} speakers, {extras}"
        )
    return {s: len(d.utt_ids) for s, d in dirs.items()}
