"""Synthetic speakers: espeak-ng voices x variants x rate x pitch, and flite voices.

The split of timbres is fixed (not drawn from the seed) so that the claim "test speakers
are unseen" is the same for every corpus:

- every espeak-ng *variant* (the timbre: ``+f3``, ``+m6``, ``+Hugo`` ...) belongs to one
  split only, and the variant families that sound alike (``steph``/``steph2``/``steph3``)
  stay together;
- one base voice (accent) per held-out split never occurs in training:
  ``en-us-nyc`` (dev) and ``en-gb-x-gbcwmd`` (test); dev/test speakers use it half the
  time and a training accent (with a held-out variant) otherwise;
- each flite voice belongs to one split: kal16 + slt (train), rms (dev), awb (test).

Gender comes from the variant (espeak-ng's own ``gender`` field, checked by ear-free F0
measurement: female variants 170-270 Hz, male 85-130 Hz) or the flite voice; a training
flite speaker may be *converted* (:data:`FLITE_CONVERSIONS`): its voice resampled so far
that pitch and formants move into the other gender's range, which it is then labelled.  Variants
that whisper, croak, sound robotic or like a child are not used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from soundwave.offline.synth.timbre import GENERATED_PREFIX, Timbre, random_timbre

SPLITS = ("train", "dev", "test")
ID_PREFIX = {"train": "tr", "dev": "dv", "test": "ts"}

TRAIN_BASES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
HELDOUT_BASE = {"dev": "en-us-nyc", "test": "en-gb-x-gbcwmd"}

# "" is the base voice itself (espeak-ng's default male timbre)
VARIANTS = {
    ("train", "female"): (
        "f1",
        "f2",
        "f5",
        "Alicia",
        "anika",
        "aunty",
        "linda",
        "steph",
        "steph2",
        "steph3",
        "grandma",
    ),
    ("train", "male"): (
        "",
        "m1",
        "m2",
        "m4",
        "m7",
        "m8",
        "Andy",
        "Denis",
        "Lee",
        "Marco",
        "antonio",
        "michel",
        "miguel",
        "victor",
        "Storm",
        "adam",
        "boris",
        "david",
        "ed",
        "edward",
        "max",
        "pablo",
        "quincy",
        "robert",
        "norbert",
        "Mike",
        "Michael",
        "iven",
    ),
    ("dev", "female"): ("f4", "Andrea"),
    ("dev", "male"): ("m5", "sandro", "Alex", "rob"),
    ("test", "female"): ("f3", "Annie", "belinda"),
    ("test", "male"): ("m3", "m6", "Hugo", "travis", "john", "paul"),
}

# espeak-ng -p ranges (stop exclusive) that keep every variant's F0 on its gender's side
# of ~150 Hz (a female variant at a low -p falls into the male range)
ESPEAK_PITCH = {"female": (45, 80), "male": (25, 61)}

# flite voice -> (gender, F0 target range in Hz or None where the voice ignores it)
FLITE_VOICES = {
    "kal16": ("male", (85, 125)),
    "slt": ("female", (150, 210)),
    "rms": ("male", None),
    "awb": ("male", (110, 150)),
}
FLITE_SPLIT = {"train": ("kal16", "slt"), "dev": ("rms",), "test": ("awb",)}

# training flite voice -> (gender, F0 target range in Hz, warp range) of its conversion:
# flite has two training voices only, and each is one speaker; resampled by the warp
# (frequencies / warp), slt's female formants and F0 fall into a male voice's range, and
# kal16's rise into a female one's
FLITE_CONVERSIONS = {
    "slt": ("male", (125, 150), (1.2, 1.25)),
    "kal16": ("female", (160, 190), (0.85, 0.89)),
}

ENGINES = ("espeak-ng", "flite")


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an engine, a voice and its rate / pitch settings.

    espeak-ng: ``rate`` is words per minute (``-s``), ``pitch`` 0..99 (``-p``), ``gap``
    the extra pause between words in 10 ms units (``-g``).  flite: ``rate`` is the
    ``duration_stretch`` factor, ``pitch`` the F0 target mean in Hz (0: voice default).
    ``timbre``: a generated espeak-ng variant (``variant`` is then its name), synthesised
    through the corpus's espeak-ng data overlay.  ``warp``: the synthesised signal is
    resampled to ``warp`` times its length and played at 16 kHz, which lowers every
    frequency (pitch and formants: a longer vocal tract) by that factor and slows the
    speech by it (Kaldi's speed perturbation, fixed per speaker).
    """

    id: str
    split: str
    engine: str
    base: str  # espeak-ng base voice or flite voice
    variant: str  # espeak-ng variant ("" = none); "" for flite
    gender: str  # "male" / "female"
    rate: float
    pitch: int
    gap: int = 0
    timbre: Timbre | None = None
    warp: float = 1.0

    @property
    def voice(self) -> str:
        return f"{self.base}+{self.variant}" if self.variant else self.base

    @property
    def kaldi_gender(self) -> str:
        return self.gender[0]

    def describe(self) -> str:
        warp = f" warp={self.warp:g}" if self.warp != 1.0 else ""
        if self.engine == "flite":
            f0 = f" f0={self.pitch}" if self.pitch else ""
            return f"flite {self.voice} stretch={self.rate:g}{f0}{warp}"
        return f"espeak-ng {self.voice} -s {self.rate:g} -p {self.pitch} -g {self.gap}{warp}"

    def command(self, text: str, wav_path: str, espeak_path: str | None = None) -> list[str]:
        """The TTS command line that writes ``text`` to ``wav_path``; ``espeak_path`` is the
        espeak-ng data overlay that holds generated timbres (required for them)."""
        if self.engine == "flite":
            cmd = ["flite", "-voice", self.base, "--setf", f"duration_stretch={self.rate:g}"]
            if self.pitch:
                cmd += ["--setf", f"int_f0_target_mean={self.pitch}"]
            return [*cmd, "-t", text, "-o", wav_path]
        if self.timbre is not None and espeak_path is None:
            raise ValueError(f"{self.id}: a generated timbre needs the espeak-ng data overlay")
        path = [f"--path={espeak_path}"] if espeak_path else []
        return [
            "espeak-ng",
            *path,
            "-v",
            self.voice,
            "-s",
            str(int(self.rate)),
            "-p",
            str(self.pitch),
            "-g",
            str(self.gap),
            "-w",
            wav_path,
            text,
        ]


