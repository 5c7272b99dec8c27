"""A fake LibriSpeech in the public on-disk layout, spoken by espeak-ng (for tests).

    write_fake_librispeech(root) -> root / "LibriSpeech"

lays out what the openslr.org/12 tarballs unpack to::

    LibriSpeech/{SPEAKERS,CHAPTERS,BOOKS,LICENSE,README}.TXT
    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt
    LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<nnnn>.flac   (16 kHz, 16 bit, mono)

with two speakers (one female, one male) of their own per subset, one chapter each, and
``utts_per_subset`` utterances per subset; transcripts upper case without punctuation
but apostrophes, as LibriSpeech's are.  The speech is espeak-ng through the project's
synthesiser (:func:`soundwave.offline.synth.synthesize.render`).
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from soundwave.data.librispeech import SUBSETS
from soundwave.offline.synth.speakers import Speaker
from soundwave.offline.synth.synthesize import SAMPLE_RATE, Job, render

SENTENCES = (
    "HE HOPED THERE WOULD BE STEW FOR DINNER",
    "THE BIRCH CANOE SLID ON THE SMOOTH PLANKS",
    "IT'S EASY TO TELL THE DEPTH OF A WELL",
    "THE JUICE OF LEMONS MAKES FINE PUNCH",
    "FOUR HOURS OF STEADY WORK FACED US",
    "A KING RULED THE STATE IN THE EARLY DAYS",
    "THE SHIP WAS TORN APART ON THE SHARP REEF",
    "RICE IS OFTEN SERVED IN ROUND BOWLS",
    "THE BOY WAS THERE WHEN THE SUN ROSE",
    "WE TALKED OF THE SIDESHOW IN THE CIRCUS",
    "SHE SAW A CAT IN THE NEIGHBOUR'S HOUSE",
    "THE SMALL PUP GNAWED A HOLE IN THE SOCK",
)
VOICES = (("F", "en-us", "f2"), ("M", "en", "m3"))


def _speaker(spk: str, gender: str, base: str, variant: str, subset: str) -> Speaker:
    return Speaker(
        id=spk,
        split=subset,
        engine="espeak-ng",
        base=base,
        variant=variant,
        gender="female" if gender == "F" else "male",
        rate=165.0 if "other" in subset else 150.0,
        pitch=50,
    )


def write_fake_librispeech(
    root: str | Path, subsets: tuple[str, ...] = SUBSETS, utts_per_subset: int = 6
) -> Path:
    """Write the fake corpus under ``root``; return the ``LibriSpeech`` directory."""
    corpus = Path(root) / "LibriSpeech"
    corpus.mkdir(parents=True)
    speakers = [";ID  |SEX| SUBSET           |MINUTES| NAME"]
    chapters = [";ID      |READER|MINUTES| SUBSET           | PROJ.|BOOK ID| CH. TITLE "]
    for k, subset in enumerate(subsets):
        for j, (gender, base, variant) in enumerate(VOICES):
            spk, chapter = str(100 + 10 * k + j), str(5000 + 10 * k + j)
            speakers.append(f"{spk:<5}| {gender} | {subset:<16} | 0.50 | Reader {spk}")
            chapters.append(f"{chapter:<9}| {spk:<5}| 0.50 | {subset:<16} | 1    | 10   | Chapter")
            voice = _speaker(spk, gender, base, variant, subset)
            chapter_dir = corpus / subset / spk / chapter
            chapter_dir.mkdir(parents=True)
            lines = []
            for n in range(j, utts_per_subset, len(VOICES)):
                utt = f"{spk}-{chapter}-{n:04d}"
                text = SENTENCES[(n + 3 * k) % len(SENTENCES)]
                job = Job(utt, text.lower(), voice, str(chapter_dir / f"{utt}.flac"), seed=k)
                sf.write(job.wav_path, render(job), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
                lines.append(f"{utt} {text}\n")
            (chapter_dir / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))
    (corpus / "SPEAKERS.TXT").write_text("\n".join(speakers) + "\n")
    (corpus / "CHAPTERS.TXT").write_text("\n".join(chapters) + "\n")
    (corpus / "BOOKS.TXT").write_text(";ID      |TITLE\n10       | A Fake Book\n")
    (corpus / "LICENSE.TXT").write_text("Synthesised for soundwave's tests (espeak-ng).\n")
    (corpus / "README.TXT").write_text("A fake LibriSpeech in the layout of openslr.org/12.\n")
    return corpus
