"""Generated espeak-ng voice variants: a new timbre for every synthetic training speaker.

espeak-ng's stock variants give the training split only 39 timbres, and a model trained
on them learns those 39 voices rather than speech: the stand-in encoder's training loss
ends near 0.4 while it misrecognises most words of the unseen test timbres.  A variant is
just a text file of formant, pitch and voice-quality settings (espeak-ng's ``!v/``
format), so training speakers can each get their own, drawn at random within the ranges
that the stock human-sounding variants span (a gender-dependent vocal-tract scale of all
formant frequencies, per-formant jitter, bandwidths, amplitudes, pitch range, flutter,
roughness, breathiness, echo, voicing and consonant levels).  A variant may also carry
``replace`` rules, phoneme substitutions that espeak-ng applies after its letter-to-sound
rules: :data:`ACCENT_RULES` are features of English accents (th-fronting and -stopping,
g-dropping, vowel shifts), drawn per speaker so that training also hears accents that no
stock voice has.  (``phonemes`` and ``dictrules`` lines are ignored in variants.)

espeak-ng reads variants from its data directory only; :func:`espeak_overlays` builds
data directories of symbolic links to the system one plus the generated files, passed to
espeak-ng with ``--path`` (several: espeak-ng lists at most 349 voices).
"""

from __future__ import annotations

import random
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from soundwave.errors import UserError
from soundwave.fileio import atomic_dir

GENERATED_PREFIX = "sw-"  # names of generated variants (no stock variant starts so)

# all formant frequencies scale with the vocal tract: shorter (female) -> higher
_TRACT_SCALE = {"female": (1.04, 1.22), "male": (0.90, 1.06)}
_PITCH_BASE = {"female": (140, 200), "male": (65, 100)}  # Hz at the bottom of the range
_PITCH_SPAN = {"female": (40, 90), "male": (25, 45)}


# (flags, phoneme, its accent realisations): espeak-ng's `replace` flags are bit 0 "only in
# unstressed syllables", bit 1 "only at the end of a word".  Drawn from the stock training
# accents' own rules and common features of English accents; the held-out test accent's
# own rule (en-gb-x-gbcwmd: "replace 00 h NULL", h-dropping) is deliberately not among them.
ACCENT_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("00", "T", ("f", "t[")),  # thin: fin / tin
    ("00", "D", ("v", "d")),  # this: vis / dis
    ("03", "N", ("n",)),  # nothin'
    ("00", "V", ("U",)),  # northern English foot-strut merger
    ("00", "aI", ("OI", "aI2")),
    ("00", "eI", ("aI", "e:")),
    ("00", "oU", ("aU", "o:")),
    ("00", "i:", ("@i",)),
    ("03", "I", ("i",)),
    ("03", "@", ("V", "a#")),
    ("03", "3", ("a#",)),
    ("00", "o@", ("O@",)),
    ("00", "U@", ("o@",)),
    ("02", "u:", ("U",)),
)


@dataclass(frozen=True)
class Timbre:
    """One generated variant; ``render()`` is its espeak-ng voice-file text."""

    name: str
    gender: str
    pitch: tuple[int, int]
    formants: tuple[tuple[int, int, int], ...]  # (frequency %, height %, width %) for 0..8
    flutter: int
    roughness: int
    breath: tuple[int, ...]  # 8 levels, all 0 = none
    echo: tuple[int, int]  # delay ms, amplitude %
    voicing: int
    consonants: tuple[int, int]
    replacements: tuple[tuple[str, str, str], ...] = ()  # (flags, phoneme, replacement)

    def render(self) -> str:
        lines = [
            "language variant",
            f"name {self.name}",
            f"gender {self.gender}",
            f"pitch {self.pitch[0]} {self.pitch[1]}",
            *(f"formant {i} {f} {h} {w}" for i, (f, h, w) in enumerate(self.formants)),
            f"flutter {self.flutter}",
            f"roughness {self.roughness}",
            f"echo {self.echo[0]} {self.echo[1]}",
            f"voicing {self.voicing}",
            f"consonants {self.consonants[0]} {self.consonants[1]}",
        ]
        if any(self.breath):
            lines.append("breath " + " ".join(map(str, self.breath)))
        lines += [f"replace {flags} {ph} {new}" for flags, ph, new in self.replacements]
        return "\n".join(lines) + "\n"


