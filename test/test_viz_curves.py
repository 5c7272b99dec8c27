"""Training curves from handmade history.json files and trainer logs."""

from __future__ import annotations

import json
import math

import pytest

from soundwave.bin import plot_curves
from soundwave.errors import UserError
from soundwave.viz.curves import default_labels, plot_metric, plot_stages
from soundwave.viz.figure import save_png
from soundwave.viz.history import parse_train_log, read_history

ALIGN = [
    {"loss": 17.1, "ctc_loss": 17.1, "grad_norm": 11.7, "step": 5, "lr": 0.003},
    {"loss": 10.8, "ctc_loss": 10.8, "grad_norm": 15.9, "step": 10, "lr": 0.002},
    {"step": 10, "valid_ctc_asr_wer": 98.0},
    {"loss": 6.1, "ctc_loss": 6.1, "grad_norm": 8.6, "step": 15, "lr": 0.001},
    {"step": 15, "valid_ctc_asr_wer": 71.5},
]
SHRINK = [
    {"loss": 7.46, "lm_loss": 6.03, "ctc_loss": 4.77, "step": 5, "lr": 0.003},
    {"loss": 7.35, "lm_loss": 5.96, "ctc_loss": 4.65, "step": 10, "lr": 0.002},
    {"step": 10, "valid_asr_wer": 80.0, "valid_qa_exact_match": 12.5},
]
# a running pretraining: resumed after step 100 (steps 100.. logged again), a validation,
# other messages, and a last line still being written
LOG = """\
2026-11-23 11:47:01,393 INFO step 50 loss=5.633 ntokens=359.6 grad_norm=2.108 lr=0.00153 sec_per_step=0.7749
2026-11-23 11:47:40,001 INFO step 100 loss=4.2 ntokens=360 grad_norm=1.5 lr=0.003 sec_per_step=0.77
2026-11-23 11:48:10,000 WARNING step 120: non-finite loss or gradient, batch skipped (1 so far)
2026-11-23 11:50:00,000 INFO resumed from exp/checkpoints/step-00000100 (step 100, epoch 0)
2026-11-23 11:50:40,001 INFO step 100 loss=4.1 ntokens=360 grad_norm=1.4 lr=0.003 sec_per_step=0.8
2026-11-23 11:51:20,393 INFO step 150 loss=3.9 ntokens=361 grad_norm=1.2 lr=0.0029 sec_per_step=0.79
2026-11-23 11:51:21,000 INFO step 150 validation {"loss": 2.15, "perplexity": 8.6}
2026-11-23 11:52:00,000 INFO step 200 loss=3.7 ntok"""


def write_stage(root, name, rows=None, log=None):
    d = root / name
    d.mkdir(parents=True)
    if rows is not None:
        (d / "history.json").write_text(json.dumps(rows))
    if log is not None:
        (d / "train.log").write_text(log)
    return d


def test_parse_train_log_rows(tmp_path):
    path = write_stage(tmp_path, "llm_train", log=LOG) / "train.log"
    rows = parse_train_log(path)
    assert [r["step"] for r in rows] == [50, 100, 100, 150, 150, 200]
    assert rows[0] == {
        "step": 50,
        "loss": 5.633,
        "ntokens": 359.6,
        "grad_norm": 2.108,
        "lr": 0.00153,
        "sec_per_step": 0.7749,
    }
    assert rows[4] == {"step": 150, "valid_loss": 2.15, "valid_perplexity": 8.6}
    assert rows[5] == {"step": 200, "loss": 3.7}  # the half-written token is left out


def test_history_from_log_keeps_the_resumed_rows(tmp_path):
    h = read_history(write_stage(tmp_path, "llm_train", log=LOG))
    assert h.running and h.source.name == "train.log"
    assert h.series("loss") == ([50, 100, 150, 200], [5.633, 4.1, 3.9, 3.7])
    assert h.series("valid_perplexity") == ([150], [8.6])
    assert h.last_step == 200


def test_history_json_wins_over_the_log(tmp_path):
    h = read_history(write_stage(tmp_path, "align", ALIGN, log=LOG), label="Stage I")
    assert not h.running and h.label == "Stage I"
    assert h.series("valid_ctc_asr_wer") == ([10, 15], [98.0, 71.5])
    assert h.series("loss")[1] == [17.1, 10.8, 6.1]
    assert "valid_ctc_asr_wer" in h.logged_keys() and "lr" in h.logged_keys()


