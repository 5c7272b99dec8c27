"""The synthetic multi-task corpus of the default recipe.

Speech (Kaldi data dirs ``train`` / ``dev`` / ``test``): English utterances synthesised
by many synthetic speakers, each with its German translation (``text.de``), a question /
answer pair (``utt2question`` / ``utt2answer``), the sentence family (``utt2intent``)
and, in dev and test, ``utt2seen``:

- ``seen``: the exact English text also occurs in train (spoken by a training speaker);
- ``new``: a new text whose slot combination was drawn from the training pool;
- ``heldout``: a held-out slot combination (``grammar.is_heldout``): neither the text
  nor its combination of slot values occurs in any training data, speech or text.

All dev and test speakers are unseen (``speakers``: disjoint timbres and accents).

Text-only corpora (``<work>/text``) pretrain the stand-in LLM, which never sees speech:
``{train,dev}.jsonl`` records ``{"task", "input", "target"}`` (QA adds ``"question"``,
``lm`` records are ``{"task": "lm", "text"}``) with tasks
``asr`` (repeat the text), ``st`` (translate to German), ``qa`` and ``lm`` (one
sentence, English or German, as target), and ``lm.txt`` (English and German lines, for
tokenizer training).  The LLM is "pretrained" on the grammar in general -- more
sentences than the speech corpus -- but, to keep zero-shot claims honest, it never sees
an exact test text nor any held-out slot combination; its dev part shares no text with
its train part.

Everything is a function of the seed (and, for audio bytes, of the TTS tool versions).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from soundwave.data.kaldi import DataDir
from soundwave.data.tables import format_seconds, write_file
from soundwave.fileio import atomic_dir
from soundwave.offline.synth import grammar, qa
from soundwave.offline.synth.grammar import Sentence
from soundwave.offline.synth.speakers import (
    ENGINES,
    FLITE_SPLIT,
    HELDOUT_BASE,
    SPLITS,
    VARIANTS,
    Speaker,
    make_speakers,
)
from soundwave.offline.synth.synthesize import (
    SAMPLE_RATE,
    Job,
    check_tools,
    synthesize_all,
    tool_versions,
)
from soundwave.offline.synth.timbre import espeak_overlays

SEEN_LABELS = ("seen", "new", "heldout")


@dataclass(frozen=True)
class CorpusConfig:
    """Sizes and knobs of one corpus; the defaults make a small one.  A recipe states its
    corpus in a YAML file read onto this class (egs/mini_synth/s2t1/conf/corpus.yaml,
    ``make_synth_corpus --config``)."""

    seed: int = 0
    num_train: int = 1800
    num_dev: int = 200
    num_test: int = 200
    spk_train: int = 60
    spk_dev: int = 10
    spk_test: int = 10
    test_heldout_frac: float = 0.4  # held-out slot combinations
    test_seen_frac: float = 0.2  # exact training texts, new speakers
    num_text_train: int = 20000  # sentences of the LLM text corpus (>= speech train)
    num_text_dev: int = 1000
    engines: tuple[str, ...] = ENGINES
    flite_share: float = 0.15
    # training speakers only (dev/test keep the stock voices): the share of espeak-ng
    # speakers with a generated timbre of their own, the rate of accent rules in those
    # timbres, the share of flite speakers converted into the other gender, and the
    # largest per-speaker warp
    generated_timbres: float = 0.0
    accent_rules: float = 0.0
    flite_conversion: float = 0.0
    train_warp: float = 0.0

    def utts(self, split: str) -> int:
        return {"train": self.num_train, "dev": self.num_dev, "test": self.num_test}[split]

    def spks(self, split: str) -> int:
        return {"train": self.spk_train, "dev": self.spk_dev, "test": self.spk_test}[split]


@dataclass(frozen=True)
class Utterance:
    id: str
    speaker: Speaker
    sentence: Sentence
    question: str
    answer: str
    seen: str  # one of SEEN_LABELS ("new" for every train utterance)


@dataclass
class Plan:
    """What will be synthesised: utterances per split (no audio yet)."""

    config: CorpusConfig
    speakers: dict[str, list[Speaker]]
    utts: dict[str, list[Utterance]] = field(default_factory=dict)

    def texts(self, split: str) -> set[str]:
        return {u.sentence.en for u in self.utts[split]}


def _rng(cfg: CorpusConfig, *what: str) -> random.Random:
    return random.Random(":".join([str(cfg.seed), *what]))


def _split_sentences(cfg: CorpusConfig, split: str, plan: Plan) -> list[tuple[Sentence, str]]:
    n, rng = cfg.utts(split), _rng(cfg, "sentences", split)
    if split == "train":
        return [(s, "new") for s in grammar.sample_many(n, rng, cfg.seed, heldout=False)]
    train = [u.sentence for u in plan.utts["train"]]
    if split == "dev":
        new = grammar.sample_many(n, rng, cfg.seed, heldout=False, exclude=plan.texts("train"))
        return [(s, "new") for s in new]
    n_held = round(n * cfg.test_heldout_frac)
    n_seen = min(round(n * cfg.test_seen_frac), len(train), n - n_held)
    taken = plan.texts("train") | plan.texts("dev")
    out = [(s, "heldout") for s in grammar.sample_many(n_held, rng, cfg.seed, heldout=True)]
    out += [(s, "seen") for s in rng.sample(train, n_seen)]
    new = grammar.sample_many(n - n_held - n_seen, rng, cfg.seed, heldout=False, exclude=taken)
    out += [(s, "new") for s in new]
    rng.shuffle(out)
    return out


def make_plan(cfg: CorpusConfig) -> Plan:
    """Speakers, sentences, ids and QA of every split; deterministic in ``cfg``."""
    for split in SPLITS:
        if cfg.utts(split) < 1 or cfg.spks(split) < 1:
            raise ValueError(f"{split}: need at least one utterance and one speaker")
    speakers = {
        s: make_speakers(
            s,
            min(cfg.spks(s), cfg.utts(s)),
            _rng(cfg, "speakers", s),
            cfg.engines,
            cfg.flite_share,
            cfg.generated_timbres if s == "train" else 0.0,
            cfg.train_warp if s == "train" else 0.0,
            cfg.accent_rules if s == "train" else 0.0,
            cfg.flite_conversion if s == "train" else 0.0,
        )
        for s in SPLITS
    }
    plan = Plan(cfg, speakers)
    for split in SPLITS:
        spks = speakers[split]
        qa_rng = _rng(cfg, "qa", split)
        width = max(5, len(str(cfg.utts(split))))
        utts = []
        for i, (sent, seen) in enumerate(_split_sentences(cfg, split, plan)):
            spk = spks[i % len(spks)]
            question, answer = qa.pick(sent, qa_rng)
            utts.append(Utterance(f"{spk.id}-{i:0{width}d}", spk, sent, question, answer, seen))
        plan.utts[split] = sorted(utts, key=lambda u: u.id)
    return plan


# ------------------------------------------------------------------------ Kaldi output


def write_data_dir(
    path: Path, utts: list[Utterance], wav_of: Callable[[Utterance], Path], nsamples: dict[str, int]
) -> None:
    """Write one Kaldi data dir (wav.scp with absolute paths); an existing one is replaced
    only once the new one is complete."""
    tables = {
        "wav.scp": {u.id: str(wav_of(u).resolve()) for u in utts},
        "text": {u.id: u.sentence.en for u in utts},
        "text.de": {u.id: u.sentence.de for u in utts},
        "utt2spk": {u.id: u.speaker.id for u in utts},
        "spk2gender": {u.speaker.id: u.speaker.kaldi_gender for u in utts},
        "utt2gender": {u.id: u.speaker.gender for u in utts},
        "utt2question": {u.id: u.question for u in utts},
        "utt2answer": {u.id: u.answer for u in utts},
        "utt2intent": {u.id: u.sentence.family for u in utts},
        "utt2dur": {u.id: format_seconds(nsamples[u.id] / SAMPLE_RATE) for u in utts},
    }
    if utts[0].speaker.split != "train":
        tables["utt2seen"] = {u.id: u.seen for u in utts}
    files = DataDir(tables=tables).sort().render()  # C-locale order, spk2utt derived
    with atomic_dir(path) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)


# ------------------------------------------------------------------------ text corpora


def text_sentences(plan: Plan) -> tuple[list[Sentence], list[Sentence]]:
    """Sentences of the LLM text corpus (train, dev); see the module docstring."""
    cfg = plan.config
    rng = _rng(cfg, "text")
    test = plan.texts("test")
    train = [u.sentence for u in plan.utts["train"] if u.sentence.en not in test]
    dev = [u.sentence for u in plan.utts["dev"] if u.sentence.en not in test]
    taken = test | plan.texts("train") | plan.texts("dev")
    n_extra = max(0, cfg.num_text_train - len(train))
    extra = grammar.sample_many(n_extra, rng, cfg.seed, heldout=False, exclude=taken)
    train += extra
    taken |= {s.en for s in extra}
    n_extra = max(0, cfg.num_text_dev - len(dev))
    dev += grammar.sample_many(n_extra, rng, cfg.seed, heldout=False, exclude=taken)
    rng.shuffle(train)
    rng.shuffle(dev)
    return train, dev


def text_records(sentences: list[Sentence], rng: random.Random) -> list[dict[str, str]]:
    """asr / st / qa / lm (English and German) records of each sentence, in the format of
    :mod:`soundwave.offline.standin.text_data` (the instruction phrasings come from the task
    registry, QA's question from the record)."""
    out = []
    for s in sentences:
        question, answer = qa.pick(s, rng)
        out += [
            {"task": "asr", "input": s.en, "target": s.en},
            {"task": "st", "input": s.en, "target": s.de},
            {"task": "qa", "question": question, "input": s.en, "target": answer},
            {"task": "lm", "text": s.en},
            {"task": "lm", "text": s.de},
        ]
    return out


def write_text_corpora(plan: Plan, text_dir: Path) -> dict[str, int]:
    train, dev = text_sentences(plan)
    rng = _rng(plan.config, "text-qa")
    counts = {}
    for name, sents in (("train", train), ("dev", dev)):
        records = text_records(sents, rng)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        write_file(text_dir / f"{name}.jsonl", lines.encode())
        counts[f"{name}_sentences"] = len(sents)
        counts[f"{name}_records"] = len(records)
    write_file(text_dir / "lm.txt", "".join(f"{s.en}\n{s.de}\n" for s in train).encode())
    return counts


# ------------------------------------------------------------------------------- build


def vocab(texts: Iterable[str]) -> set[str]:
    """Word types: English as is, German without punctuation (case kept)."""
    words = set()
    for t in texts:
        words.update(w.strip(".,?!") for w in t.split())
    words.discard("")
    return words


def build(
    cfg: CorpusConfig,
    data_dir: str | Path,
    work_dir: str | Path,
    nj: int = 2,
    log: Callable[[str], None] = print,
) -> dict:
    """Synthesise the corpus; write data dirs, text corpora and ``<work>/report.json``."""
    check_tools(cfg.engines)
    data_dir, work_dir = Path(data_dir), Path(work_dir)
    plan = make_plan(cfg)
    wav_root = (work_dir / "wav").resolve()
    all_utts = [u for s in SPLITS for u in plan.utts[s]]
    generated = [s.timbre for sp in SPLITS for s in plan.speakers[sp] if s.timbre is not None]
    overlay = espeak_overlays(work_dir / "espeak", generated) if generated else {}

    def espeak_path(s: Speaker) -> str | None:
        return str(overlay[s.timbre.name]) if s.timbre is not None else None

    log(f"synthesising {len(all_utts)} utterances with {nj} process(es)")
    t0 = time.perf_counter()
    with atomic_dir(wav_root) as tmp:
        jobs = [
            Job(
                u.id,
                u.sentence.en,
                u.speaker,
                str(tmp / u.speaker.id / f"{u.id}.wav"),
                cfg.seed,
                espeak_path(u.speaker),
            )
            for u in all_utts
        ]
        nsamples = synthesize_all(jobs, nj)
    seconds = time.perf_counter() - t0

    def wav_of(u: Utterance) -> Path:
        return wav_root / u.speaker.id / f"{u.id}.wav"

    for split in SPLITS:
        write_data_dir(data_dir / split, plan.utts[split], wav_of, nsamples)
    text_counts = write_text_corpora(plan, work_dir / "text")
    report = _report(plan, nsamples, seconds, nj, text_counts)
    report["data_dir"] = str(data_dir.resolve())
    report["work_dir"] = str(work_dir.resolve())
    write_file(
        work_dir / "report.json", (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()
    )
    rows = [
        f"{s.id}\t{s.split}\t{s.gender}\t{s.describe()}\n"
        for sp in SPLITS
        for s in plan.speakers[sp]
    ]
    write_file(
        work_dir / "speakers.tsv", ("speaker\tsplit\tgender\tvoice\n" + "".join(rows)).encode()
    )
    return report


def _report(plan: Plan, nsamples: dict[str, int], seconds: float, nj: int, text: dict) -> dict:
    cfg = plan.config
    splits = {}
    for split in SPLITS:
        utts = plan.utts[split]
        durs = [nsamples[u.id] / SAMPLE_RATE for u in utts]
        spks = {u.speaker.id: u.speaker.gender for u in utts}
        splits[split] = {
            "utts": len(utts),
            "hours": round(sum(durs) / 3600, 4),
            "speakers": len(spks),
            "female_speakers": sum(g == "female" for g in spks.values()),
            "male_speakers": sum(g == "male" for g in spks.values()),
            "flite_speakers": sum(s.engine == "flite" for s in plan.speakers[split]),
            "generated_timbres": sum(s.timbre is not None for s in plan.speakers[split]),
            "dur_min": round(min(durs), 3),
            "dur_mean": round(sum(durs) / len(durs), 3),
            "dur_max": round(max(durs), 3),
            "seen": dict(Counter(u.seen for u in utts)),
            "en_vocab": len(vocab(u.sentence.en for u in utts)),
            "de_vocab": len(vocab(u.sentence.de for u in utts)),
        }
    every = [u for s in SPLITS for u in plan.utts[s]]
    total_h = sum(s["hours"] for s in splits.values())
    return {
        "config": asdict(cfg),
        "tools": tool_versions(cfg.engines),
        "splits": splits,
        "en_vocab": len(vocab(u.sentence.en for u in every)),
        "de_vocab": len(vocab(u.sentence.de for u in every)),
        "hours_per_1000_utts": round(1000 * total_h / len(every), 4),
        "synthesis": {
            "nj": nj,
            "seconds": round(seconds, 2),
            "utts_per_second": round(len(every) / seconds, 1),
        },
        "text_corpus": text,
        "heldout": {
            "slot_combination_fraction": grammar.HELDOUT_FRACTION,
            "espeak_variants": {
                f"{s}/{g}": list(v) for (s, g), v in VARIANTS.items() if s != "train"
            },
            "espeak_bases": HELDOUT_BASE,
            "flite_voices": {s: list(v) for s, v in FLITE_SPLIT.items()},
        },
        "speakers": {s.id: s.describe() for sp in SPLITS for s in plan.speakers[sp]},
    }


def summary(report: dict) -> str:
    """A few human-readable lines about a built corpus."""
    lines = []
    for split, s in report["splits"].items():
        seen = ", ".join(f"{k} {v}" for k, v in sorted(s["seen"].items()))
        lines.append(
            f"{split:5s}: {s['utts']:6d} utts {s['hours']:7.3f} h  "
            f"{s['speakers']:3d} speakers ({s['female_speakers']} f, {s['male_speakers']} m, "
            f"{s['flite_speakers']} flite, {s['generated_timbres']} generated timbres)  dur {s['dur_min']:.2f}-{s['dur_max']:.2f} s"
            + (f"  [{seen}]" if split != "train" else "")
        )
    syn, text = report["synthesis"], report["text_corpus"]
    lines.append(
        f"vocab: {report['en_vocab']} English / {report['de_vocab']} German words; "
        f"{report['hours_per_1000_utts']:.3f} h per 1000 utts"
    )
    lines.append(
        f"synthesis: {syn['utts_per_second']} utts/s with {syn['nj']} process(es) "
        f"({syn['seconds']} s); text corpus: {text['train_sentences']} train / "
        f"{text['dev_sentences']} dev sentences"
    )
    return "\n".join(lines)
