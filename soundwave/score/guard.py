"""The CTC guard: per utterance, is the LLM's answer suspect?

Three measures of one hypothesis, all on text normalised as for WER (``basic``):

- **disagreement**: word edits (substitutions, deletions, insertions) between the LLM's
  hypothesis and the adapter's greedy CTC transcript of the same audio, over the CTC
  transcript's words (at least 1): the word error rate of the LLM against the CTC.  Only
  for tasks whose answer is the transcript (``asr``) and where the CTC transcript was
  decoded; ``None`` elsewhere.
- **repeats**: the longest run of back-to-back copies of one word n-gram (n ≤
  ``max_ngram``) in the hypothesis: 1 for none, 3 for "sixty sixty sixty".
- **words per second**: hypothesis words per second of audio.

An utterance is flagged for ``disagreement`` above ``max_disagreement``, for
``repetition`` when its repeats reach ``max_repeats`` and exceed the CTC transcript's
own where it is compared (a repetition the audio also shows is speech, not a loop), and for ``length``
outside [``min_words_per_second``, ``max_words_per_second``].

Decoding (``decode.guard: flag | fallback``) writes ``guard.txt`` beside ``hyp.txt``, one
line per utterance::

    <utt-id> <flagged 0|1> <disagreement> <repeats> <words-per-second> <reasons>

(``-`` where a measure does not apply, reasons comma-separated or ``-``).  ``fallback``
puts the CTC transcript in ``hyp.txt`` for a flagged transcription utterance and keeps
the LLM's own hypotheses in ``hyp_llm.txt``; scoring reports the metric both ways.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from soundwave.errors import UserError
from soundwave.score.metrics import error_rate
from soundwave.score.normalize import normalize_text
from soundwave.tasks import get_task

GUARD_MODES = ("off", "flag", "fallback")
REASONS = ("disagreement", "repetition", "length")
GUARD_FILE, LLM_HYP_FILE = "guard.txt", "hyp_llm.txt"


@dataclass
class GuardLimits:
    """When an utterance is flagged (see the module docstring)."""

    # more than half of the CTC transcript's words would have to change: one of the two
    # has not heard the audio
    max_disagreement: float = 0.5
    # three copies in a row: "no no no" is rare in speech, a decoding loop is not
    max_repeats: int = 3
    max_ngram: int = 4
    # well above fast read speech (about 3-4 words per second)
    max_words_per_second: float = 6.0
    # 0: off (a short answer to a long question is fine for most tasks)
    min_words_per_second: float = 0.0

    def __post_init__(self) -> None:
        if self.max_disagreement < 0:
            raise ValueError(
                f"guard_limits.max_disagreement must be >= 0, not {self.max_disagreement}"
            )
        if self.max_repeats < 2:
            raise ValueError(f"guard_limits.max_repeats must be >= 2, not {self.max_repeats}")
        if self.max_ngram < 1:
            raise ValueError(f"guard_limits.max_ngram must be >= 1, not {self.max_ngram}")
        if not 0 <= self.min_words_per_second < self.max_words_per_second:
            raise ValueError(
                "guard_limits needs 0 <= min_words_per_second < max_words_per_second, not "
                f"{self.min_words_per_second} and {self.max_words_per_second}"
            )


@dataclass(frozen=True)
class Verdict:
    """The guard's measures of one utterance and why it is flagged (empty: it is not)."""

    disagreement: float | None
    repeats: int
    words_per_second: float | None
    reasons: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return bool(self.reasons)

    def line(self, utt: str) -> str:
        """This verdict as a ``guard.txt`` line."""
        dis = "-" if self.disagreement is None else f"{self.disagreement:.3f}"
        wps = "-" if self.words_per_second is None else f"{self.words_per_second:.2f}"
        why = ",".join(self.reasons) or "-"
        return f"{utt} {int(self.flagged)} {dis} {self.repeats} {wps} {why}"


def longest_repeat(words: list[str], max_ngram: int) -> int:
    """The most back-to-back copies of one n-gram (n ≤ ``max_ngram``) in ``words``."""
    best = 1
    for n in range(1, max_ngram + 1):
        for start in range(len(words) - 2 * n + 1):
            gram, copies = words[start : start + n], 1
            while words[start + copies * n : start + (copies + 1) * n] == gram:
                copies += 1
            best = max(best, copies)
    return best


def disagreement(hyp: str, ctc: str) -> float:
    """Word edits between ``hyp`` and the CTC transcript ``ctc`` over the latter's words
    (at least 1), both normalised."""
    er = error_rate([normalize_text(ctc)], [normalize_text(hyp)])
    return er.errors / max(1, er.ref_tokens)


def check(
    hyp: str,
    ctc: str | None,
    seconds: float,
    limits: GuardLimits,
    transcript: bool,
) -> Verdict:
    """The guard's verdict on one hypothesis.

    ``ctc`` is the adapter's CTC transcript (``None``: not decoded); ``transcript`` says the
    task's answer is the transcript, so that the two must agree.
    """
    words = normalize_text(hyp).split()
    repeats = longest_repeat(words, limits.max_ngram)
    compare = transcript and ctc is not None
    dis = disagreement(hyp, ctc) if compare else None
    wps = len(words) / seconds if seconds > 0 else None
    reasons = []
    if dis is not None and dis > limits.max_disagreement:
        reasons.append("disagreement")
    ctc_repeats = longest_repeat(normalize_text(ctc).split(), limits.max_ngram) if compare else 1
    if repeats >= limits.max_repeats and repeats > ctc_repeats:
        reasons.append("repetition")
    if wps is not None and not (limits.min_words_per_second <= wps <= limits.max_words_per_second):
        reasons.append("length")
    return Verdict(dis, repeats, wps, tuple(reasons))


def read_guard(path: str | os.PathLike) -> dict[str, Verdict]:
    """A ``guard.txt``: ``{utt: Verdict}``."""
    verdicts = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError("no such file", path) from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            utt, flagged, dis, repeats, wps, why = line.split()
            reasons = () if why == "-" else tuple(why.split(","))
            verdict = Verdict(
                None if dis == "-" else float(dis),
                int(repeats),
                None if wps == "-" else float(wps),
                reasons,
            )
            if flagged not in ("0", "1") or verdict.flagged != (flagged == "1"):
                raise ValueError
            if any(r not in REASONS for r in reasons):
                raise ValueError
        except ValueError:
            raise UserError(
                "expected '<utt-id> <flagged 0|1> <disagreement> <repeats> <words-per-second> "
                f"<reasons>' with reasons from {','.join(REASONS)}",
                path,
                lineno,
            ) from None
        verdicts[utt] = verdict
    return verdicts


def with_fallback(
    llm: dict[str, str], ctc: dict[str, str], verdicts: dict[str, Verdict]
) -> dict[str, str]:
    """``llm`` hypotheses with every flagged one that has a CTC transcript replaced by it."""
    return {
        utt: ctc[utt] if utt in ctc and utt in verdicts and verdicts[utt].flagged else text
        for utt, text in llm.items()
    }


def answers_with_transcript(task: str) -> bool:
    """Whether ``task``'s answer is the utterance's transcript (``asr``): the tasks whose
    hypothesis the CTC transcript can check and replace."""
    spec = get_task(task)
    return spec.target_fields == ("text",) and spec.instruction_field is None
