"""Bridge Kaldi data directories and lhotse manifests, in both directions.

Data dir -> lhotse: one :class:`~lhotse.Recording` per ``wav.scp`` entry (a path is a
``file`` source, a ``cmd |`` pipe a ``command`` source, and an ark entry ``x.ark:123`` a
``command`` source running ``python -m soundwave.bin.ark_to_wav x.ark:123``), one
:class:`~lhotse.SupervisionSegment` per utterance (id = utterance id) with its text,
speaker, gender (``spk2gender``) and language (``utt2lang``, else a default), and one cut
per utterance (id = utterance id; a ``MultiCut`` over all channels of a multi-channel
recording; :func:`soundwave.features.fbank.to_mono_16k` then makes the audio Whisper's).

Every extra file travels in ``supervision.custom``: a per-utterance file under its name
without a leading ``utt2`` (``utt2task`` -> ``task``, ``text.de`` -> ``text.de``), a
per-speaker or per-recording one under its full name (``spk2age``,
``reco2file_and_channel``).  :func:`cuts_to_datadir` writes them back under the same names.
``feats.scp``/``cmvn.scp`` do not travel: lhotse features are computed from the audio.

Sample counts come from the audio header for files; for pipes and arks, from
``reco2dur`` (``utt2dur`` without ``segments``) when ``sampling_rate`` is given, else the
command is run once.  ``cuts_to_datadir`` always writes ``utt2dur`` (and ``reco2dur`` with
``segments``).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import sys
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from lhotse import (
    AudioSource,
    CutSet,
    MonoCut,
    MultiCut,
    Recording,
    RecordingSet,
    SupervisionSegment,
    SupervisionSet,
)
from lhotse.cut import Cut
from lhotse.lazy import Dillable
from lhotse.utils import fastcopy

from soundwave.data.audio import audio_info
from soundwave.data.kaldi import DataDir
from soundwave.data.shar import SharCuts, is_shar_dir, scan_shar
from soundwave.data.tables import (
    MAX_OVERSHOOT,
    RECO,
    SPK,
    STANDARD_FILES,
    UTT,
    WavSource,
    file_kind,
    format_seconds,
    read_table,
)
from soundwave.data.validate import check_data_dir
from soundwave.errors import UserError
from soundwave.fileio import atomic_path, atomic_write, reported_as_user_error

ARK_TO_WAV = "soundwave.bin.ark_to_wav"
_ARK_COMMAND = re.compile(rf"-m {re.escape(ARK_TO_WAV)} (?P<arg>\S.*)$")
# Files that lhotse represents itself (or that do not travel, like features).
_NOT_CUSTOM = {*STANDARD_FILES, "vad.scp"} - {"reco2file_and_channel"}
# Duration agreement tolerated between a supervision and its recording (seconds).
_DURATION_TOLERANCE = 1e-3


def custom_key(name: str) -> str:
    """The ``supervision.custom`` key of extra file ``name`` (``utt2task`` -> ``task``)."""
    return name[4:] if name.startswith("utt2") else name


def custom_file(key: str) -> str:
    """The data-dir file of ``supervision.custom[key]`` (inverse of :func:`custom_key`)."""
    if file_kind(key) in (SPK, RECO) or key == "text" or key.startswith("text."):
        return key
    return f"utt2{key}"


def audio_source(value: str, channels: list[int]) -> AudioSource:
    """The lhotse source of a ``wav.scp`` value."""
    src = WavSource.parse(value)
    if src.kind == "file":
        return AudioSource("file", channels, src.target)
    if src.kind == "pipe":
        return AudioSource("command", channels, src.target)
    command = f"{shlex.quote(sys.executable)} -m {ARK_TO_WAV} {shlex.quote(src.value)}"
    return AudioSource("command", channels, command)


def wav_scp_value(rec: Recording) -> str:
    """The ``wav.scp`` value of a recording (inverse of :func:`audio_source`)."""
    if len(rec.sources) != 1:
        raise UserError(
            f"recording '{rec.id}' has {len(rec.sources)} audio sources; wav.scp takes one"
        )
    src = rec.sources[0]
    if src.type == "file":
        return src.source
    if src.type == "command":
        m = _ARK_COMMAND.search(src.source)
        return shlex.split(m["arg"])[0] if m else f"{src.source} |"
    raise UserError(f"recording '{rec.id}' has a '{src.type}' source, which wav.scp cannot hold")


def recording_of(
    reco: str, value: str, dur: str | None = None, sampling_rate: int | None = None
) -> Recording:
    """The lhotse Recording of a ``wav.scp`` value, all channels (a pipe with a known
    duration and rate is not run to find out)."""
    if WavSource.parse(value).kind != "file" and dur is not None and sampling_rate:
        sr, n, nch = sampling_rate, round(float(dur) * sampling_rate), 1
    else:
        info = audio_info(value)
        sr, n, nch = info.sampling_rate, info.num_samples, info.num_channels
    return Recording(
        id=reco,
        sources=[audio_source(value, list(range(nch)))],
        sampling_rate=sr,
        num_samples=n,
        duration=n / sr,
    )


def _load(data: DataDir | str | os.PathLike) -> tuple[DataDir, Path]:
    if isinstance(data, DataDir):
        return data, Path("<data dir>")
    return DataDir.load(data), Path(data)


def datadir_to_manifests(
    data: DataDir | str | os.PathLike,
    *,
    language: str = "en",
    sampling_rate: int | None = None,
) -> tuple[RecordingSet, SupervisionSet]:
    """Recordings and supervisions (one per utterance) of a data directory."""
    d, where = _load(data)
    if "wav.scp" not in d:
        raise UserError("missing wav.scp: lhotse manifests need audio", where / "wav.scp")
    on_disk = where / "spk2utt"
    spk2utt = read_table(on_disk) if not isinstance(data, DataDir) and on_disk.is_file() else None
    check_data_dir(d, where, spk2utt=spk2utt, check_paths=False)
    durs = d.get("reco2dur" if d.has_segments else "utt2dur") or {}
    recs = {}
    for line, (reco, value) in enumerate(d["wav.scp"].items(), 1):
        try:
            recs[reco] = recording_of(reco, value, durs.get(reco), sampling_rate)
        except UserError as err:  # a pipe's or an ark's error names no file: the line does
            if err.path is not None:
                raise
            raise UserError(f"recording '{reco}': {err.message}", where / "wav.scp", line) from None
        if recs[reco].num_samples == 0:
            raise UserError(f"recording '{reco}' has no audio (0 samples)", where / "wav.scp", line)
    segments = d.segments()
    seg_line = {utt: i for i, utt in enumerate(segments, 1)}
    text = d.get("text") or {}
    gender = d.get("spk2gender") or {}
    custom = [
        (custom_key(n), d.key_kind(n), t) for n, t in d.tables.items() if n not in _NOT_CUSTOM
    ]
    sups = []
    for utt, spk in d.utt2spk.items():
        rec = recs[segments[utt].reco if segments else utt]
        start, end = (segments[utt].start, segments[utt].end) if segments else (0.0, rec.duration)
        if end > rec.duration + MAX_OVERSHOOT:
            raise UserError(
                f"segment '{utt}' ends at {format_seconds(end)} s, past the end of recording "
                f"'{rec.id}' ({rec.duration:.3f} s of audio)",
                where / "segments",
                seg_line[utt],
            )
        end = min(end, rec.duration)  # rounding of the times: within MAX_OVERSHOOT
        id_of = {UTT: utt, SPK: spk, RECO: rec.id}
        extra = {k: t[id_of[kind]] for k, kind, t in custom if id_of[kind] in t}
        sups.append(
            SupervisionSegment(
                id=utt,
                recording_id=rec.id,
                start=start,
                duration=end - start,
                channel=rec.channel_ids if rec.num_channels > 1 else rec.channel_ids[0],
                text=text.get(utt),
                speaker=spk,
                language=extra.get("lang", language),
                gender=gender.get(spk),
                custom=extra or None,
            )
        )
    return RecordingSet.from_recordings(recs.values()), SupervisionSet.from_segments(sups)


def manifests_to_cuts(recordings: RecordingSet, supervisions: SupervisionSet) -> CutSet:
    """One cut per supervision, spanning it, with the cut id = the supervision id."""
    cuts = []
    for sup in supervisions:
        if sup.recording_id not in recordings:
            raise UserError(
                f"supervision '{sup.id}' refers to unknown recording '{sup.recording_id}'"
            )
        rec = recordings[sup.recording_id]
        cls = MultiCut if rec.num_channels > 1 else MonoCut
        channel = rec.channel_ids if rec.num_channels > 1 else rec.channel_ids[0]
        cuts.append(
            cls(
                id=sup.id,
                start=sup.start,
                duration=sup.duration,
                channel=channel,
                recording=rec,
                supervisions=[fastcopy(sup, start=0.0)],
            )
        )
    return CutSet.from_cuts(cuts)


def datadir_to_cuts(
    data: DataDir | str | os.PathLike,
    *,
    language: str = "en",
    sampling_rate: int | None = None,
) -> CutSet:
    """One cut per utterance of a data directory (see the module docstring)."""
    recs, sups = datadir_to_manifests(data, language=language, sampling_rate=sampling_rate)
    return manifests_to_cuts(recs, sups)


def _scalar(value: object) -> str | None:
    if isinstance(value, bool | int | float | str):
        s = str(value).strip()
        return s if s and "\n" not in s else None
    return None


def cuts_to_datadir(
    cuts: Iterable[Cut],
    out: str | os.PathLike | None = None,
    *,
    language: str = "en",
    prefix_spk_id: bool = False,
) -> DataDir:
    """A data directory with one utterance per supervision of ``cuts``; saved to ``out``
    when given.

    A supervision without a speaker is its own speaker (Kaldi's convention).  Utterance ids
    must start with their speaker id; ``prefix_spk_id`` makes them ``<spk>-<utt>`` where
    they do not.  ``utt2lang`` is written when a language differs from ``language``.
    """
    tables: dict[str, dict[str, str]] = {}
    spans: dict[str, tuple[Recording, float, float]] = {}

    def put(name: str, key: str, value: str) -> None:
        tables.setdefault(name, {}).setdefault(key, value)

    for cut in cuts:
        if not getattr(cut, "has_recording", False) or not hasattr(cut, "recording"):
            raise UserError(f"cut '{cut.id}' ({type(cut).__name__}) has no single recording")
        rec = cut.recording
        for sup in cut.supervisions:
            utt = sup.id
            spk = sup.speaker or utt
            if not utt.startswith(spk):
                if not prefix_spk_id:
                    raise UserError(
                        f"utterance id '{utt}' does not start with its speaker id '{spk}' "
                        "(Kaldi needs this): use --prefix-spk-id to write '<spk>-<utt>' ids"
                    )
                utt = f"{spk}-{utt}"
            if utt in spans:
                raise UserError(f"supervision id '{utt}' occurs twice")
            start = max(0.0, cut.start + sup.start)
            end = min(rec.duration, cut.start + sup.end)
            spans[utt] = (rec, start, end)
            tables.setdefault("utt2spk", {})[utt] = spk
            put("wav.scp", rec.id, wav_scp_value(rec))
            if sup.text is not None and sup.text.strip():
                put("text", utt, " ".join(sup.text.split()))
            if sup.gender and sup.gender[0].lower() in "mf":
                put("spk2gender", spk, sup.gender[0].lower())
            if sup.language and sup.language != language and "lang" not in (sup.custom or {}):
                put("utt2lang", utt, sup.language)
            ids = {UTT: utt, SPK: spk, RECO: rec.id}
            for key, value in (sup.custom or {}).items():
                name = custom_file(key)
                s = _scalar(value)
                if s is not None:
                    put(name, ids[file_kind(name) or UTT], s)
    if "utt2lang" in tables:  # some utterances differ: give every one its language
        for utt in spans:
            tables["utt2lang"].setdefault(utt, language)

    whole = all(
        utt == rec.id and start == 0 and abs(end - rec.duration) < _DURATION_TOLERANCE
        for utt, (rec, start, end) in spans.items()
    )
    for utt, (rec, start, end) in spans.items():
        put("utt2dur", utt, format_seconds(end - start))
        if not whole:
            put("segments", utt, f"{rec.id} {format_seconds(start)} {format_seconds(end)}")
            put("reco2dur", rec.id, format_seconds(rec.duration))
    d = DataDir({n: dict(sorted(t.items())) for n, t in tables.items()})
    where = Path(out) if out is not None else Path("<cuts>")
    check_data_dir(d, where, check_paths=False)
    if out is not None:
        d.save(out)
    return d


def write_manifest(items: Iterable, path: str | os.PathLike) -> Path:
    """Write lhotse manifest items as gzipped JSON lines, atomically."""
    path = Path(path)
    with (
        reported_as_user_error(path, "cannot write the manifest"),
        atomic_write(path, "wb") as f,
        gzip.GzipFile(fileobj=f, mode="wb") as gz,
    ):
        for item in items:
            gz.write((json.dumps(item.to_dict(), ensure_ascii=False) + "\n").encode())
    return path


def save_cuts(cuts: CutSet, path: str | os.PathLike) -> None:
    """Write ``cuts`` to ``path`` (format from its suffix, e.g. ``.jsonl.gz``), atomically."""
    with reported_as_user_error(path, "cannot write the manifest"), atomic_path(path) as tmp:
        cuts.to_file(tmp)


def manifest_paths(out_prefix: str | os.PathLike) -> dict[str, Path]:
    """Where ``datadir_to_lhotse`` writes: ``<prefix>_{recordings,supervisions,cuts}.jsonl.gz``,
    or ``<dir>/{recordings,...}.jsonl.gz`` when the prefix is a directory (or ends in /)."""
    s = str(out_prefix)
    if s.endswith("/") or Path(s).is_dir():
        return {k: Path(s) / f"{k}.jsonl.gz" for k in ("recordings", "supervisions", "cuts")}
    return {k: Path(f"{s}_{k}.jsonl.gz") for k in ("recordings", "supervisions", "cuts")}


class CheckedCuts(Dillable):
    """The cuts of a jsonl manifest, read as they are iterated (lhotse's lazy manifests do
    the same, but a bad line there is a traceback far from the file).

    A line that is not a cut (bad JSON, a recording or supervision of another manifest, a
    damaged gzip stream) is a :class:`UserError` naming the file and line; so is a cut
    whose stored features (or arrays) are not where the manifest says, with the directory
    a relative path was resolved from: features are stored under the path given to
    ``compute_fbank``, so a relative one only works from the directory it ran in.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._len: int | None = None

    def _lines(self) -> Iterator[tuple[int, str]]:
        opener = gzip.open if self.path.name.endswith(".gz") else open
        lineno = 0
        try:
            with opener(self.path, "rt", encoding="utf-8") as f:
                for lineno, text in enumerate(f, 1):
                    yield lineno, text
        except (OSError, EOFError, UnicodeDecodeError, zlib.error) as err:
            reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
            raise UserError(f"damaged manifest: {reason}", self.path, lineno + 1) from None

    def __iter__(self) -> Iterator[Cut]:
        found: set[str] = set()  # storage paths known to exist
        for lineno, text in self._lines():
            if not text.strip():
                continue
            cut = parse_cut_line(text, self.path, lineno)
            for stored in _stored_arrays(cut):
                if stored not in found:
                    _check_stored(stored, cut.id, self.path, lineno)
                    found.add(stored)
            yield cut

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(1 for _, text in self._lines() if text.strip())
        return self._len


def parse_cut_line(text: str, path: Path, lineno: int) -> Cut:
    """The cut of one manifest line; anything else is a :class:`UserError` at that line."""
    from lhotse.cut.set import deserialize_cut

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"not a JSON line ({err.msg}, column {err.colno})", path, lineno) from None
    if not isinstance(data, dict) or "type" not in data:
        kind = "not a lhotse item"
        if isinstance(data, dict) and "sources" in data:
            kind = "a recording (a RecordingSet manifest?)"
        elif isinstance(data, dict) and "recording_id" in data:
            kind = "a supervision (a SupervisionSet manifest?)"
        raise UserError(f"expected a cuts manifest, and this line is {kind}", path, lineno)
    try:
        return deserialize_cut(data)
    except Exception as err:  # lhotse raises KeyError/TypeError/ValueError on bad fields
        raise UserError(f"not a valid cut: {type(err).__name__}: {err}", path, lineno) from None


