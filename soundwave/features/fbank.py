"""Whisper log-mel filterbanks through lhotse, equal to openai-whisper's front end.

The reference is openai-whisper's ``log_mel_spectrogram(pad_or_trim(load_audio(f)))``:
ffmpeg decodes to 16 kHz mono 16-bit samples (``-f s16le -ac 1 -ar 16000``: the stereo
average, a surround downmix by channel layout, swresample's resampling), the waveform is
zero-padded to 30 s, and the STFT (n_fft 400, hop 160, centred) of that window is mapped
to log10 mel, clamped at (max - 8) with max over the whole window, and scaled by
x -> (x + 4) / 4.  Features are (frames, n_mels) at 100 frames/s; ``n_mels`` is 80 for
Whisper up to large-v2 and 128 for large-v3.

The audio (:func:`to_mono_16k`): a recording that is 16 kHz, 16-bit PCM, mono or stereo
is read as it is (the fast path; the extractor averages stereo and rounds to 16 bits as
ffmpeg does); any other (another rate, more than two channels, 24-bit, float, a lossy
codec) is converted by ffmpeg itself with openai-whisper's command, as a lhotse
``command`` source, so that its samples are the reference's.

What the variable-length features are (:class:`WhisperLogMel`), so that one store serves
both encoder modes:

* frame t (t < K, K = lhotse's frame count round(N / 160) for N samples) is frame t of the
  reference window: its STFT sees the audio followed by **zeros** (not the reflection of
  the audio's end that an STFT of the bare utterance would use), and the clamp uses the
  max over every frame of the zero-padded window (those past K included);
* the :data:`TAIL_FRAMES` reference frames after them (K..K+2: their windows still hold
  the last <= 280 samples, past the utterance's lhotse duration) are kept beside the
  features: stored with them as the cut's ``whisper_tail`` array, or returned by the
  on-the-fly extractor; every later frame of the window is the silence value
  max(M - 2, -1.5), M = the window's largest value.  So for ``pad30`` the encoder appends
  the tail and then silence to get the reference window exactly;
* ``variable`` encoding uses the K frames as they are.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shlex
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lhotse import AudioSource, CutSet, Features, LilcomChunkyWriter, MonoCut, Recording
from lhotse.cut import Cut, MultiCut
from lhotse.features import WhisperFbank, WhisperFbankConfig
from lhotse.features.base import register_extractor, store_feature_array
from lhotse.features.io import FeaturesWriter, NumpyHdf5Writer
from lhotse.features.whisper_fbank import log_mel_spectrogram
from lhotse.utils import (
    ROUND_HALF_UP,
    compute_num_frames_from_samples,
    compute_num_samples,
    fastcopy,
)

from soundwave.errors import UserError
from soundwave.fileio import reported_as_user_error

SAMPLE_RATE = 16000
FRAME_RATE = 100  # log-mel frames per second (hop 160 at 16 kHz)
HOP = SAMPLE_RATE // FRAME_RATE
# Reference frames after the K of an utterance whose windows still hold its last samples:
# frame K+3's window starts past the audio's end, and lhotse's K is round(N / 160).
TAIL_FRAMES = 3
TAIL_KEY = "whisper_tail"  # the cut's custom array holding them (stored features)
# Zeros appended before the STFT, as in the 30 s window: enough that every frame whose
# window holds audio is computed (the clamp's max is over all of them) and that the centred
# STFT's reflection at the end mirrors only zeros, the tail frames' included.
TAIL_ZEROS = 4 * HOP
# 16-bit PCM at 16 kHz is what whisper's ffmpeg pipe delivers: such files need no conversion.
EXACT_SUBTYPES = {"PCM_16", "PCM_S8", "PCM_U8"}
# openai-whisper's load_audio command, with WAV output (the same samples) for lhotse to read.
FFMPEG_OUTPUT = "-f wav -ac 1 -acodec pcm_s16le -ar 16000 -"

# Feature stores by name.  Whisper's normalised log-mel spans about 4 units, so lilcom's
# default tick (2^-5) is coarse; 2^-12 rounds well below what the reference tests resolve.
STORAGE_TYPES: dict[str, Callable[[str | Path], FeaturesWriter]] = {
    "lilcom-fine": functools.partial(LilcomChunkyWriter, tick_power=-12),
    "lilcom": LilcomChunkyWriter,  # lhotse's default tick: lossy, smallest
    "hdf5": NumpyHdf5Writer,  # float32, lossless; needs h5py
}
DEFAULT_STORAGE = "lilcom-fine"
CHANNEL_ALIASES = {"left": 0, "right": 1}


@register_extractor
class WhisperLogMel(WhisperFbank):
    """lhotse's ``WhisperFbank`` made equal to openai-whisper on the frames it returns.

    Differences from ``WhisperFbank`` (see the module docstring for why): the channels of
    (C, N) input are averaged and the samples rounded to 16 bits; the STFT sees the audio
    followed by zeros; the last frame is a real frame (``WhisperFbank`` fills a rounding
    frame with 0.0); :meth:`frames_and_tail` also gives the reference frames just past it.
    """

    name = "whisper-logmel"

    def frames_and_tail(
        self, samples: np.ndarray | torch.Tensor, sampling_rate: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(K, n_mels) features and the (:data:`TAIL_FRAMES`, n_mels) reference frames after them."""
        if sampling_rate != self.sampling_rate:
            raise UserError(
                f"Whisper features need {self.sampling_rate} Hz audio, got {sampling_rate} Hz "
                "(resample the cuts first)"
            )
        x = torch.as_tensor(samples, dtype=torch.float32)
        if x.dim() == 2:
            x = x.mean(dim=0)
        # whisper reads ffmpeg's 16-bit output; its -ac 1 rounds the stereo average half up
        x = torch.floor(x * 32768.0 + 0.5).clamp(-32768.0, 32767.0) / 32768.0
        num_frames = compute_num_frames_from_samples(x.shape[-1], 1 / FRAME_RATE, SAMPLE_RATE)
        feats = log_mel_spectrogram(
            torch.nn.functional.pad(x, (0, TAIL_ZEROS)),
            filters=self.filters,
            n_fft=self.n_fft,
            window=self.window,
            n_mels=self.num_filters,
            device=self.device,
        ).cpu()
        return (
            feats[:num_frames].numpy(),
            feats[num_frames : num_frames + TAIL_FRAMES].numpy(),
        )

    def extract(self, samples: np.ndarray | torch.Tensor, sampling_rate: int) -> np.ndarray:
        return self.frames_and_tail(samples, sampling_rate)[0]

    def __call__(self, cuts: Sequence[Cut]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """On-the-fly features of ``cuts``: (B, T, n_mels) zero-padded, (B,) frame counts,
        and (B, :data:`TAIL_FRAMES`, n_mels) tails."""
        pairs = [self.frames_and_tail(load_cut_audio(cut), cut.sampling_rate) for cut in cuts]
        return collate_frames([f for f, _ in pairs], [t for _, t in pairs])


def _source_of(cut: Cut) -> str | None:
    """The file or command a cut's audio comes from (None for a cut of several)."""
    rec = getattr(cut, "recording", None)
    if rec is None or len(rec.sources) != 1:
        return None
    return rec.sources[0].source


def load_cut_audio(cut: Cut) -> np.ndarray:
    """A cut's samples; a missing file, unreadable audio or NaN/inf samples are a
    :class:`UserError` naming the utterance and its file (lhotse's own errors name
    neither, and non-finite samples would give NaN features or a lilcom error)."""
    rec = getattr(cut, "recording", None)
    source = _source_of(cut)
    if rec is not None and rec.sources[0].type == "file" and not os.path.isfile(source):
        where = "" if os.path.isabs(source) else f", resolved from {os.getcwd()}"
        raise UserError(
            f"utterance '{cut.id}': audio file not found{where} (moved or deleted since the "
            "manifest was made?)",
            source,
        )
    try:
        samples = cut.load_audio()
    except UserError:
        raise
    except Exception as err:  # lhotse wraps unreadable audio in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"utterance '{cut.id}': cannot read audio: {first}", source) from None
    bad = int(np.size(samples) - np.isfinite(samples).sum())
    if bad:
        raise UserError(
            f"utterance '{cut.id}': {bad} of {np.size(samples)} samples are NaN or infinite",
            source,
        )
    return samples


def collate_frames(
    feats: Sequence[np.ndarray], tails: Sequence[np.ndarray] | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per-utterance (K, n_mels) features (and tails) -> zero-padded (B, T, n_mels), (B,)
    lengths and stacked (B, TAIL_FRAMES, n_mels) tails (None without tails)."""
    lens = torch.tensor([len(f) for f in feats], dtype=torch.long)
    out = torch.zeros(len(feats), int(lens.max()), feats[0].shape[-1])
    for i, f in enumerate(feats):
        out[i, : len(f)] = torch.from_numpy(np.asarray(f, dtype=np.float32))
    if tails is None:
        return out, lens, None
    return out, lens, torch.stack([torch.from_numpy(np.asarray(t, np.float32)) for t in tails])


def stored_features(cuts: Sequence[Cut]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """As :meth:`WhisperLogMel.__call__`, from the cuts' stored features; the tails are
    None unless every cut has one (features stored before they were kept)."""
    feats = [load_stored(cut, "features", cut.load_features) for cut in cuts]
    if not all(cut.has_custom(TAIL_KEY) for cut in cuts):
        return collate_frames(feats, None)
    tails = [load_stored(cut, TAIL_KEY, lambda c=cut: c.load_custom(TAIL_KEY)) for cut in cuts]
    return collate_frames(feats, tails)


def stored_at(cut: Cut, field: str) -> str | None:
    """Where ``cut``'s ``field`` (``features`` or a custom array) is stored: its file, or
    for a cut read from lhotse Shar, the shard it came from (``<field>.NNNNNN.tar``)."""
    manifest = cut.features if field == "features" else (cut.custom or {}).get(field)
    path = getattr(manifest, "storage_path", None)
    if path:
        return str(path)
    origin = (cut.custom or {}).get("shard_origin")  # set by lhotse's Shar reader
    if origin is None:
        return None
    index = Path(origin).name.split(".")[1]
    return str(Path(origin).with_name(f"{field}.{index}.tar"))


def load_stored(cut: Cut, field: str, load: Callable[[], Any], what: str | None = None) -> Any:
    """``load()`` of ``cut``'s stored ``field``; damaged data (a lilcom or numpy error, a
    bit flip in a Shar shard) is one :class:`UserError` naming the utterance and the file."""
    try:
        return load()
    except Exception as err:  # lhotse's readers raise many types, all data damage here
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(
            f"utterance '{cut.id}': cannot read its {what or 'stored ' + field}: {first}",
            stored_at(cut, field),
        ) from None


def whisper_fbank(n_mels: int = 80) -> WhisperLogMel:
    """The feature extractor of the toolkit (stored and on-the-fly features alike)."""
    if n_mels not in (80, 128):
        raise UserError(f"n_mels must be 80 or 128 (Whisper's mel banks), not {n_mels}")
    return WhisperLogMel(WhisperFbankConfig(num_filters=n_mels, device="cpu"))


def parse_channel(channel: str) -> int | None:
    """``"mix"`` -> None (average all channels), ``"left"``/``"right"``/``"N"`` -> index."""
    if channel == "mix":
        return None
    if channel in CHANNEL_ALIASES:
        return CHANNEL_ALIASES[channel]
    if channel.isdigit():
        return int(channel)
    raise UserError(f"--channel must be 'mix', 'left', 'right' or a channel index, not '{channel}'")


def _select_channel(cut: MonoCut | MultiCut, index: int) -> MonoCut:
    channels = cut.channel if isinstance(cut.channel, list) else [cut.channel]
    if index not in channels:
        raise UserError(
            f"utterance '{cut.id}': recording '{cut.recording_id}' has channels "
            f"{channels}, not channel {index}"
        )
    if isinstance(cut, MultiCut):
        mono = next(c for c in cut.to_mono(mono_downmix=False) if c.channel == index)
        return fastcopy(mono, id=cut.id)  # to_mono appends the channel; the id is the utterance's
    return cut


def to_mono_16k(cuts: CutSet, channel: str = "mix") -> CutSet:
    """Make every cut's audio what openai-whisper's ffmpeg would give, and choose the
    channel(s) that the features will see.

    ``channel``: "mix" keeps a 16 kHz 16-bit stereo cut as it is (a file-backed ``MultiCut``
    whose channels :class:`WhisperLogMel` averages); "left", "right" or an integer keeps
    that channel (a ``MonoCut``), and is an error for a recording without it.  A recording
    that is not 16 kHz 16-bit PCM, or that has more than two channels for "mix", becomes a
    16 kHz mono ``command`` source running ffmpeg (:func:`ffmpeg_recording`); without ffmpeg
    on PATH that is a :class:`UserError`.
    """
    index = parse_channel(channel)
    converted: dict[str, Recording | None] = {}  # recording id -> its ffmpeg version

    def convert(cut: MonoCut | MultiCut) -> MonoCut | MultiCut:
        if channel in CHANNEL_ALIASES and cut.recording.num_channels == 1:
            # a mono recording has no left or right: taking its one channel would hide
            # that the data is not what the option assumes
            raise UserError(
                f"--channel {channel}: recording '{cut.recording_id}' (utterance '{cut.id}') "
                "is mono; use --channel mix (or 0) for mono audio",
                _source_of(cut),
            )
        if index is not None:
            cut = _select_channel(cut, index)
        rec = cut.recording
        if rec.id not in converted:
            reason = _conversion_reason(rec, index)
            converted[rec.id] = ffmpeg_recording(rec, index, reason) if reason else None
        new = converted[rec.id]
        if new is None:
            return cut
        return MonoCut(
            id=cut.id,
            start=cut.start,
            duration=cut.duration,
            channel=0,
            recording=new,
            supervisions=[fastcopy(s, channel=0) for s in cut.supervisions],
            custom=cut.custom,
        )

    return cuts.map(convert)


def _conversion_reason(rec: Recording, index: int | None) -> str | None:
    """Why ``rec`` must go through ffmpeg to equal whisper's input (None: it need not)."""
    if rec.sampling_rate != SAMPLE_RATE:
        return f"{rec.sampling_rate} Hz"
    if index is None and rec.num_channels > 2:
        return f"{rec.num_channels} channels"
    (src,) = rec.sources
    if src.type == "file":  # a pipe's output is taken as what it nearly always is, 16-bit
        import soundfile as sf

        try:
            subtype = sf.info(src.source).subtype
        except Exception as err:  # soundfile raises several types for unreadable input
            raise UserError(f"cannot read audio: {err}", src.source) from None
        if subtype in ("FLOAT", "DOUBLE"):
            _check_finite_file(src.source)
        if subtype not in EXACT_SUBTYPES:
            return f"{subtype} samples"
    return None


def _check_finite_file(path: str) -> None:
    """Float audio can hold NaN or inf, which ffmpeg's conversion to 16 bits turns silently
    into full-scale samples: refuse it here, while the file is named."""
    import soundfile as sf

    bad = total = 0
    for block in sf.blocks(path, blocksize=1 << 16, dtype="float32", always_2d=True):
        bad += int(block.size - np.isfinite(block).sum())
        total += block.size
    if bad:
        raise UserError(f"{bad} of {total} samples are NaN or infinite", path)


def ffmpeg_recording(rec: Recording, index: int | None, reason: str) -> Recording:
    """``rec`` as a 16 kHz mono ``command`` source: openai-whisper's ffmpeg command on its
    audio (one channel of it for ``index``); the rest of lhotse reads it as any pipe."""
    if shutil.which("ffmpeg") is None:
        raise UserError(
            f"recording '{rec.id}' ({reason}) must be converted by ffmpeg, as openai-whisper "
            "converts it, and ffmpeg is not on PATH (install ffmpeg, or convert the audio "
            "to 16 kHz 16-bit PCM first)"
        )
    if len(rec.sources) != 1 or rec.transforms:
        raise UserError(f"recording '{rec.id}': only a plain single-source recording converts")
    (src,) = rec.sources
    pan = [] if index is None else ["-af", shlex.quote(f"pan=mono|c0=c{index}")]
    ffmpeg = ["ffmpeg", "-nostdin", "-threads", "0", "-loglevel", "error", "-i"]
    if src.type == "file":
        command = " ".join([*ffmpeg, shlex.quote(src.source), *pan, FFMPEG_OUTPUT])
    elif src.type == "command":
        command = f"{src.source} | " + " ".join([*ffmpeg, "-", *pan, FFMPEG_OUTPUT])
    else:
        raise UserError(f"recording '{rec.id}': a '{src.type}' source cannot be converted")
    # lhotse's own resampling convention: the cut's durations and frame counts stay
    num_samples = compute_num_samples(rec.duration, SAMPLE_RATE, rounding=ROUND_HALF_UP)
    return Recording(
        id=rec.id,
        sources=[AudioSource("command", [0], command)],
        sampling_rate=SAMPLE_RATE,
        num_samples=num_samples,
        duration=num_samples / SAMPLE_RATE,
    )


def filter_by_duration(cuts: CutSet, min_s: float, max_s: float) -> tuple[CutSet, dict[str, float]]:
    """Keep cuts with ``min_s <= duration <= max_s``; report what was dropped."""
    if not 0 <= min_s <= max_s:
        raise UserError(
            f"--min-duration {min_s:g} and --max-duration {max_s:g}: need "
            "0 <= min <= max (no cut could pass)"
        )
    kept, report = (
        [],
        {"kept": 0, "kept_hours": 0.0, "too_short": 0, "too_long": 0, "dropped_hours": 0.0},
    )
    for cut in cuts:
        if cut.duration < min_s:
            report["too_short"] += 1
        elif cut.duration > max_s:
            report["too_long"] += 1
        else:
            kept.append(cut)
            report["kept"] += 1
            report["kept_hours"] += cut.duration / 3600
            continue
        report["dropped_hours"] += cut.duration / 3600
    return CutSet.from_cuts(kept), report


def storage_writer(name: str) -> Callable[[str | Path], FeaturesWriter]:
    """The lhotse writer of a storage name in :data:`STORAGE_TYPES`."""
    if name not in STORAGE_TYPES:
        raise UserError(f"unknown feature storage '{name}' (one of: {', '.join(STORAGE_TYPES)})")
    if name == "hdf5" and importlib.util.find_spec("h5py") is None:
        raise UserError("feature storage 'hdf5' needs h5py (pip install h5py)")
    return STORAGE_TYPES[name]


def compute_and_store(
    cuts: CutSet,
    storage_path: str | Path,
    n_mels: int = 80,
    progress: bool = True,
    storage_type: str = DEFAULT_STORAGE,
) -> CutSet:
    """Extract Whisper log-mel for every cut into one archive; returns cuts with features.

    The archive (``storage_path`` plus the writer's suffix, e.g. ``.lca``) is written under
    a temporary name and renamed when complete, so an existing archive is replaced only by
    a finished one.  A cut whose audio cannot be read is a :class:`UserError` naming it
    (:func:`load_cut_audio`), and so is a failed write (a full disk).
    """
    extractor = whisper_fbank(n_mels)
    out = []
    with (
        reported_as_user_error(storage_path, "cannot write the features"),
        atomic_archive(storage_writer(storage_type), storage_path) as (storage, final),
        _each_recording_decoded_once(),
    ):
        for cut in _progress(cuts, progress):
            out.append(_store(cut, load_cut_audio(cut), extractor, storage))
    return CutSet.from_cuts(_moved(cut, final) for cut in out)


@contextlib.contextmanager
def _each_recording_decoded_once() -> Iterator[None]:
    """lhotse's cache of command outputs, holding the latest one: the segments of a
    recording that ffmpeg converts are consecutive cuts, so ffmpeg runs once per recording
    rather than once per segment."""
    from lhotse.caching import AudioCache

    enabled, limit = AudioCache.enabled(), AudioCache.max_cache_elements
    AudioCache.enable(True)
    AudioCache.max_cache_elements = 1
    try:
        yield
    finally:
        AudioCache.max_cache_elements = limit
        AudioCache.enable(enabled)


def _store(
    cut: MonoCut | MultiCut, samples: np.ndarray, extractor: WhisperLogMel, storage: FeaturesWriter
) -> MonoCut | MultiCut:
    """``cut`` with its features and their tail (``cut.whisper_tail``) written to ``storage``,
    its Features manifest made as lhotse's ``compute_and_store_features`` makes it."""
    feats, tail = extractor.frames_and_tail(samples, cut.sampling_rate)
    features = Features(
        start=cut.start,
        duration=round(samples.shape[-1] / cut.sampling_rate, ndigits=8),
        type=extractor.name,
        num_frames=feats.shape[0],
        num_features=feats.shape[1],
        frame_shift=extractor.frame_shift,
        sampling_rate=cut.sampling_rate,
        channels=cut.channel,
        storage_type=storage.name,
        storage_path=str(storage.storage_path),
        storage_key=store_feature_array(feats, storage=storage),
    )
    tail_array = storage.store_array(str(uuid.uuid4()), tail)
    return fastcopy(cut, features=features).with_custom(TAIL_KEY, tail_array)


@contextlib.contextmanager
def atomic_archive(writer: type, storage_path: str | Path) -> Iterator[tuple[Any, Path]]:
    """An open lhotse storage writer on a temporary name, and the final path (the writer's
    suffix added) that it is renamed to when the block completes: a killed job leaves no
    archive behind, and an existing one is replaced only by a finished one.  Temporaries
    of killed jobs are removed first."""
    storage_path = Path(storage_path)
    storage_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in storage_path.parent.glob(f".{storage_path.name}.tmp*"):
        _remove(stale)
    # ends in the path's own suffix, so that a writer keeps a suffix that is already its own
    tmp_base = storage_path.with_name(f".{storage_path.name}.tmp{os.getpid()}{storage_path.suffix}")
    try:
        with writer(tmp_base) as storage:
            tmp = Path(storage.storage_path)
            final = storage_path.with_name(storage_path.name + tmp.name[len(tmp_base.name) :])
            yield storage, final
        _remove(final)  # os.replace cannot replace a directory archive
        os.replace(tmp, final)
    finally:
        for leftover in storage_path.parent.glob(tmp_base.name + "*"):
            _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _moved(cut: MonoCut | MultiCut, path: Path) -> MonoCut | MultiCut:
    cut = fastcopy(cut, features=fastcopy(cut.features, storage_path=str(path)))
    return cut.with_custom(TAIL_KEY, fastcopy(cut.custom[TAIL_KEY], storage_path=str(path)))


def _progress(cuts: CutSet, enabled: bool):
    if not enabled:
        return cuts
    from tqdm import tqdm

    return tqdm(cuts, desc="compute_fbank", unit="cut")