def _espeak(
    split: str, gender: str, rng: random.Random, timbre_name: str | None, accent_rate: float
) -> tuple:
    if split == "train" or rng.random() < 0.5:
        base = rng.choice(TRAIN_BASES)
    else:
        base = HELDOUT_BASE[split]
    timbre = None
    if timbre_name is None:
        variant = rng.choice(VARIANTS[split, gender])
    else:
        timbre = random_timbre(timbre_name, gender, rng, accent_rate)
        variant = timbre.name
    rate = rng.randrange(145, 191, 5)
    pitch = rng.randrange(*ESPEAK_PITCH[gender], 5)
    gap = rng.choice((0, 0, 1, 2))
    return ("espeak-ng", base, variant, gender, float(rate), pitch, gap, timbre), 1.0


_STRETCHES = (0.9, 0.95, 1.0, 1.05, 1.1, 1.15)
_F0_STEP = 5


def _flite(split: str, index: int, rng: random.Random, conversion: float) -> tuple:
    """A flite speaker's spec and its warp (before the per-speaker jitter); converted with
    probability ``conversion``."""
    names = FLITE_SPLIT[split]
    name = names[index % len(names)]
    gender, f0_range = FLITE_VOICES[name]
    warp = 1.0
    if conversion and rng.random() < conversion:
        gender, f0_range, warp_range = FLITE_CONVERSIONS[name]
        warp = round(rng.uniform(*warp_range), 2)
    # the warp also slows the speech by its factor: the stretch makes up for it
    stretch = round(rng.choice(_STRETCHES) / warp, 2)
    f0 = rng.randrange(f0_range[0], f0_range[1] + 1, _F0_STEP) if f0_range else 0
    return ("flite", name, "", gender, stretch, f0, 0, None), warp


