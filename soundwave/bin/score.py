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

A decoder's ``hyp.txt`` brings what lies beside it: the speed in ``decode.json`` (LLM
positions per transcript token, median time to first token) and, with a ``guard.txt``
(decoding with ``guard=flag|fallback``), the flagged counts and the metric without the
fallback (the LLM's own hypotheses, ``hyp_llm.txt`` where hyp.txt holds the fallback's)
and with it (flagged transcriptions replaced by ``ctc_hyp.txt``), printed on a second line.
"""

from __future__ import annotations

import argparse

from soundwave.errors import cli_main
from soundwave.score.normalize import NORMALIZERS
from soundwave.score.run import ScoreJob, score
from soundwave.score.textio import FORMATS
from soundwave.tasks.registry import METRICS


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
    parser.add_argument(
        "--bleu-tokenize",
        help="sacrebleu tokenizer (default: by the --task's target language, zh for "
        "st_*_zh, ja-mecab, ko-mecab, else 13a)",
    )
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


@cli_main
def main(argv: list[str] | None = None) -> None:
    score(ScoreJob(**vars(get_parser().parse_args(argv))))


if __name__ == "__main__":
    main()
