"""LibriSpeech (openslr.org/12) into Kaldi data directories.

The corpus as released::

    LibriSpeech/SPEAKERS.TXT, CHAPTERS.TXT, BOOKS.TXT, ...
    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt   "<utt> UPPER CASE TEXT"
    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac

lhotse's ``prepare_librispeech`` reads the subsets (one recording and one supervision per
transcript line); :func:`soundwave.data.lhotse_io.cuts_to_datadir` writes each as a data
directory ``<data>/<subset with _>`` (``dev-clean`` -> ``dev_clean``, as Kaldi's recipe
names them).  The utterance ids ``<spk>-<chapter>-<nnnn>`` already start with their
speaker.  lhotse does not read SPEAKERS.TXT: it is parsed here for ``spk2gender``, as
Kaldi's ``egs/librispeech/s5/local/data_prep.sh`` does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from soundwave.errors import UserError

SUBSETS = (
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
)
SPEAKERS_FILE = "SPEAKERS.TXT"


def datadir_name(subset: str) -> str:
    """The data directory name of a subset (``dev-clean`` -> ``dev_clean``)."""
    return subset.replace("-", "_")


def read_speakers(path: str | os.PathLike) -> dict[str, str]:
    """Speaker id -> ``m`` / ``f`` from SPEAKERS.TXT (``;`` comments, ``ID | SEX | ...``)."""
    genders: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise UserError(f"cannot read the speaker list: {err.strerror}", path) from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 3 or not fields[0].isdigit() or fields[1].upper() not in ("M", "F"):
            raise UserError(
                f"expected 'ID | SEX | SUBSET | MINUTES | NAME', got {line!r}", path, lineno
            )
        genders[fields[0]] = fields[1].lower()
    return genders


def prepare_librispeech_datadirs(
    corpus_dir: str | os.PathLike,
    subsets: list[str],
    data_root: str | os.PathLike,
    num_jobs: int = 1,
) -> dict[str, Path]:
    """Write ``<data_root>/<subset with _>/`` for each subset; return subset -> its dir."""
    from lhotse import CutSet, SupervisionSet
    from lhotse.recipes import prepare_librispeech

    from soundwave.data.lhotse_io import cuts_to_datadir

    corpus = Path(corpus_dir).resolve()  # wav.scp gets absolute paths
    for subset in subsets:
        if subset not in SUBSETS:
            raise UserError(f"unknown LibriSpeech subset '{subset}' (one of {', '.join(SUBSETS)})")
        if not (corpus / subset).is_dir():
            raise UserError(f"no subset '{subset}' here (unpack its tarball into it)", corpus)
    genders = read_speakers(corpus / SPEAKERS_FILE)
    logging.getLogger("lhotse").setLevel(logging.ERROR)  # a progress line per subset
    try:
        manifests = prepare_librispeech(corpus, dataset_parts=list(subsets), num_jobs=num_jobs)
    except ValueError as err:  # a transcript line without text, ...
        raise UserError(f"lhotse's prepare_librispeech failed: {err}", corpus) from None
    dirs = {}
    for subset in subsets:
        m = manifests.get(subset)
        if not m or len(m["supervisions"]) == 0:
            raise UserError(f"no utterances (*.trans.txt with FLAC files) in '{subset}'", corpus)
        sups = SupervisionSet.from_segments(
            _with_gender(s, genders, corpus) for s in m["supervisions"]
        )
        cuts = CutSet.from_manifests(recordings=m["recordings"], supervisions=sups)
        out = Path(data_root) / datadir_name(subset)
        cuts_to_datadir(cuts, out, language="English")  # lhotse's language name: no utt2lang
        dirs[subset] = out
    return dirs


def _with_gender(sup, genders: dict[str, str], corpus: Path):
    gender = genders.get(sup.speaker)
    if gender is None:
        raise UserError(
            f"speaker {sup.speaker} (utterance {sup.id}) is not listed", corpus / SPEAKERS_FILE
        )
    return dataclasses.replace(sup, gender=gender)
