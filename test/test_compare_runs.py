"""The ablation table: metrics, positions per second, step time, steps to reach a target."""

from __future__ import annotations

import json

from soundwave.bin import compare_runs, score
from soundwave.offline.tiny import build_tiny_tokenizer


def make_run(root, name, curve, sec_per_step, hyp, positions):
    run = root / name / "shrink"
    history = [{"step": s, "loss": 1.0, "sec_per_step": sec_per_step} for s, _ in curve]
    history += [{"step": s, "valid_asr_wer": w} for s, w in curve]
    run.mkdir(parents=True)
    (run / "history.json").write_text(json.dumps(history))
    d = run / "decode_test_asr"
    d.mkdir()
    (d / "ref.txt").write_text("u1 a b c d\nu2 e f\n")
    (d / "hyp.txt").write_text(hyp)
    (d / "decode.json").write_text(json.dumps({"llm_positions_per_second": positions}))
    (d / "shrink_stats.txt").write_text("u1 1.00 25 4\nu2 0.50 12 3\n")
    score.main(
        [
            "--task",
            "asr",
            "--ref",
            str(d / "ref.txt"),
            "--hyp",
            str(d / "hyp.txt"),
            "--out",
            str(d / "score_asr.json"),
        ]
    )
    return f"{name}={run}"


def test_table(tmp_path, capsys):
    runs = [
        make_run(
            tmp_path,
            "runs",
            [(50, 40.0), (100, 20.0), (150, 12.0)],
            0.5,
            "u1 a b c d\nu2 e f\n",
            6.2,
        ),
        make_run(
            tmp_path,
            "linear5",
            [(50, 50.0), (100, 30.0), (150, 20.0)],
            0.8,
            "u1 a b c\nu2 e f\n",
            10.0,
        ),
    ]
    out = tmp_path / "ABLATION.md"
    compare_runs.main(["--reference", "linear5", "--out", str(out), *runs])
    lines = out.read_text().splitlines()
    assert "steps to valid WER ≤ 20.00 (linear5's final)" in lines[0]
    runs_row = next(line for line in lines if line.startswith("| runs "))
    linear_row = next(line for line in lines if line.startswith("| linear5 "))
    assert runs_row == "| runs | 0.00 | 6.20 | 0.500 | 12.00 | 100 of 150 |"
    assert linear_row == "| linear5 | 16.67 | 10.00 | 0.800 | 20.00 | 150 of 150 |"
    assert capsys.readouterr().out.count("|") > 20


def test_positions_per_transcript_token(tmp_path):
    tok = build_tiny_tokenizer(tmp_path / "llm", texts=["a b c d e f"] * 20)
    ntokens = sum(len(tok.encode(t, add_special_tokens=False)) for t in ("a b c d", "e f"))
    run = make_run(tmp_path, "peaks", [(50, 10.0)], 0.5, "u1 a b c d\nu2 e f\n", 4.7)
    out = tmp_path / "ABLATION.md"
    compare_runs.main(["--tokenizer", str(tmp_path / "llm"), "--out", str(out), run])
    head, _, row = out.read_text().splitlines()
    assert "| LLM positions / s | LLM positions / transcript token |" in head
    assert row == f"| peaks | 0.00 | 4.70 | {7 / ntokens:.2f} | 0.500 | 10.00 |"
    # without shrink statistics there is nothing to count
    (tmp_path / "peaks/shrink/decode_test_asr/shrink_stats.txt").unlink()
    compare_runs.main(["--tokenizer", str(tmp_path / "llm"), "--out", str(out), run])
    assert out.read_text().splitlines()[2] == "| peaks | 0.00 | 4.70 | - | 0.500 | 10.00 |"
