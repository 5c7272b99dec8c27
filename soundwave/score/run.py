"""Score one hypothesis file against its references and write the JSON score record.

What ``python -m soundwave.bin.score`` does (see its --help): read both Kaldi-style files,
match their utterance ids, compute the metric, and record the values with the counts,
hours, normaliser, chance level and what was scored.  A decoder's ``hyp.txt`` brings what
lies beside it: the decoding's speed (``decode.json``) and, where the CTC guard was on
(``guard.txt``), the flagged utterances and the metric without and with the fallback.
"""

from __future__ import annotations

import datetime
import json
import math
from dataclasses import dataclass
from pathlib import Path

from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.score.guard import (
    GUARD_FILE,
    LLM_HYP_FILE,
    REASONS,
    answers_with_transcript,
    read_guard,
    with_fallback,
)
from soundwave.score.metrics import bleu_tokenize_for, compute, constant_answer_baseline
from soundwave.score.results import ScoreRecord, file_hash, infer_layout, write_score
from soundwave.score.textio import read_utt_texts
from soundwave.tasks import get_task


@dataclass
class ScoreJob:
    """One scoring run; the fields are ``soundwave.bin.score``'s options."""

    ref: str
    hyp: str
    metric: str | None = None
    out: str | None = None
    per_utt: str | None = None
    allow_missing: bool = False
    normalizer: str | None = None
    bleu_tokenize: str | None = None
    ref_format: str = "auto"
    hyp_format: str = "auto"
    task: str | None = None
    set_name: str | None = None
    stage: str | None = None
    tag: str | None = None
    config: str | None = None
    config_hash: str | None = None
    hours: float | None = None


_EXAMPLES = 5  # ids quoted in a mismatch message


def _examples(ids: list[str]) -> str:
    more = ", …" if len(ids) > _EXAMPLES else ""
    return ", ".join(ids[:_EXAMPLES]) + more


def match_ids(
    refs: dict[str, str], hyps: dict[str, str], hyp_path: str, allow_missing: bool
) -> tuple[list[str], list[str], list[str]]:
    """Reference ids, their hypotheses (empty where missing if allowed), missing ids,
    and extra ids; a mismatch without ``allow_missing`` is a :class:`UserError`."""
    missing = [u for u in refs if u not in hyps]
    extra = [u for u in hyps if u not in refs]
    if (missing or extra) and not allow_missing:
        parts = []
        if missing:
            parts.append(
                f"{len(missing)} of {len(refs)} reference utterances have no hypothesis "
                f"({_examples(missing)})"
            )
        if extra:
            parts.append(
                f"{len(extra)} of {len(hyps)} hypotheses have no reference ({_examples(extra)})"
            )
        raise UserError(
            "; ".join(parts) + "; use --allow-missing to score missing hypotheses as empty",
            hyp_path,
        )
    return [hyps.get(u, "") for u in refs], missing, extra


def known_hours(ref_path: str, hyp_path: str, ids: list[str]) -> float | None:
    """Hours of the scored utterances: from a ``utt2dur`` beside the reference that
    covers them all, else ``audio_seconds`` of a ``decode.json`` beside the hypotheses
    (written by ``soundwave.bin.decode``), else ``None``."""
    path = Path(ref_path).parent / "utt2dur"
    if path.is_file():
        hours = _utt2dur_hours(path, ids)
        if hours is not None:
            return hours
    decode_json = Path(hyp_path).parent / "decode.json"
    if decode_json.is_file():
        try:
            seconds = json.loads(decode_json.read_text(encoding="utf-8")).get("audio_seconds")
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            return None
        if isinstance(seconds, int | float):
            return seconds / 3600.0
    return None


def _utt2dur_hours(path: Path, ids: list[str]) -> float | None:
    durations = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            durations[parts[0]] = float(parts[1])
        except (IndexError, ValueError):
            raise UserError("expected '<uttid> <seconds>'", path, lineno) from None
    if any(u not in durations for u in ids):
        return None
    return sum(durations[u] for u in ids) / 3600.0


def _decode_json(hyp_path: str) -> dict:
    """The ``decode.json`` beside ``hyp_path`` (empty if there is none or it is unreadable)."""
    path = Path(hyp_path).parent / "decode.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def decoding_speed(hyp_path: str) -> dict:
    """What RESULTS.md reports of a decoding's speed, from its ``decode.json``."""
    info = _decode_json(hyp_path)
    out = {k: info[k] for k in ("llm_positions_per_token", "ttft_median_ms", "rtf") if k in info}
    if isinstance(info.get("ttft_ms"), list):
        out["ttft_utts"] = len(info["ttft_ms"])
    return out


