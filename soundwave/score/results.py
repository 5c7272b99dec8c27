"""Score files and the RESULTS.md table built from them.

Layout (what ``soundwave.bin.score`` infers from its ``--out`` path and
``soundwave.bin.make_results`` collects)::

    exp/<tag>/<stage>/decode_<set>[_<task>]/hyp.txt           decoder output
    exp/<tag>/<stage>/decode_<set>[_<task>]/score_<task>.json  the task's main metric
    exp/<tag>/<stage>/decode_<set>[_<task>]/score_<task>.<metric>.json  a further metric
    exp/<tag>/<stage>/decode_<set>[_<task>]/per_utt_<task>[.<metric>].txt
    exp/<tag>/RESULTS.md  (or exp/RESULTS.md over several tags)

``<tag>`` names an experiment (one recipe configuration), ``<stage>`` the trained
model that was decoded (``align``, ``shrink``, ``sft`` …), ``<set>`` the evaluation data
dir, ``<task>`` the task name (``asr``, ``st_en_de`` …; a decode dir may end in
``_<task>`` when one set is decoded for several tasks).  A score file is JSON
(:class:`ScoreRecord`); it carries its own task, set, tag and stage, so files written
elsewhere can be collected too — the path is used only for fields the file leaves empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.score.guard import REASONS
from soundwave.score.metrics import LOWER_IS_BETTER
from soundwave.stages import STAGE_NAMES, recorded_config_hash

SCHEMA = 1
#: Stages in training order; others sort after them by name.
STAGE_ORDER = STAGE_NAMES
# the stage dir of the text topline (soundwave.bin.decode_topline): the LLM answering from
# the reference transcripts, shown below the models as a bound
TOPLINE_STAGE = "topline"
TOPLINE_LABEL = "topline: the LLM on the reference text"
LABELS = {
    "wer": "%WER",
    "cer": "%CER",
    "bleu": "BLEU",
    "chrf": "chrF",
    "accuracy": "accuracy %",
    "macro_f1": "macro-F1 %",
    "exact_match": "exact match %",
}
_SCORE_NAME = re.compile(r"^score_(?P<task>[^.]+?)(?:\.(?P<metric>[A-Za-z_]+))?\.json$")


@dataclass
class ScoreRecord:
    """One metric of one task on one set for one model, as stored in a score file.

    ``scores`` holds every value the metric yields (percent; ``accuracy`` also gives
    ``macro_f1``), ``scores[metric]`` is the main one.  ``counts`` are the raw numbers
    behind it (errors and reference words, n-gram matches, correct answers).
    """

    task: str
    set: str
    tag: str
    stage: str
    metric: str
    scores: dict[str, float]
    counts: dict[str, float] = field(default_factory=dict)
    num_utts: int = 0
    hours: float | None = None
    config_hash: str | None = None
    normalizer: str = ""
    signature: str | None = None
    summary: str = ""
    missing_hyps: int = 0
    extra_hyps: int = 0
    ref: str = ""
    hyp: str = ""
    date: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # the best constant answer's scores ({"answer", "scores"}): the set's chance level
    chance: dict[str, Any] = field(default_factory=dict)
    # the CTC guard of the decoding (soundwave/score/guard.py), where it was on: mode,
    # utts, flagged, per-reason counts, the scores without and with the fallback
    guard: dict[str, Any] = field(default_factory=dict)
    # speed of the decoding (its decode.json): LLM positions per transcript token,
    # median time to first token at batch 1 (ms) and how many utterances it was timed on
    decoding: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    @property
    def value(self) -> float:
        return self.scores[self.metric]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | os.PathLike | None = None) -> ScoreRecord:
        if not isinstance(data, dict):
            raise UserError("a score file must hold a JSON object", path)
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("metric", "scores") if k not in data]
        if missing:
            raise UserError(f"not a score file: no {', '.join(missing)}", path)
        if data.get("schema", SCHEMA) > SCHEMA:
            raise UserError(f"score file schema {data['schema']} is newer than {SCHEMA}", path)
        layout = infer_layout(path) if path is not None else {}
        values = {k: v for k, v in data.items() if k in names}
        for key in ("task", "set", "tag", "stage"):
            values[key] = values.get(key) or layout.get(key, "")
        record = cls(**values)
        if record.metric not in record.scores:
            raise UserError(f"score file has no value for its metric {record.metric!r}", path)
        return record


def infer_layout(path: str | os.PathLike) -> dict[str, str]:
    """task, metric, set, stage and tag from a path in the documented layout
    (empty strings for what the path does not show)."""
    path = Path(path)
    out = {"task": "", "metric": "", "set": "", "stage": "", "tag": ""}
    match = _SCORE_NAME.match(path.name)
    if match:
        out["task"] = match["task"]
        out["metric"] = match["metric"] or ""
    for parent in path.parents:
        if parent.name.startswith("decode_"):
            name = parent.name[len("decode_") :]
            suffix = f"_{out['task']}"
            out["set"] = name[: -len(suffix)] if out["task"] and name.endswith(suffix) else name
            out["stage"] = parent.parent.name
            out["tag"] = parent.parent.parent.name
            break
    return out


def file_hash(path: str | os.PathLike) -> str:
    """Short hash identifying a config: the training config hash recorded in a stage's
    ``soundwave_config.json``, else the first 12 hex digits of the file's SHA-256."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise UserError(err.strerror or str(err), path) from None
    try:
        recorded = recorded_config_hash(json.loads(data))
    except (ValueError, AttributeError):  # not JSON, or not a stage dir's config
        recorded = None
    return recorded or hashlib.sha256(data).hexdigest()[:12]


