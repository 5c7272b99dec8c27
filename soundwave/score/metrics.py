"""Metrics on already-normalised text: WER/CER (jiwer), BLEU/chrF (sacrebleu),
accuracy and macro-F1 (classification), exact match (QA).

Every reported value is a percentage (0–100).  :func:`compute` normalises the texts,
runs one metric and returns a :class:`MetricResult` ready for a score file.

CER is computed over characters with spaces counted as ``<space>`` tokens (the ESPnet
convention), so a missing word boundary is one error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jiwer
from sacrebleu.metrics import BLEU, CHRF

from soundwave.errors import UserError
from soundwave.score.normalize import get_normalizer
from soundwave.tasks.registry import METRICS, get_task

#: Metrics where a smaller value is better.
LOWER_IS_BETTER = frozenset({"wer", "cer"})

SPACE = "<space>"
#: Normaliser used for each metric (all of :data:`METRICS`) unless one is given.
DEFAULT_NORMALIZER = {
    "wer": "basic",
    "cer": "basic",
    "bleu": "none",
    "chrf": "none",
    "accuracy": "basic",
    "exact_match": "basic",
}


# ---------------------------------------------------------------- error rates


@dataclass(frozen=True)
class UttAlignment:
    """One utterance's alignment: ``ops`` are (op, ref token, hyp token) with op in
    C(orrect), S(ubstitution), D(eletion), I(nsertion); the missing side is ``None``."""

    utt_id: str
    ops: tuple[tuple[str, str | None, str | None], ...]

    def count(self, op: str) -> int:
        return sum(1 for o, _, _ in self.ops if o == op)

    def kaldi_lines(self) -> list[str]:
        """The four lines Kaldi's ``wer_per_utt_details.pl`` writes for an utterance."""
        cols = [(r or "***", h or "***", o) for o, r, h in self.ops]
        widths = [max(len(c) for c in col) for col in cols]
        rows = []
        for key, k in (("ref", 0), ("hyp", 1), ("op", 2)):
            cells = " ".join(col[k].ljust(w) for col, w in zip(cols, widths))
            rows.append(f"{self.utt_id} {key} {cells}".rstrip())
        csid = " ".join(str(self.count(op)) for op in "CSID")
        rows.append(f"{self.utt_id} #csid {csid}")
        return rows


