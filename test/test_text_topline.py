"""The text topline: a Soundwave model's LLM answering from the reference transcripts
(soundwave.bin.decode_topline), its shards, the n-gram limit on the answer only, refused
tasks, and its row in RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lhotse import CutSet, MonoCut, SupervisionSegment
from models_util import config as model_config

from soundwave.bin import decode, decode_topline
from soundwave.decode.text_topline import TextLLM
from soundwave.models.stage_dir import CONFIG_NAME
from soundwave.offline.standin.llm import build_llm, save_llm
from soundwave.offline.standin.prompts import task_phrasings
from soundwave.offline.standin.tokenizer import train_tokenizer
from soundwave.offline.tiny import llm_config
from soundwave.score.results import TOPLINE_LABEL, ScoreRecord, results_markdown
from soundwave.score.textio import read_utt_texts
from soundwave.tasks.registry import get_task

SYSTEM = "You answer from text."
UTTS = {  # utterance -> (transcript, translation, question, answer)
    "s1_u1": ("turn on the kitchen lights", "mach das licht an", "Which room?", "kitchen"),
    "s1_u2": ("the meeting is at nine", "das treffen ist um neun", "When is it?", "at nine"),
    "s2_u3": ("set an alarm for seven", "stell einen wecker", "For when?", "seven"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    """A stage dir whose config names a tiny LLM that has memorised the utterances' asr,
    st and qa answers after their text-only prompts, and a manifest of the utterances."""
    root = tmp_path_factory.mktemp("topline")
    records = []
    for text, german, _, _ in UTTS.values():
        records += [text, german]
    lines = root / "train.txt"
    lines.write_text("".join(r + "\n" for r in records), encoding="utf-8")
    tok = train_tokenizer(
        [lines], root / "tok", vocab_size=400, extra_lines=task_phrasings(["st"], SYSTEM)
    )
    torch.manual_seed(0)
    model = build_llm(llm_config(tok, arch="llama", hidden=64, layers=2, heads=4, kv_heads=2))
    # memorise each answer after the prompt the topline asks it with
    asker = TextLLM(model, tok, SYSTEM, [tok.eos_token_id])
    rows = []
    for utt, (text, german, question, answer) in UTTS.items():
        fields = {"id": utt, "text": text, "text.de": german, "question": question}
        for task, target in (("asr", text), ("st_en_de", german), ("qa", answer)):
            prompt = asker.prompt_ids(get_task(task).text_prompt({**fields, "answer": answer}))
            rows.append((prompt, [*tok.encode(target, add_special_tokens=False), tok.eos_token_id]))
    width = max(len(p) + len(a) for p, a in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (p, a) in enumerate(rows):
        ids[i, : len(p) + len(a)] = torch.tensor(p + a)
        mask[i, : len(p) + len(a)] = 1
        labels[i, len(p) : len(p) + len(a)] = torch.tensor(a)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    save_llm(model, tok, root / "llm")
    stage = root / "stage"
    stage.mkdir()
    model_config(llm_path=str(root / "llm"), system_prompt=SYSTEM).to_json(stage / CONFIG_NAME)
    cuts = [
        MonoCut(
            utt, 0.0, 2.0, 0,
            supervisions=[
                SupervisionSegment(
                    utt, utt, 0.0, 2.0, text=text,
                    custom={"text.de": german, "question": question, "answer": answer},
                )
            ],
        )
        for utt, (text, german, question, answer) in UTTS.items()
    ]  # fmt: skip
    CutSet.from_cuts(cuts).to_file(root / "cuts.jsonl.gz")
    return stage, root / "cuts.jsonl.gz"


def run(setup, out: Path, *extra: str, tasks=("asr", "st_en_de", "qa")) -> None:
    stage, cuts = setup
    decode_topline.main(
        ["--model-dir", str(stage), "--cuts", str(cuts), "--tasks", *tasks,
         "--out-dir", str(out / "decode_{task}"), *extra]
    )  # fmt: skip


def expected(task: str) -> dict[str, str]:
    column = {"asr": 0, "st_en_de": 1, "qa": 3}[task]
    return {utt: fields[column] for utt, fields in UTTS.items()}


def test_the_llm_answers_from_the_reference_text(setup, tmp_path):
    run(setup, tmp_path)
    for task in ("asr", "st_en_de", "qa"):
        d = tmp_path / f"decode_{task}"
        assert read_utt_texts(d / "ref.txt") == expected(task)
        assert read_utt_texts(d / "hyp.txt") == expected(task), task
        info = json.loads((d / "decode.json").read_text())
        assert info["utts"] == 3 and info["tasks"] == [task]
        assert info["model_dir"] == str((setup[0].parent / "llm").resolve())
        assert info["model_weights"]  # the LLM's weights, hashed


def test_the_ngram_limit_applies_to_the_answer_only(setup, tmp_path):
    # every transcript's bigrams are in the prompt: counted there, none could be copied
    run(setup, tmp_path, "generation.no_repeat_ngram_size=2", tasks=("asr",))
    assert read_utt_texts(tmp_path / "decode_asr" / "hyp.txt") == expected("asr")


def test_shards_merge_into_the_whole(setup, tmp_path):
    for job in (1, 2):
        run(setup, tmp_path, "--shard", f"{job}/2", tasks=("asr", "qa"))
    decode.main(
        ["--merge", "2", "--tasks", "asr", "qa", "--out-dir", str(tmp_path / "decode_{task}")]
    )
    for task in ("asr", "qa"):
        assert read_utt_texts(tmp_path / f"decode_{task}" / "hyp.txt") == expected(task)


def test_a_task_without_a_text_prompt_is_one_line(setup, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run(setup, tmp_path, tasks=("asr", "gender"))
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'gender' has no text-only prompt" in err
    assert not (tmp_path / "decode_asr").exists()  # refused before anything is written


def record(stage: str, value: float, set_name: str = "test") -> ScoreRecord:
    return ScoreRecord(
        task="qa", set=set_name, tag="mini", stage=stage, metric="exact_match",
        scores={"exact_match": value}, date="2026-12-06T00:00:00",
        decoding={"rtf": 0.01},
    )  # fmt: skip


def test_results_show_the_topline_below_the_models_and_never_bold():
    text = results_markdown(
        [record("shrink", 40.0), record("sft", 50.0), record("topline", 60.0)],
        source="exp/mini",
        date="2026-12-06",
    )
    rows = [line for line in text.splitlines() if line.startswith("| mini |")]
    qa_rows = rows[:3]
    assert [r.split("|")[2].strip() for r in qa_rows] == ["shrink", "sft", TOPLINE_LABEL]
    assert "**50.00**" in qa_rows[1] and "**" not in qa_rows[2]
    # the speed table has the models only: the topline reads no audio
    speed = text.split("## Speed of response")[1].split("##")[0]
    assert "topline" not in speed and "| sft |" in speed
