"""Score a hypothesis file against references: WER, CER, BLEU, chrF, accuracy, exact match.

    python -m soundwave.bin.score --ref data/test/text \\
        --hyp exp/mini/sft/decode_test/hyp.txt --metric wer \\
        --out exp/mini/sft/decode_test/score_asr.json \\
        [--per-utt exp/mini/sft/decode_test/per_utt_asr.txt]

Both files are Kaldi-style ``<uttid> <text>`` lines, or ``<text> (<uttid>)`` for a
``.trn`` file (see ``--ref-format``/``--hyp-format``).  Texts are normalised first
(``--normalizer``, default per metric: ``basic`` for WER/CER/accuracy/exact match,
``none`` for BLEU/chrF).  The id sets must match; with ``--allow-missing`` a missing
hypothesis is scored as empty and hypotheses without a reference are ignored (both are
counted in the output).

Prints one line, e.g. ``%WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]`` or
``BLEU = 41.20 ... nrefs:1|case:mixed|...``, and, with ``--out``, writes a JSON score
file (see soundwave/score/results.py) holding the values, counts, number of utterances,
hours (``--hours``, or from a ``utt2dur`` beside the reference or the ``decode.json``
beside the hypotheses), normaliser,
sacrebleu signature, and task/set/stage/tag (given, or read from an ``--out`` path laid
out as ``exp/<tag>/<stage>/decode_<set>[_<task>]/score_<task>[.<metric>].json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from pathlib import Path

from soundwave.errors import UserError, cli_main
from soundwave.fileio import atomic_write
from soundwave.score.metrics import compute, constant_answer_baseline
from soundwave.score.normalize import NORMALIZERS
from soundwave.score.results import ScoreRecord, file_hash, infer_layout, write_score
from soundwave.score.textio import FORMATS, read_utt_texts
from soundwave.tasks import get_task
from soundwave.tasks.registry import METRICS

_EXAMPLES = 5  # ids quoted in a mismatch message


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="score",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("--ref", required=True, help="reference file (Kaldi text or .trn)")
    parser.add_argument("--hyp", required=True, help="hypothesis file (Kaldi text or .trn)")
    parser.add_argument(
        "--metric",
        choices=METRICS,
        help="default: the metric of --task (wer for asr, bleu for st_*, ...)",
    )
    parser.add_argument("--out", help="JSON score file to write")
    parser.add_argument("--per-utt", help="per-utterance details file to write")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="score missing hypotheses as empty instead of failing",
    )
    parser.add_argument(
        "--normalizer", choices=list(NORMALIZERS), help="text normaliser (default: per metric)"
    )
    parser.add_argument("--bleu-tokenize", help="sacrebleu tokenizer (default 13a; zh, ja-mecab…)")
    parser.add_argument("--ref-format", choices=FORMATS, default="auto")
    parser.add_argument("--hyp-format", choices=FORMATS, default="auto")
    meta = parser.add_argument_group("what was scored (default: from the --out path)")
    meta.add_argument("--task", help="task name, e.g. asr, st_en_de")
    meta.add_argument("--set", dest="set_name", help="evaluation set name")
    meta.add_argument("--stage", help="model stage, e.g. align, shrink, sft")
    meta.add_argument("--tag", help="experiment tag")
    meta.add_argument("--config", help="config file whose content hash identifies the model")
    meta.add_argument("--config-hash", help="config hash, if known (instead of --config)")
    meta.add_argument("--hours", type=float, help="hours of audio (default: from utt2dur)")
    return parser


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


@cli_main
def main(argv: list[str] | None = None) -> None:
    args = get_parser().parse_args(argv)
    if args.metric is None:
        if not args.task:
            raise UserError("give --metric, or --task to use that task's metric")
        args.metric = get_task(args.task).metric
    refs = read_utt_texts(args.ref, args.ref_format)
    hyps = read_utt_texts(args.hyp, args.hyp_format)
    if not refs:
        raise UserError("no utterances", args.ref)
    ids = list(refs)
    hyp_texts, missing, extra = match_ids(refs, hyps, args.hyp, args.allow_missing)
    result = compute(
        args.metric,
        ids,
        list(refs.values()),
        hyp_texts,
        normalizer=args.normalizer,
        bleu_tokenize=args.bleu_tokenize,
        per_utt=args.per_utt is not None,
    )
    if not all(math.isfinite(v) for v in result.scores.values()):
        raise UserError("every reference is empty after normalisation", args.ref)

    summary = result.summary
    if missing or extra:
        summary += (
            f" ({len(missing)} missing hypotheses scored as empty, {len(extra)} extra ignored)"
        )
    print(summary)

    if args.per_utt:
        with atomic_write(args.per_utt) as f:
            f.writelines(line + "\n" for line in result.per_utt)
    if args.out:
        layout = infer_layout(args.out)
        config_hash = args.config_hash or (file_hash(args.config) if args.config else None)
        hours = args.hours if args.hours is not None else known_hours(args.ref, args.hyp, ids)
        chance_answer, chance = constant_answer_baseline(
            args.metric,
            ids,
            list(refs.values()),
            normalizer=args.normalizer,
            bleu_tokenize=args.bleu_tokenize,
        )
        record = ScoreRecord(
            task=args.task or layout["task"],
            set=args.set_name or layout["set"],
            tag=args.tag or layout["tag"],
            stage=args.stage or layout["stage"],
            metric=args.metric,
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
            ref=args.ref,
            hyp=args.hyp,
            date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            details=result.details,
            chance={"answer": chance_answer, "scores": chance.scores},
        )
        write_score(args.out, record)


if __name__ == "__main__":
    main()