@dataclass(frozen=True)
class ErrorRate:
    """Corpus-level edit-distance counts over words or characters."""

    unit: str  # "word" | "char"
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    utts: tuple[UttAlignment, ...] = field(repr=False)

    @property
    def ref_tokens(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Error rate in percent (``inf`` if the references are empty but not the output)."""
        if self.ref_tokens == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return 100.0 * self.errors / self.ref_tokens

    def summary(self) -> str:
        """Kaldi's one-line summary, e.g. ``%WER 50.00 [ 2 / 4, 0 ins, 1 del, 1 sub ]``."""
        name = "%WER" if self.unit == "word" else "%CER"
        return (
            f"{name} {self.rate:.2f} [ {self.errors} / {self.ref_tokens}, "
            f"{self.insertions} ins, {self.deletions} del, {self.substitutions} sub ]"
        )


def tokenize(text: str, unit: str) -> list[str]:
    """Words, or characters with spaces as ``<space>``."""
    if unit == "word":
        return text.split()
    if unit == "char":
        return [SPACE if ch == " " else ch for ch in " ".join(text.split())]
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def _align(ref: list[str], hyp: list[str], chunks: list[Any]) -> list[tuple[str, Any, Any]]:
    ops: list[tuple[str, Any, Any]] = []
    for c in chunks:
        rs = range(c.ref_start_idx, c.ref_end_idx)
        hs = range(c.hyp_start_idx, c.hyp_end_idx)
        if c.type in ("equal", "substitute"):
            op = "C" if c.type == "equal" else "S"
            ops.extend((op, ref[a], hyp[b]) for a, b in zip(rs, hs))
        elif c.type == "delete":
            ops.extend(("D", ref[a], None) for a in rs)
        else:
            ops.extend(("I", None, hyp[b]) for b in hs)
    return ops


def error_rate(
    refs: Sequence[str],
    hyps: Sequence[str],
    ids: Sequence[str] | None = None,
    unit: str = "word",
) -> ErrorRate:
    """Word (``unit="word"``) or character error rate of ``hyps`` against ``refs``."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    ids = list(ids) if ids is not None else [str(k) for k in range(len(refs))]
    ref_toks = [tokenize(r, unit) for r in refs]
    hyp_toks = [tokenize(h, unit) for h in hyps]
    ops: list[list[tuple[str, Any, Any]]] = [
        [("I", None, t) for t in h] if not r else [("D", t, None) for t in r]
        for r, h in zip(ref_toks, hyp_toks)
    ]
    # jiwer (older versions) rejects empty references: align only non-empty pairs
    both = [k for k in range(len(refs)) if ref_toks[k] and hyp_toks[k]]
    if both:
        out = jiwer.process_words(
            [" ".join(ref_toks[k]) for k in both], [" ".join(hyp_toks[k]) for k in both]
        )
        for k, chunks in zip(both, out.alignments):
            ops[k] = _align(ref_toks[k], hyp_toks[k], chunks)
    utts = tuple(UttAlignment(i, tuple(o)) for i, o in zip(ids, ops))
    counts = Counter(op for o in ops for op, _, _ in o)
    return ErrorRate(unit, counts["C"], counts["S"], counts["D"], counts["I"], utts)


# ---------------------------------------------------------------- BLEU / chrF


@dataclass(frozen=True)
class CorpusScore:
    """A sacrebleu corpus score with its signature (the settings that reproduce it)."""

    name: str
    score: float
    signature: str
    summary: str
    counts: dict[str, float]


#: BLEU's tokenizer for target languages whose text does not separate words by spaces:
#: sacrebleu's own choice when it knows the target language (``BLEU(trg_lang=...)``), so
#: that BLEU into Chinese is reported as the field does (CoVoST 2 En->Zh: ``tok:zh``).
#: Every other language gets sacrebleu's default, ``13a``.
BLEU_TOKENIZE_BY_LANGUAGE = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}


def bleu_tokenize_for(task: str | None) -> str | None:
    """The BLEU tokenizer for the answers of ``task`` (``None``: sacrebleu's default,
    13a): the one place where it is chosen by the task's target language."""
    try:
        language = get_task(task).target_language if task else None
    except UserError:  # a task name the registry does not know: no language to go by
        return None
    return BLEU_TOKENIZE_BY_LANGUAGE.get(language or "")


def _sacrebleu(metric: BLEU | CHRF, refs: Sequence[str], hyps: Sequence[str]) -> Any:
    return metric.corpus_score(list(hyps), [list(refs)])


def _bleu_metric(tokenize: str | None, **kwargs: Any) -> BLEU:
    try:
        return BLEU(tokenize=tokenize, **kwargs)
    except Exception as err:  # sacrebleu raises a bare RuntimeError/KeyError here
        raise UserError(f"BLEU tokenizer {tokenize!r}: {err}") from None


def bleu(refs: Sequence[str], hyps: Sequence[str], tokenize: str | None = None) -> CorpusScore:
    """Corpus BLEU (sacrebleu defaults; ``tokenize`` e.g. ``"zh"``, ``"ja-mecab"``)."""
    metric = _bleu_metric(tokenize)
    res = _sacrebleu(metric, refs, hyps)
    sig = str(metric.get_signature())
    counts: dict[str, float] = {"sys_len": res.sys_len, "ref_len": res.ref_len, "bp": res.bp}
    for n, (m, t, p) in enumerate(zip(res.counts, res.totals, res.precisions), start=1):
        counts.update({f"matches_{n}": m, f"totals_{n}": t, f"precision_{n}": p})
    return CorpusScore("bleu", float(res.score), sig, f"{res} {sig}", counts)


def chrf(refs: Sequence[str], hyps: Sequence[str], word_order: int = 0) -> CorpusScore:
    """Corpus chrF (``word_order=2`` gives chrF++)."""
    metric = CHRF(word_order=word_order)
    res = _sacrebleu(metric, refs, hyps)
    sig = str(metric.get_signature())
    return CorpusScore("chrf", float(res.score), sig, f"{res} {sig}", {})


def sentence_scores(
    metric: str, refs: Sequence[str], hyps: Sequence[str], tokenize: str | None = None
) -> list[float]:
    """Per-sentence BLEU (with effective order) or chrF, for per-utterance listings."""
    scorer = _bleu_metric(tokenize, effective_order=True) if metric == "bleu" else CHRF()
    return [float(scorer.sentence_score(h, [r]).score) for r, h in zip(refs, hyps)]


# ---------------------------------------------------------------- classification


@dataclass(frozen=True)
class Classification:
    """Accuracy and macro-F1 (percent) with per-class precision/recall/F1 (percent)."""

    n: int
    correct: int
    macro_f1: float
    per_class: dict[str, dict[str, float]]

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.n if self.n else 0.0


def classification_scores(refs: Sequence[str], hyps: Sequence[str]) -> Classification:
    """Accuracy and macro-F1 over the classes present in ``refs``.

    A prediction outside the reference classes is simply wrong: it lowers the recall
    of the true class and adds no class of its own (sklearn's ``labels=set(refs)``).
    Precision or recall with an empty denominator counts as 0.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    support = Counter(refs)
    predicted = Counter(hyps)
    hits = Counter(r for r, h in zip(refs, hyps) if r == h)
    per_class = {}
    for label in sorted(support):
        tp = hits[label]
        precision = tp / predicted[label] if predicted[label] else 0.0
        recall = tp / support[label]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": 100.0 * precision,
            "recall": 100.0 * recall,
            "f1": 100.0 * f1,
            "support": support[label],
        }
    macro = sum(c["f1"] for c in per_class.values()) / len(per_class) if per_class else 0.0
    return Classification(len(refs), sum(hits.values()), macro, per_class)


def macro_f1(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Macro-averaged F1 in percent (see :func:`classification_scores`)."""
    return classification_scores(refs, hyps).macro_f1


# ---------------------------------------------------------------- dispatcher


@dataclass(frozen=True)
class MetricResult:
    """One metric on one set: values (percent), counts, a one-line summary."""

    metric: str
    scores: dict[str, float]
    counts: dict[str, float]
    summary: str
    normalizer: str
    signature: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    per_utt: tuple[str, ...] = ()


def compute(
    metric: str,
    ids: Sequence[str],
    refs: Sequence[str],
    hyps: Sequence[str],
    *,
    normalizer: str | None = None,
    bleu_tokenize: str | None = None,
    per_utt: bool = False,
) -> MetricResult:
    """Normalise ``refs``/``hyps`` and score them with ``metric`` (one of :data:`METRICS`).

    ``per_utt`` also returns per-utterance lines: Kaldi ``per_utt`` alignments for
    WER/CER, ``<id> <sentence score>`` for BLEU/chrF, ``<id> C|S ref=… hyp=…`` (tab
    separated) for accuracy and exact match.
    """
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    norm_name = normalizer or DEFAULT_NORMALIZER[metric]
    norm = get_normalizer(norm_name)
    refs = [norm(t) for t in refs]
    hyps = [norm(t) for t in hyps]
    lines: list[str] = []
    if metric in ("wer", "cer"):
        er = error_rate(refs, hyps, ids, unit="word" if metric == "wer" else "char")
        if per_utt:
            lines = [line for u in er.utts for line in u.kaldi_lines()]
        counts = {
            "substitutions": er.substitutions,
            "deletions": er.deletions,
            "insertions": er.insertions,
            "errors": er.errors,
            f"ref_{er.unit}s": er.ref_tokens,
        }
        return MetricResult(
            metric, {metric: er.rate}, counts, er.summary(), norm_name, per_utt=tuple(lines)
        )
    if metric in ("bleu", "chrf"):
        cs = bleu(refs, hyps, bleu_tokenize) if metric == "bleu" else chrf(refs, hyps)
        if per_utt:
            sent = sentence_scores(metric, refs, hyps, bleu_tokenize)
            lines = [f"{i} {s:.2f}" for i, s in zip(ids, sent)]
        return MetricResult(
            metric,
            {metric: cs.score},
            cs.counts,
            cs.summary,
            norm_name,
            cs.signature,
            per_utt=tuple(lines),
        )
    cl = classification_scores(refs, hyps)
    if per_utt:
        lines = [
            f"{i}\t{'C' if r == h else 'S'}\tref={r}\thyp={h}" for i, r, h in zip(ids, refs, hyps)
        ]
    counts = {"correct": cl.correct, "utts": cl.n}
    if metric == "exact_match":
        summary = f"%EM {cl.accuracy:.2f} [ {cl.correct} / {cl.n} ]"
        return MetricResult(
            metric, {metric: cl.accuracy}, counts, summary, norm_name, per_utt=tuple(lines)
        )
    summary = f"%ACC {cl.accuracy:.2f} [ {cl.correct} / {cl.n} ] macro-F1 {cl.macro_f1:.2f}"
    return MetricResult(
        metric,
        {"accuracy": cl.accuracy, "macro_f1": cl.macro_f1},
        counts,
        summary,
        norm_name,
        details={"per_class": cl.per_class},
        per_utt=tuple(lines),
    )


def task_score(task: str, refs: Sequence[str], hyps: Sequence[str]) -> tuple[str, float]:
    """``(metric, value)`` of ``hyps`` scored with the metric of ``task`` (for validation
    during training).  ``ctc_<task>`` scores a CTC transcript with ``<task>``'s metric."""
    name = task.removeprefix("ctc_")
    metric = get_task(name).metric
    ids = [str(k) for k in range(len(refs))]
    result = compute(metric, ids, refs, hyps, bleu_tokenize=bleu_tokenize_for(name))
    return metric, result.scores[metric]


def constant_answer_baseline(
    metric: str,
    ids: Sequence[str],
    refs: Sequence[str],
    *,
    normalizer: str | None = None,
    bleu_tokenize: str | None = None,
    candidates: int = 20,
) -> tuple[str, MetricResult]:
    """The chance level of a test set: the best result a system that ignores its input
    reaches by giving one fixed answer to every utterance.

    The answers tried are the ``candidates`` most frequent references (normalised); the
    best by ``metric`` wins (for WER a frequent sentence, for accuracy the majority
    class).  Returns that answer and its :class:`MetricResult`.
    """
    if not refs:
        raise UserError("no references to build a constant-answer baseline from")
    norm = get_normalizer(normalizer or DEFAULT_NORMALIZER[metric])
    results = {
        answer: compute(
            metric,
            ids,
            refs,
            [answer] * len(refs),
            normalizer=normalizer,
            bleu_tokenize=bleu_tokenize,
        )
        for answer, _ in Counter(norm(r) for r in refs).most_common(candidates)
    }
    better = min if metric in LOWER_IS_BETTER else max
    best = better(results, key=lambda answer: results[answer].scores[metric])
    return best, results[best]