def _flite_capacity(split: str) -> int:
    """How many distinct flite speakers ``split`` can have: voices are used in turn, so
    the voice with the fewest settings (stretch x F0) limits each voice's share."""

    def settings(name: str) -> int:
        f0_range = FLITE_VOICES[name][1]
        return len(_STRETCHES) * ((f0_range[1] - f0_range[0]) // _F0_STEP + 1 if f0_range else 1)

    voices = FLITE_SPLIT[split]
    return len(voices) * min(settings(v) for v in voices)


def make_speakers(
    split: str,
    n: int,
    rng: random.Random,
    engines: tuple[str, ...] = ENGINES,
    flite_share: float = 0.15,
    generated_share: float = 0.0,
    max_warp: float = 0.0,
    accent_rate: float = 0.0,
    flite_conversion: float = 0.0,
) -> list[Speaker]:
    """``n`` distinct speakers of ``split``, genders alternating, ids ``<prefix><nnn>``.

    About ``flite_share`` of them are flite voices (when flite is among ``engines``), about
    ``generated_share`` of the espeak-ng ones have a generated timbre of their own instead
    of a stock variant (each with accent rules drawn at ``accent_rate``: see
    :func:`random_timbre`), about ``flite_conversion`` of the flite ones are converted into
    the other gender (:data:`FLITE_CONVERSIONS`), and every speaker's ``warp`` is
    multiplied by a factor drawn from 1 +- ``max_warp``.  These widen what training hears: they are for the training split only, so that dev
    and test stay the stock voices.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    if split != "train" and (generated_share or max_warp or accent_rate or flite_conversion):
        raise ValueError(
            "generated timbres, accents, warps and conversions are for the training split only"
        )
    n_flite = round(n * flite_share) if "flite" in engines else 0
    if "espeak-ng" not in engines:
        n_flite = n
    n_flite = min(n_flite, _flite_capacity(split))
    specs: list[tuple] = []
    seen: set[tuple] = set()
    tries = 0
    while len(specs) < n:
        i = len(specs)
        if i < n_flite:
            spec, warp = _flite(split, i, rng, flite_conversion)
        else:
            k = i - n_flite
            # spread evenly over each gender's espeak-ng speakers (every 1/share-th one)
            j = k // 2
            generated = int((j + 1) * generated_share) > int(j * generated_share)
            name = f"{GENERATED_PREFIX}{split}{i:04d}" if generated else None
            spec, warp = _espeak(split, ("female", "male")[k % 2], rng, name, accent_rate)
        if max_warp:
            warp = round(warp * rng.uniform(1 - max_warp, 1 + max_warp), 2)
        spec = (*spec, warp)
        key = spec[:3] + spec[4:6] + spec[-1:]
        tries += 1
        if key in seen:
            if tries > 1000 * n:
                raise RuntimeError(f"cannot draw {n} distinct {split} speakers")
            continue
        seen.add(key)
        specs.append(spec)
    rng.shuffle(specs)
    prefix, width = ID_PREFIX[split], max(3, len(str(n)))
    return [Speaker(f"{prefix}{i:0{width}d}", split, *spec) for i, spec in enumerate(specs, 1)]


def timbres(speakers: list[Speaker]) -> set[tuple[str, str]]:
    """(engine, variant or flite voice): what must not be shared between splits."""
    return {(s.engine, s.variant if s.engine == "espeak-ng" else s.base) for s in speakers}