def test_history_errors(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        read_history(tmp_path / "missing")
    with pytest.raises(UserError, match=r"no history\.json or train\.log"):
        read_history(write_stage(tmp_path, "empty"))
    bad = write_stage(tmp_path, "bad")
    (bad / "history.json").write_text('[\n{"step": 1,\n')
    with pytest.raises(UserError) as err:
        read_history(bad)
    assert err.value.path.endswith("history.json") and err.value.line == 3
    (bad / "history.json").write_text('[{"loss": 1.0}]')
    with pytest.raises(UserError, match="each with a 'step'"):
        read_history(bad)


def test_nan_values_are_left_out(tmp_path):
    rows = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": math.nan}, {"step": 3, "loss": 1.0}]
    h = read_history(write_stage(tmp_path, "s", log=None, rows=rows))
    assert h.series("loss") == ([1, 3], [2.0, 1.0])


def test_plot_stages_layout(tmp_path):
    hs = [
        read_history(write_stage(tmp_path, "align", ALIGN)),
        read_history(write_stage(tmp_path, "shrink", SHRINK)),
        read_history(write_stage(tmp_path, "llm_train", log=LOG)),
    ]
    fig = plot_stages(hs)
    axes = fig.axes
    assert len(axes) == 6  # losses above, validation below, one column per stage
    top = axes[:3]
    assert [ax.get_yscale() for ax in top] == ["log"] * 3
    assert [ax.get_title() for ax in top] == [
        "align: 15 steps",
        "shrink: 10 steps",
        "llm_train: 200 steps (train.log: not finished)",
    ]
    # ctc_loss == loss in Stage I: one line, named twice
    assert [line.get_label() for line in top[0].get_lines()] == ["loss = ctc_loss"]
    assert [t.get_text() for t in top[1].get_legend().get_texts()] == [
        "loss",
        "ctc_loss",
        "lm_loss",
    ]
    assert "valid loss" in [line.get_label() for line in top[2].get_lines()]
    bottom = axes[3:]
    assert [line.get_label() for line in bottom[1].get_lines()] == [
        "asr_wer: 80 at 10",
        "qa_exact_match: 12.5 at 10",
    ]
    assert list(bottom[0].get_lines()[0].get_ydata()) == [98.0, 71.5]
    assert [line.get_label() for line in bottom[2].get_lines()] == ["perplexity: 8.6 at 150"]
    # each legend sits above the data: no plotted point lies under it
    fig.canvas.draw()
    for ax in axes:
        box = ax.get_legend().get_window_extent()
        for line in ax.get_lines():
            points = ax.transData.transform(line.get_xydata())
            assert not any(box.contains(x, y) for x, y in points), ax.get_title()
    out = tmp_path / "curves.png"
    save_png(fig, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_plot_stages_without_validation_has_one_row(tmp_path):
    rows = [r for r in SHRINK if "loss" in r]
    fig = plot_stages([read_history(write_stage(tmp_path, "shrink", rows))])
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "step"
    # beside a stage with validation metrics, an empty panel that says why
    log = "\n".join(LOG.splitlines()[:2])
    fig = plot_stages(
        [
            read_history(tmp_path / "shrink"),
            read_history(write_stage(tmp_path, "align", ALIGN)),
            read_history(write_stage(tmp_path, "running", log=log)),
        ]
    )
    assert len(fig.axes) == 6
    assert [t.get_text() for t in fig.axes[3].texts] == ["no validation metrics"]
    assert [t.get_text() for t in fig.axes[5].texts] == ["no validation yet"]


def test_plot_metric_one_line_per_run(tmp_path):
    runs = {
        "runs": [{"step": 10, "valid_asr_wer": 60.0}, {"step": 20, "valid_asr_wer": 40.0}],
        "peaks": [{"step": 10, "valid_asr_wer": 55.0}, {"step": 20, "valid_asr_wer": 35.0}],
        "linear5": [{"step": 10, "loss": 3.0}],  # never validated
    }
    hs = [read_history(write_stage(tmp_path, k, v), label=k) for k, v in runs.items()]
    fig = plot_metric(hs, ["valid_asr_wer", "loss"])
    wer, loss = fig.axes
    assert wer.get_title() == "valid_asr_wer" and wer.get_yscale() == "linear"
    assert [line.get_label() for line in wer.get_lines()] == ["runs: 40 at 20", "peaks: 35 at 20"]
    assert list(wer.get_lines()[1].get_ydata()) == [55.0, 35.0]
    assert [line.get_label() for line in loss.get_lines()] == ["linear5"]
    assert loss.get_yscale() == "log"
    with pytest.raises(UserError, match="no run logged 'valid_st_bleu'"):
        plot_metric(hs, ["valid_st_bleu"])


def test_default_labels_tell_dirs_apart(tmp_path):
    assert default_labels([tmp_path / "a/align", tmp_path / "a/shrink"]) == ["align", "shrink"]
    assert default_labels([tmp_path / "a/align", tmp_path / "b/align"]) == [
        "a/align",
        "b/align",
    ]


def test_cli(tmp_path, capsys):
    a = write_stage(tmp_path, "exp/a/shrink", SHRINK)
    b = write_stage(tmp_path, "exp/b/shrink", SHRINK[:1])
    out = tmp_path / "exp/curves.png"
    plot_curves.main(["--out", str(out), str(a), str(b)])
    assert out.stat().st_size > 20_000
    assert "a/shrink 10, b/shrink 5" in capsys.readouterr().out
    out2 = tmp_path / "exp/wer.png"
    argv = ["--out", str(out2), "--metric", "loss", "--labels", "runs,peaks", "--", str(a), str(b)]
    plot_curves.main(argv)
    assert "runs 10, peaks 5" in capsys.readouterr().out
    plot_curves.main(["--out", str(out2), "--metric", "loss", str(a), str(b), "--labels", "x", "y"])
    assert "x 10, y 5" in capsys.readouterr().out
    # the ablation form: N labels then N dirs
    plot_curves.main(["--out", str(out2), "--metric", "loss", "--labels", "u", "v", str(a), str(b)])
    assert "u 10, v 5" in capsys.readouterr().out
    with pytest.raises(SystemExit) as err:
        plot_curves.main(["--out", str(out2), str(a), str(b), "--labels", "only-one"])
    assert err.value.code == 1
    assert "1 labels for 2 dirs" in capsys.readouterr().err


def test_split_labels():
    assert plot_curves.split_labels(["d1", "d2"], ["a,b"]) == (["d1", "d2"], ["a", "b"])
    assert plot_curves.split_labels([], ["a", "b", "d1", "d2"]) == (["d1", "d2"], ["a", "b"])
    assert plot_curves.split_labels(["d1"], None) == (["d1"], None)
    with pytest.raises(UserError, match="give the dirs first"):
        plot_curves.split_labels([], ["a", "b", "d1"])
    with pytest.raises(UserError, match="no stage dirs"):
        plot_curves.split_labels([], None)