def write_score(path: str | os.PathLike, record: ScoreRecord) -> None:
    with atomic_write(path) as f:
        json.dump(record.to_dict(), f, indent=2, ensure_ascii=False)
        f.write("\n")


def read_score(path: str | os.PathLike) -> ScoreRecord:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(str(err), path) from None
    return ScoreRecord.from_dict(data, path)


def collect_scores(exp_dir: str | os.PathLike) -> list[ScoreRecord]:
    """Every ``score_*.json`` below ``exp_dir``."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise UserError("not a directory", exp_dir)
    records = [read_score(p) for p in sorted(exp_dir.rglob("score_*.json"))]
    if not records:
        raise UserError("no score_*.json files found", exp_dir)
    return records


def collect_hearing(exp_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every hearing-check report (``hearing_[<set>_]<task>.json``, written by
    ``soundwave.bin.hearing_check``) below ``exp_dir``, with the tag and stage of the
    stage dir it sits in and its set (from the name, else the manifest's)."""
    exp_dir = Path(exp_dir)
    reports = []
    for path in sorted(exp_dir.rglob("hearing_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            task, loss = data["task"], data["loss"]
            if not isinstance(loss, dict):
                raise TypeError("'loss' is not a mapping")
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise UserError(f"not a hearing-check report ({err})", path) from None
        middle = path.stem[len("hearing_") :]
        set_name = middle[: -len(task) - 1] if middle.endswith(f"_{task}") else ""
        stage_dir = path.parent.relative_to(exp_dir)
        tag = "/".join(stage_dir.parts[:-1]) or exp_dir.name
        reports.append({
            **data, "tag": tag, "stage": stage_dir.name,
            "set": set_name or Path(str(data.get("cuts", "?"))).name,
        })  # fmt: skip
    return reports


def _hearing_table(reports: list[dict[str, Any]]) -> list[str]:
    """Is the LLM hearing the audio: per model and task, the loss with the real audio,
    silence and another utterance's audio, the gap and the share of unchanged answers."""
    if not reports:
        return []
    rows = [
        [
            r["tag"], r["stage"], r["set"], r["task"], r.get("utts"),
            *(_number(r["loss"].get(k), 3) for k in ("real", "silence", "swapped")),
            _number((r.get("gap") or {}).get("min"), 3),
            _number(100 * (r.get("unchanged") or {}).get("all", float("nan")), 1),
            r.get("verdict"),
        ]
        for r in sorted(reports, key=lambda r: (r["tag"], _stage_key(r["stage"]), r["set"], r["task"]))
    ]  # fmt: skip
    header = ["tag", "stage", "set", "task", "utts", "loss real", "loss silence",
              "loss swapped", "gap", "unchanged %", "verdict"]  # fmt: skip
    limits = reports[0].get("limits", {})
    intro = (
        "The LM loss per target token (nats) of the same prompts and answers with the real "
        "audio, with silence and with another utterance's audio; gap: the smaller of the "
        "two losses minus the real one; unchanged: greedy answers that stay the same when "
        f"the audio is replaced. Deaf: gap < {limits.get('min_loss_gap', '?')} or unchanged "
        f"> {limits.get('max_unchanged', '?')} (soundwave/decode/hearing.py)."
    )
    return _section("Hearing check", intro, header, rows, numeric_from=4)


# ---------------------------------------------------------------- markdown


def _stage_key(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage), "") if stage in STAGE_ORDER else (len(STAGE_ORDER), stage)


def _cell(text: Any) -> str:
    text = "-" if text is None or text == "" else str(text)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(
    header: list[str], rows: Iterable[list[Any]], numeric_from: int | None = None
) -> list[str]:
    align = [
        "---:" if numeric_from is not None and k >= numeric_from else "---"
        for k in range(len(header))
    ]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _section(
    title: str, intro: str, header: list[str], rows: list[list[Any]], numeric_from: int
) -> list[str]:
    """A RESULTS.md section: its heading, a paragraph saying what the columns mean, the table."""
    return ["", f"## {title}", "", intro, "", *_table(header, rows, numeric_from)]


def _joined(values: Iterable[Any]) -> str:
    distinct = sorted({str(v) for v in values if v is not None and v != ""})
    return ", ".join(distinct) if distinct else "-"


def results_markdown(
    records: list[ScoreRecord],
    *,
    source: str,
    date: str,
    hearing: list[dict[str, Any]] | None = None,
) -> str:
    """RESULTS.md text: one table per (task, score) with models as rows and sets as
    columns (best value per set in bold) and a last row with each set's chance level (the
    best constant answer, where the score files carry it), then the sets' sizes and every
    score's details."""
    order = sorted(records, key=lambda r: (r.tag, _stage_key(r.stage), r.set, r.task, r.metric))
    # the newest file wins where two give the same cell
    cells: dict[tuple[str, str], dict[tuple[str, str], dict[str, ScoreRecord]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for rec in sorted(order, key=lambda r: r.date):
        for name in rec.scores:
            cells[(rec.task, name)][(rec.tag, rec.stage)][rec.set] = rec

    out = [
        f"<!-- Generated by `python -m soundwave.bin.make_results {source}` on {date}. "
        "Do not edit: rerun it. -->",
        "# RESULTS",
        "",
        f"Generated on {date} from `{source}` ({len(records)} score files).",
    ]
    for task, name in sorted(cells):
        models = cells[(task, name)]
        sets = sorted({s for by_set in models.values() for s in by_set})
        recs = [r for by_set in models.values() for r in by_set.values()]
        better = min if name in LOWER_IS_BETTER else max
        # the text topline is a bound, as chance is: not in the running for the best value
        ranked = {m: by_set for m, by_set in models.items() if m[1] != TOPLINE_STAGE}
        best = {
            s: better(by_set[s].scores[name] for by_set in ranked.values() if s in by_set)
            for s in sets
            if any(s in by_set for by_set in ranked.values())
        }
        rows = []
        toplines = []
        for tag, stage in sorted(models, key=lambda m: (m[0], _stage_key(m[1]))):
            by_set = models[(tag, stage)]
            label = TOPLINE_LABEL if stage == TOPLINE_STAGE else stage
            row: list[Any] = [tag, label, _joined(r.config_hash for r in by_set.values())]
            for s in sets:
                if s not in by_set:
                    row.append("-")
                    continue
                value = by_set[s].scores[name]
                text = f"{value:.2f}"
                bold = len(ranked) > 1 and (tag, stage) in ranked and value == best.get(s)
                row.append(f"**{text}**" if bold else text)
            (toplines if stage == TOPLINE_STAGE else rows).append(row)
        rows += toplines
        chance = {
            r.set: r.chance["scores"][name] for r in recs if name in r.chance.get("scores", {})
        }
        if chance:
            values = [f"{chance[s]:.2f}" if s in chance else "-" for s in sets]
            rows.append(["chance", "constant answer", "-", *values])
        arrow = "lower is better" if name in LOWER_IS_BETTER else "higher is better"
        out += ["", f"## {task}: {LABELS.get(name, name)} ({arrow})", ""]
        notes = [f"normaliser: {_joined(r.normalizer for r in recs)}"]
        if any(r.signature for r in recs):
            notes.append(f"sacrebleu: `{_joined(r.signature for r in recs)}`")
        out += ["; ".join(notes), ""]
        out += _table(["tag", "stage", "config", *sets], rows, numeric_from=3)

    out += _speed_table(order) + _guard_table(order) + _hearing_table(hearing or [])

    by_set: dict[str, list[ScoreRecord]] = defaultdict(list)
    for rec in order:
        by_set[rec.set].append(rec)
    out += ["", "## Evaluation sets", ""]
    out += _table(
        ["set", "utterances", "hours"],
        [
            [s, _joined(r.num_utts for r in rs), _joined(_hours(r.hours) for r in rs)]
            for s, rs in sorted(by_set.items())
        ],
        numeric_from=1,
    )
    out += ["", "## Details", ""]
    out += _table(
        ["tag", "stage", "set", "task", "result", "missing hyps", "config", "scored on"],
        [
            [r.tag, r.stage, r.set, r.task, r.summary, r.missing_hyps, r.config_hash, r.date]
            for r in order
        ],
    )
    return "\n".join(out) + "\n"


def _per_decoding(records: list[ScoreRecord], key: str) -> list[ScoreRecord]:
    """One record per decoding (tag, stage, set, task), the newest, among those that
    carry ``key`` (``guard`` or ``decoding``), in table order."""
    newest: dict[tuple[str, str, str, str], ScoreRecord] = {}
    for rec in sorted(records, key=lambda r: r.date):
        if getattr(rec, key):
            newest[(rec.tag, rec.stage, rec.set, rec.task)] = rec
    return [newest[k] for k in sorted(newest, key=lambda k: (k[0], _stage_key(k[1]), *k[2:]))]


def _number(value: Any, digits: int) -> str | None:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else None


def _speed_table(records: list[ScoreRecord]) -> list[str]:
    """Speed of response per model: the LLM's audio positions per transcript token and
    the median time to first token at batch 1 (from decode.json, via the score files)."""
    # the text topline reads no audio: its speed is not one of a response to speech
    recs = [r for r in _per_decoding(records, "decoding") if r.stage != TOPLINE_STAGE]
    if not recs:
        return []
    rows = [
        [
            r.tag, r.stage, r.set, r.task,
            _number(r.decoding.get("llm_positions_per_token"), 2),
            _number(r.decoding.get("ttft_median_ms"), 1),
            r.decoding.get("ttft_utts"),
            _number(r.decoding.get("rtf"), 3),
        ]
        for r in recs
    ]  # fmt: skip
    header = ["tag", "stage", "set", "task", "LLM positions / transcript token",
              "median time to first token, batch 1 (ms)", "timed utterances", "RTF"]  # fmt: skip
    intro = (
        "LLM positions: the vectors the bridge gives the LLM for the audio (the prompt "
        "aside); transcript tokens: the reference transcript in the LLM's tokens. Time to "
        "first token: from the log-mel in memory to the first greedy token, one utterance "
        "at a time; RTF: the whole decoding (batched, with its search) over the audio."
    )
    return _section("Speed of response", intro, header, rows, numeric_from=4)


def _guard_table(records: list[ScoreRecord]) -> list[str]:
    """The CTC guard per decoding: flagged utterances, why, and the metric without and
    with the fallback to the CTC transcript."""
    recs = _per_decoding(records, "guard")
    if not recs:
        return []
    rows = []
    for r in recs:
        g = r.guard
        utts = g.get("utts") or 0
        share = f" ({100 * g.get('flagged', 0) / utts:.1f} %)" if utts else ""
        reasons = g.get("reasons", {})
        rows.append([
            r.tag, r.stage, r.set, r.task, g.get("mode"), f"{g.get('flagged', 0)} / {utts}{share}",
            *(reasons.get(k) for k in REASONS),
            LABELS.get(r.metric, r.metric),
            _number(g.get("without_fallback", {}).get(r.metric), 2),
            _number(g.get("with_fallback", {}).get(r.metric), 2),
        ])  # fmt: skip
    header = ["tag", "stage", "set", "task", "mode", "flagged", *REASONS, "metric",
              "without fallback", "with fallback"]  # fmt: skip
    intro = (
        "Flagged: the LLM's answer disagrees with the adapter's CTC transcript, loops, or is "
        "too long for the audio (soundwave/score/guard.py). Without fallback: the LLM's "
        "own answers; with: each flagged one replaced by the CTC transcript (transcription "
        "tasks only). The tables above score hyp.txt: the fallback's where mode is fallback."
    )
    return _section("CTC guard", intro, header, rows, numeric_from=5)


def _hours(hours: float | None) -> str | None:
    return None if hours is None else f"{hours:.2f}"