def guard_report(
    job: ScoreJob, task: str, ids: list[str], refs: list[str], hyps: dict[str, str]
) -> dict:
    """The CTC guard of the decoding of ``job.hyp`` (a ``hyp.txt`` with ``guard.txt``
    beside it; empty otherwise): flagged counts and the metric without the fallback (the
    LLM's own hypotheses) and, for a transcription task, with it (every flagged one
    replaced by the CTC transcript), whichever of the two ``hyp.txt`` holds."""
    d = Path(job.hyp).parent
    if Path(job.hyp).name != "hyp.txt" or not (d / GUARD_FILE).is_file():
        return {}
    verdicts = read_guard(d / GUARD_FILE)
    llm = read_utt_texts(d / LLM_HYP_FILE) if (d / LLM_HYP_FILE).is_file() else hyps
    flagged = [u for u in ids if u in verdicts and verdicts[u].flagged]

    def scores(texts: dict[str, str]) -> dict[str, float]:
        hyp_texts = [texts.get(u, "") for u in ids]
        return compute(
            job.metric, ids, refs, hyp_texts, normalizer=job.normalizer,
            bleu_tokenize=job.bleu_tokenize,
        ).scores  # fmt: skip

    report = {
        "mode": _decode_json(job.hyp).get("guard", ""),
        "utts": len(ids),
        "flagged": len(flagged),
        "reasons": {r: sum(r in verdicts[u].reasons for u in flagged) for r in REASONS},
        "without_fallback": scores(llm),
    }
    ctc_path = d / "ctc_hyp.txt"
    if task and answers_with_transcript(task) and ctc_path.is_file():
        report["with_fallback"] = scores(with_fallback(llm, read_utt_texts(ctc_path), verdicts))
    return report


def _is_main_metric(task: str, metric: str) -> bool:
    """Whether ``metric`` is ``task``'s own (true for a task the registry does not know)."""
    try:
        return not task or get_task(task).metric == metric
    except UserError:
        return True


def score(job: ScoreJob) -> str:
    """Score ``job``: print and return the one-line summary, write the record if asked."""
    if job.metric is None:
        if not job.task:
            raise UserError("give --metric, or --task to use that task's metric")
        job.metric = get_task(job.task).metric
    layout = infer_layout(job.out) if job.out else {}
    task = job.task or layout.get("task", "")
    if job.bleu_tokenize is None:
        job.bleu_tokenize = bleu_tokenize_for(task)
    refs = read_utt_texts(job.ref, job.ref_format)
    hyps = read_utt_texts(job.hyp, job.hyp_format)
    if not refs:
        raise UserError("no utterances", job.ref)
    ids = list(refs)
    hyp_texts, missing, extra = match_ids(refs, hyps, job.hyp, job.allow_missing)
    result = compute(
        job.metric,
        ids,
        list(refs.values()),
        hyp_texts,
        normalizer=job.normalizer,
        bleu_tokenize=job.bleu_tokenize,
        per_utt=job.per_utt is not None,
    )
    if not all(math.isfinite(v) for v in result.scores.values()):
        raise UserError("every reference is empty after normalisation", job.ref)

    summary = result.summary
    if missing or extra:
        summary += (
            f" ({len(missing)} missing hypotheses scored as empty, {len(extra)} extra ignored)"
        )
    print(summary)
    # the guard and the decoding's speed go with the task's own metric: a further metric
    # of the same decoding (chrF beside BLEU) would only repeat them in RESULTS.md
    main = _is_main_metric(task, job.metric)
    guard = guard_report(job, task, ids, list(refs.values()), hyps) if main else {}
    if guard:
        both = f"{guard['without_fallback'][job.metric]:.2f} without the fallback"
        if "with_fallback" in guard:
            both += f", {guard['with_fallback'][job.metric]:.2f} with it"
        print(f"guard: {guard['flagged']} of {guard['utts']} flagged; {job.metric} {both}")

    if job.per_utt:
        with atomic_write(job.per_utt) as f:
            f.writelines(line + "\n" for line in result.per_utt)
    if job.out:
        config_hash = job.config_hash or (file_hash(job.config) if job.config else None)
        hours = job.hours if job.hours is not None else known_hours(job.ref, job.hyp, ids)
        chance_answer, chance = constant_answer_baseline(
            job.metric,
            ids,
            list(refs.values()),
            normalizer=job.normalizer,
            bleu_tokenize=job.bleu_tokenize,
        )
        record = ScoreRecord(
            task=task,
            set=job.set_name or layout["set"],
            tag=job.tag or layout["tag"],
            stage=job.stage or layout["stage"],
            metric=job.metric,
            scores=result.scores,
            counts=result.counts,
            num_utts=len(ids),
            hours=hours,
            config_hash=config_hash,
            normalizer=result.normalizer,
            signature=result.signature,
            summary=summary,
            missing_hyps=len(missing),
            extra_hyps=len(extra),
            ref=job.ref,
            hyp=job.hyp,
            date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            details=result.details,
            chance={"answer": chance_answer, "scores": chance.scores},
            guard=guard,
            decoding=decoding_speed(job.hyp) if main else {},
        )
        write_score(job.out, record)

    return summary