def _stored_arrays(cut: Cut) -> list[str]:
    """The storage paths of a cut's features and custom arrays (the encoder cache, tails)."""
    stored = [getattr(cut, "features", None), *(getattr(cut, "custom", None) or {}).values()]
    return [
        s.storage_path
        for s in stored
        if isinstance(getattr(s, "storage_path", None), str)
        and s.storage_path
        and not str(getattr(s, "storage_type", "")).startswith("memory")  # held in the manifest
    ]


def _check_stored(stored: str, utt: str, path: Path, lineno: int) -> None:
    if os.path.exists(stored):
        return
    if os.path.isabs(stored):
        why = "not found (moved or deleted since the manifest was written?)"
    else:
        why = (
            f"not found: a relative path, resolved from the working directory {os.getcwd()} "
            "(run from the directory the features were computed in, or recompute them)"
        )
    raise UserError(f"utterance '{utt}': stored features '{stored}' {why}", path, lineno)


def load_cuts(
    path: str | os.PathLike, lazy: bool = False, seed: int = 0, shuffle_shards: bool = False
) -> CutSet:
    """Cuts from a cuts manifest, a ``datadir_to_lhotse`` prefix, a directory with one
    cuts manifest or one recordings and one supervisions manifest, or a Shar directory.
    ``lazy``: a jsonl manifest is read as it is iterated (training over corpora larger than
    memory); either way a bad line is one :class:`UserError` naming it (:class:`CheckedCuts`).
    A Shar directory is streamed shard by shard (:class:`~soundwave.data.shar.SharCuts`;
    ``seed`` and ``shuffle_shards`` draw the shard order of each pass)."""
    from lhotse import load_manifest

    p = Path(path)
    if is_shar_dir(p):
        cuts = SharCuts(scan_shar(p), seed=seed, shuffle_shards=shuffle_shards)
        return CutSet(cuts) if lazy else CutSet(list(cuts))
    if not p.exists() and manifest_paths(p)["cuts"].is_file():
        p = manifest_paths(p)["cuts"]
    if p.is_dir():
        found = {k: sorted(p.glob(f"*{k}*.jsonl*")) for k in ("cuts", "recordings", "supervisions")}
        if len(found["cuts"]) == 1:
            p = found["cuts"][0]
        elif len(found["recordings"]) == 1 and len(found["supervisions"]) == 1:
            recs = _load_manifest(found["recordings"][0], RecordingSet)
            sups = _load_manifest(found["supervisions"][0], SupervisionSet)
            return manifests_to_cuts(recs, sups)
        else:
            raise UserError(
                "expected one *cuts*.jsonl.gz, or one *recordings* and one *supervisions* manifest",
                p,
            )
    if not p.is_file():
        raise UserError("no such manifest (run the manifest/fbank stages first)", p)
    if p.name.endswith((".jsonl", ".jsonl.gz")):
        cuts = CheckedCuts(p)
        return CutSet(cuts) if lazy else CutSet(list(cuts))
    try:
        manifest = load_manifest(p)
    except Exception as e:  # lhotse raises ValueError/KeyError/JSON errors on bad input
        raise UserError(f"not a lhotse manifest: {e}", p) from None
    if isinstance(manifest, CutSet):
        return manifest
    raise UserError(f"expected a cuts manifest, found a {type(manifest).__name__}", p)


def _load_manifest(path: Path, kind: type) -> RecordingSet | SupervisionSet:
    from lhotse import load_manifest

    try:
        return load_manifest(path, kind)
    except Exception as e:  # lhotse raises ValueError/KeyError/JSON errors on bad input
        raise UserError(f"not a {kind.__name__} manifest: {type(e).__name__}: {e}", path) from None
