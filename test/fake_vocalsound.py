"""A fake VocalSound release in the public layout (``vs_release_16k.zip`` unpacked).

The tree, file names, WAV format (16 kHz mono 16-bit PCM) and the split files
(``datafiles/{all,tr,val,te}.json``: ``{"data": [{"wav": <authors' absolute path>,
"labels": <AudioSet mid>}]}``, ``class_labels_indices_vs.csv``) follow the release; the
audio is synthesized, each class with a shape of its own (so a model can tell them apart):
laughter a pulsed voiced tone, sigh a long falling noise, cough short loud bursts, throat
clearing low rumble, sneeze a rising tone into a noise burst, sniff short high noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
#: class -> AudioSet mid (the ``labels`` of the split files) and display name
CLASSES = {
    "laughter": ("/m/01j3sz", "Laughter"),
    "sigh": ("/m/07plz5l", "Sigh"),
    "cough": ("/m/01b_21", "Cough"),
    "throatclearing": ("/m/0dl9sf8", "Throat clearing"),
    "sneeze": ("/m/01hsr_", "Sneeze"),
    "sniff": ("/m/07ppn3j", "Sniff"),
}
#: split file -> speakers (f/m + 4 digits, as in the release); speakers never cross splits
DEFAULT_SPEAKERS = {
    "tr": ["f0003", "m0004", "f0007", "m0012"],
    "val": ["f0101"],
    "te": ["m0201", "f0202"],
}


def _envelope(n: int, attack: float, rng) -> np.ndarray:
    t = np.linspace(0, 1, n)
    return np.minimum(t / attack, 1.0) * np.exp(-3 * t) * rng.uniform(0.7, 1.0)


def synth_clip(label: str, rng: np.random.Generator) -> np.ndarray:
    """About a second of audio in ``label``'s shape, float in [-1, 1]."""
    dur = {"sigh": 1.2, "sniff": 0.5, "cough": 0.6, "sneeze": 0.8}.get(label, 0.9)
    n = int(dur * RATE * rng.uniform(0.9, 1.1))
    t = np.arange(n) / RATE
    noise = rng.standard_normal(n)
    if label == "laughter":  # "ha-ha-ha": a voiced tone gated at ~5 Hz
        f0 = rng.uniform(180, 260)
        x = np.sin(2 * np.pi * f0 * t) * (np.sin(2 * np.pi * 5 * t) > 0)
    elif label == "sigh":  # breathy noise, falling
        x = np.convolve(noise, np.ones(8) / 8, "same") * np.linspace(1, 0.1, n)
    elif label == "cough":  # two sharp bursts
        x = noise * ((t % 0.3) < 0.08)
    elif label == "throatclearing":  # low rumble
        x = np.sin(2 * np.pi * rng.uniform(70, 110) * t) + 0.3 * np.convolve(
            noise, np.ones(32) / 32, "same"
        )
    elif label == "sneeze":  # rising tone, then a burst
        x = np.where(t < dur / 2, np.sin(2 * np.pi * (300 + 400 * t) * t), noise)
    elif label == "sniff":  # short high noise
        x = np.diff(noise, prepend=0.0) * 0.5
    else:
        raise ValueError(f"not a VocalSound class: {label}")
    x = x * _envelope(n, 0.05, rng)
    return (0.5 * x / (np.abs(x).max() + 1e-9)).astype(np.float32)


def write_fake_vocalsound(
    root: Path, speakers: dict[str, list[str]] | None = None, seed: int = 0
) -> Path:
    """Lay out a fake release at ``root``: every speaker records every class once
    (session 0); returns ``root``."""
    speakers = speakers or DEFAULT_SPEAKERS
    rng = np.random.default_rng(seed)
    audio = root / "audio_16k"
    audio.mkdir(parents=True, exist_ok=True)
    (root / "datafiles").mkdir(exist_ok=True)
    csv = ["index,mid,display_name"]
    csv += [f'{i},{mid},"{name}"' for i, (mid, name) in enumerate(CLASSES.values())]
    (root / "class_labels_indices_vs.csv").write_text("\n".join(csv) + "\n")
    every = []
    for split, spks in speakers.items():
        rows = []
        for spk in spks:
            for label, (mid, _) in CLASSES.items():
                name = f"{spk}_0_{label}.wav"
                sf.write(audio / name, synth_clip(label, rng), RATE, subtype="PCM_16")
                # the authors' own absolute path, as in the released files
                rows.append(
                    {
                        "wav": f"/data/sls/scratch/yuangong/vocalsound/data/audio_16k/{name}",
                        "labels": mid,
                    }
                )
        (root / "datafiles" / f"{split}.json").write_text(json.dumps({"data": rows}, indent=1))
        every += rows
    (root / "datafiles" / "all.json").write_text(json.dumps({"data": every}, indent=1))
    return root
