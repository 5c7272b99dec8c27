"""Scoring: text normalisation, metrics (WER/CER, BLEU/chrF, accuracy/macro-F1, exact
match), score files and the RESULTS.md table."""

from soundwave.score.metrics import (
    DEFAULT_NORMALIZER,
    Classification,
    CorpusScore,
    ErrorRate,
    MetricResult,
    UttAlignment,
    bleu,
    chrf,
    classification_scores,
    compute,
    error_rate,
    macro_f1,
)
from soundwave.score.normalize import NORMALIZERS, get_normalizer, normalize_text
from soundwave.score.results import (
    ScoreRecord,
    collect_scores,
    infer_layout,
    read_score,
    results_markdown,
    write_score,
)
from soundwave.score.textio import read_utt_texts

__all__ = [
    "DEFAULT_NORMALIZER",
    "NORMALIZERS",
    "Classification",
    "CorpusScore",
    "ErrorRate",
    "MetricResult",
    "ScoreRecord",
    "UttAlignment",
    "bleu",
    "chrf",
    "classification_scores",
    "collect_scores",
    "compute",
    "error_rate",
    "get_normalizer",
    "infer_layout",
    "macro_f1",
    "normalize_text",
    "read_score",
    "read_utt_texts",
    "results_markdown",
    "write_score",
]
