"""A fake CoVoST 2 + Common Voice English in the public on-disk layout, for the tests.

Common Voice 4 (the release CoVoST 2 is built on)::

    <cv_root>/en/clips/common_voice_en_<n>.mp3          48 kHz mono MP3
    <cv_root>/en/{validated,train,dev,test,invalidated,other}.tsv
        client_id path sentence up_votes down_votes age gender accent

CoVoST 2 (the release TSV and what its ``get_covost_splits.py`` writes from it)::

    <covost_dir>/covost_v2.en_<tgt>.tsv                  path sentence translation split
    <covost_dir>/covost_v2.en_<tgt>.<split>.tsv          path sentence translation client_id

Both are tab separated with a header, written as pandas does with ``quoting=QUOTE_NONE``
(quotes stay as they are).  The clips are spoken by espeak-ng voices and encoded to MP3
by ffmpeg; the translations are real German and Chinese sentences.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# (English, German, Chinese); one with unbalanced quotes, as Common Voice has
SENTENCES = (
    ("The weather is nice today.", "Das Wetter ist heute schön.", "今天天气很好。"),
    ("Please open the window.", "Bitte öffne das Fenster.", "请打开窗户。"),
    ("I like to read books.", "Ich lese gern Bücher.", "我喜欢读书。"),
    ("Where is the train station?", "Wo ist der Bahnhof?", "火车站在哪里？"),
    ('He said "good morning to me.', 'Er sagte "guten Morgen zu mir.', '他对我说"早上好。'),
    ("The children are playing outside.", "Die Kinder spielen draußen.", "孩子们在外面玩。"),
    ("We will meet tomorrow.", "Wir treffen uns morgen.", "我们明天见面。"),
    ("This coffee is too hot.", "Dieser Kaffee ist zu heiß.", "这杯咖啡太烫了。"),
    ("My brother lives in the city.", "Mein Bruder wohnt in der Stadt.", "我哥哥住在城里。"),
    ("The music was very loud.", "Die Musik war sehr laut.", "音乐很吵。"),
    ("She bought a red car.", "Sie kaufte ein rotes Auto.", "她买了一辆红色的车。"),
    ("Dinner is ready now.", "Das Abendessen ist jetzt fertig.", "晚饭准备好了。"),
)
VOICES = ("en-us", "en+f3", "en-gb-x-rp", "en+m3")
CV_COLUMNS = ("client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent")
# CoVoST's language codes (Chinese with its region) -> index of the translation in SENTENCES
TARGETS = {"de": 1, "zh-CN": 2}


@dataclass
class FakeCovost:
    """Where the fake corpus lies, and what each split holds (clip, English, speaker)."""

    covost_dir: Path
    cv_root: Path
    splits: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def client_id(speaker: int) -> str:
    """A Common Voice speaker id: 128 hex digits."""
    return hashlib.sha512(f"speaker-{speaker}".encode()).hexdigest()


def write_tsv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    lines = ["\t".join(header), *("\t".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def speak_mp3(text: str, voice: str, out: Path) -> None:
    """espeak-ng speech, as Common Voice stores it: 48 kHz mono MP3."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "x.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-ar", "48000",
             "-ac", "1", "-codec:a", "libmp3lame", "-b:a", "48k", str(out)],
            check=True,
        )  # fmt: skip


def write_fake_covost2(
    root: Path, sizes: dict[str, int] | None = None, targets: tuple[str, ...] = ("de", "zh-CN")
) -> FakeCovost:
    """Lay out the fake corpus under ``root`` (``sizes``: clips per split, default
    train 8, dev 2, test 2; the speakers of each split are its own)."""
    sizes = sizes or {"train": 8, "dev": 2, "test": 2}
    fake = FakeCovost(root / "covost2", root / "cv-corpus-4-2019-12-10")
    clips = fake.cv_root / "en" / "clips"
    clips.mkdir(parents=True)
    fake.covost_dir.mkdir(parents=True)
    cv_rows, release = [], {t: [] for t in targets}
    k = 0
    for s_index, (split, n) in enumerate(sizes.items()):
        fake.splits[split] = []
        split_rows = {t: [] for t in targets}
        for i in range(n):
            en, *_ = sentence = SENTENCES[k % len(SENTENCES)]
            speaker = 2 * s_index + i % 2
            clip = f"common_voice_en_{19664034 + k}.mp3"
            speak_mp3(en, VOICES[speaker % len(VOICES)], clips / clip)
            cid = client_id(speaker)
            gender = ("male", "female")[speaker % 2]
            cv_rows.append((cid, clip, en, "2", "0", "thirties", gender, "us"))
            for t in targets:
                tr = sentence[TARGETS[t]]
                split_rows[t].append((clip, en, tr, cid))
                release[t].append((clip, en, tr, split))
            fake.splits[split].append((clip, en, cid))
            k += 1
        for t in targets:
            tsv = fake.covost_dir / f"covost_v2.en_{t}.{split}.tsv"
            write_tsv(tsv, ("path", "sentence", "translation", "client_id"), split_rows[t])
    for t in targets:
        tsv = fake.covost_dir / f"covost_v2.en_{t}.tsv"
        write_tsv(tsv, ("path", "sentence", "translation", "split"), release[t])
    lang = fake.cv_root / "en"
    write_tsv(lang / "validated.tsv", CV_COLUMNS, cv_rows)
    # Common Voice's own splits (CoVoST 2 re-splits validated.tsv)
    thirds = len(cv_rows) // 3
    for name, rows in (("train", cv_rows[:thirds]), ("dev", cv_rows[thirds : 2 * thirds]),
                       ("test", cv_rows[2 * thirds :]), ("invalidated", []), ("other", [])):  # fmt: skip
        write_tsv(lang / f"{name}.tsv", CV_COLUMNS, rows)
    return fake