def random_timbre(name: str, gender: str, rng: random.Random, accent_rate: float = 0.0) -> Timbre:
    """A timbre of ``gender`` drawn from ``rng`` (see the module docstring for the ranges),
    with each of :data:`ACCENT_RULES` applied with probability ``accent_rate``."""
    if gender not in _TRACT_SCALE:
        raise ValueError(f"gender must be female or male, not {gender!r}")
    if not name.startswith(GENERATED_PREFIX):
        raise ValueError(f"generated variant names start with {GENERATED_PREFIX!r}: {name!r}")
    scale = rng.uniform(*_TRACT_SCALE[gender])
    formants = []
    for i in range(9):
        jitter = rng.uniform(0.94, 1.06) if 1 <= i <= 5 else rng.uniform(0.9, 1.1)
        height = rng.randint(60, 130) if i <= 3 else rng.randint(50, 120)
        formants.append((round(100 * scale * jitter), height, rng.randint(80, 160)))
    low = rng.randint(*_PITCH_BASE[gender])
    breath = (0,) * 8
    if rng.random() < 0.3:
        level = rng.randint(1, 4)
        breath = (0, *(rng.randint(max(0, level - 1), level + 1) for _ in range(7)))
    return Timbre(
        name=name,
        gender=gender,
        pitch=(low, low + rng.randint(*_PITCH_SPAN[gender])),
        formants=tuple(formants),
        flutter=rng.randint(0, 10),
        roughness=rng.randint(0, 4),
        breath=breath,
        echo=(rng.choice((0, rng.randint(40, 140))), rng.randint(0, 15)),
        voicing=rng.randint(60, 140),
        consonants=(rng.randint(60, 140), rng.randint(60, 140)),
        # drawn last, and only when asked for: accent_rate 0 draws the timbres of before
        replacements=_accent(rng, accent_rate) if accent_rate else (),
    )


def _accent(rng: random.Random, rate: float) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (flags, ph, rng.choice(options))
        for flags, ph, options in ACCENT_RULES
        if rng.random() < rate
    )


def system_data_dir() -> Path:
    """espeak-ng's own data directory, as its ``--version`` line reports it."""
    try:
        out = subprocess.run(
            ["espeak-ng", "--version"], capture_output=True, text=True, check=False
        ).stdout
    except FileNotFoundError:
        raise UserError("espeak-ng not found on PATH") from None
    m = re.search(r"Data at:\s*(\S+)", out)
    if not m or not Path(m.group(1)).is_dir():
        raise UserError(f"cannot find espeak-ng's data directory in {out.strip()!r}")
    return Path(m.group(1))


# espeak-ng lists at most 349 voices (N_VOICES_LIST) and counts every language file (131
# in 1.51) and variant in its data directory: an overlay holds this many generated ones
VARIANTS_PER_OVERLAY = 200


def espeak_overlays(
    out_dir: Path,
    timbres: Iterable[Timbre],
    system: Path | None = None,
    per_overlay: int = VARIANTS_PER_OVERLAY,
) -> dict[str, Path]:
    """Build espeak-ng data directories ``out_dir/<i>/espeak-ng-data`` that link to the
    system data (less its variants and mbrola voices) and hold up to ``per_overlay`` of
    the generated variants each.  Returns timbre name -> its overlay (``--path`` value)."""
    system = system or system_data_dir()
    timbres = list(timbres)
    out_dir = Path(out_dir)
    where: dict[str, Path] = {}
    with atomic_dir(out_dir) as tmp:
        for i in range(0, len(timbres), per_overlay):
            name = str(i // per_overlay)
            data = tmp / name / "espeak-ng-data"
            variants = data / "voices" / "!v"
            variants.mkdir(parents=True)
            for entry in system.iterdir():
                if entry.name != "voices":
                    (data / entry.name).symlink_to(entry)
            for t in timbres[i : i + per_overlay]:
                (variants / t.name).write_text(t.render(), encoding="ascii")
                where[t.name] = out_dir.resolve() / name
    return where
