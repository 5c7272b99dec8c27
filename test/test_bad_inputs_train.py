"""The catalogue of bad inputs and faults of training (issue 19): configs, overrides, model
dirs, checkpoints, a full disk.

Each case runs ``python -m soundwave.bin.train`` as a user would and asserts the contract:
a non-zero exit, stderr that is one line ``train: error: <file or key>: <problem>`` (no
traceback), and no half-written output (no temporary files; the experiment dir as it was,
save for the logs of a run that trained before the fault).  README's *Bad input and
faults* table lists the same cases.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from pipeline_util import write_config
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.slow

# one thread (as the other training tests), no HF/tqdm loading bars: a bar is not an error
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}
LOGS = {"train.log", "tensorboard"}  # what a run that trained leaves, also when it then fails
STEP = "checkpoints/step-00000004"


@dataclass
class Ctx:
    """What a case's ``prepare`` may change: the experiment dir, the config, the models."""

    exp: Path
    config: Path
    root: Path  # the tiny pipeline (cuts, whisper/, llm/)
    base: Path  # a finished 4-step run (checkpoints at steps 2 and 4)
    tmp: Path

    def only_newest_checkpoint(self) -> Path:
        """Copy the base run's newest checkpoint (alone, so no older one can be used)."""
        shutil.copytree(self.base / STEP, self.exp / STEP)
        return self.exp / STEP

    def edit_config(self, replace: bool = False, **sections: object) -> None:
        """Update the config's sections key by key (``replace``: set them whole)."""
        data = yaml.safe_load(self.config.read_text())
        for key, value in sections.items():
            merge = isinstance(value, dict) and not replace
            data[key] = {**data.get(key, {}), **value} if merge else value
        self.config.write_text(yaml.safe_dump(data))

    def model_copy(self, name: str) -> Path:
        """A copy of the tiny pipeline's ``name`` model dir, used by the config."""
        dst = self.tmp / f"{name}_copy"
        shutil.copytree(self.root / name, dst)
        self.edit_config(model={f"{'encoder' if name == 'whisper' else 'llm'}_path": str(dst)})
        return dst


@dataclass
class Case:
    id: str
    args: list[str]  # command-line overrides
    message: str  # the problem, as the error line says it
    where: str  # the file or key the line names ({exp}, {config}, {tmp}: the case's paths)
    prepare: Callable[[Ctx], None] | None = None
    trains: bool = False  # fails after training began: logs may be left, nothing else
    patch: str = ""  # Python run before main() (a simulated fault)


def _truncate(name: str) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        path = ctx.only_newest_checkpoint() / name
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])

    return prepare


def _random(name: str) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        path = ctx.only_newest_checkpoint() / name
        path.write_bytes(os.urandom(path.stat().st_size))

    return prepare


def _edit_state(**changes) -> Callable[[Ctx], None]:
    def prepare(ctx: Ctx) -> None:
        path = ctx.only_newest_checkpoint() / "state.json"
        state = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        path.write_text(json.dumps(state))

    return prepare


def _pickled_optimizer(ctx: Ctx) -> None:
    # a Path is no tensor or plain container: weights_only refuses to unpickle it
    torch.save(
        {"state": {}, "where": pathlib.PurePosixPath("/x")},
        ctx.only_newest_checkpoint() / "optimizer.pt",
    )


def _other_architecture(ctx: Ctx) -> None:
    path = ctx.only_newest_checkpoint() / "trainable.safetensors"
    state = load_file(str(path))
    name = sorted(state)[0]
    state[name] = torch.zeros(*[d + 1 for d in state[name].shape])
    save_file(state, str(path))


def _optimizer_of_another_model(ctx: Ctx) -> None:
    step = ctx.only_newest_checkpoint()
    opt = torch.load(step / "optimizer.pt", weights_only=True)
    for entry in opt["state"].values():
        for key in ("exp_avg", "exp_avg_sq"):
            entry[key] = torch.zeros(3, 5)
    torch.save(opt, step / "optimizer.pt")


def _whisper_without_config(ctx: Ctx) -> None:
    (ctx.model_copy("whisper") / "config.json").unlink()


def _truncated_whisper_weights(ctx: Ctx) -> None:
    path = ctx.model_copy("whisper") / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _truncated_llm_weights(ctx: Ctx) -> None:
    path = ctx.model_copy("llm") / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _init_from_truncated_stage(ctx: Ctx) -> None:
    stage = ctx.tmp / "align_out"
    shutil.copytree(ctx.base, stage)
    weights = stage / "trained.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    ctx.edit_config(replace=True, stage="shrink", init_from=str(stage), model={})


def _yaml_lr_nan(ctx: Ctx) -> None:
    ctx.edit_config(optim={"lr": float("nan")})


def _yaml_unknown_section(ctx: Ctx) -> None:
    ctx.edit_config(trian={"max_steps": 3})


def _yaml_wrong_type(ctx: Ctx) -> None:
    ctx.edit_config(train={"log_interval": "often"})


def _yaml_model_typo(ctx: Ctx) -> None:
    ctx.edit_config(model={"stak": 2})


def _yaml_model_wrong_type(ctx: Ctx) -> None:
    ctx.edit_config(model={"lora_rank": "big"})


def _yaml_syntax(ctx: Ctx) -> None:
    ctx.config.write_text(ctx.config.read_text() + "train: [unclosed\n")


def _init_from_not_a_stage(ctx: Ctx) -> None:
    (ctx.tmp / "empty").mkdir()
    ctx.edit_config(replace=True, stage="shrink", init_from=str(ctx.tmp / "empty"), model={})


# A full disk when a file is written: a partial file, then ENOSPC (as the kernel does it).
DISK_FULL = """
import errno
def _full(real, suffix):
    def write(obj, path, *args, **kwargs):
        if str(path).endswith(suffix):
            with open(path, "wb") as f:
                f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, path, *args, **kwargs)
    return write
"""
FULL_AT_CHECKPOINT = DISK_FULL + textwrap.dedent("""
    import torch
    torch.save = _full(torch.save, "optimizer.pt")
""")
FULL_AT_STAGE_DIR = DISK_FULL + textwrap.dedent("""
    import soundwave.models.stage_dir as sd
    sd.save_file = _full(sd.save_file, ".safetensors")
""")

CASES = [
    # --- issue 19: silently accepted before
    Case("max_steps_negative", ["train.max_steps=-5"], "'train.max_steps' must be at least 1, not -5", "command-line override 'train.max_steps=-5'"),
    Case("max_steps_zero", ["train.max_steps=0"], "'train.max_steps' must be at least 1, not 0", "'train.max_steps=0'"),
    Case("max_steps_true", ["train.max_steps=true"], "'train.max_steps' must be of type int, got True", "'train.max_steps=true'"),
    # --- issue 19: tracebacks before
    Case("lr_negative", ["optim.lr=-3e-3"], "'optim.lr' must be a positive number", "'optim.lr=-3e-3'"),
    Case("lr_nan_override", ["optim.lr=nan"], "'optim.lr' must be a positive number, not nan", "'optim.lr=nan'"),
    Case("lr_nan_yaml", [], "'optim.lr' must be a positive number, not nan", "{config}", _yaml_lr_nan),
    Case("save_interval_zero", ["train.save_interval=0"], "'train.save_interval' must be at least 1, not 0", "'train.save_interval=0'"),
    Case("max_duration_zero", ["data.max_duration=0"], "'data.max_duration' must be a positive number of seconds", "'data.max_duration=0'"),
    Case("ckpt_truncated_weights", [], "damaged safetensors file", "{exp}/" + STEP + "/trainable.safetensors", _truncate("trainable.safetensors")),
    Case("ckpt_random_weights", [], "damaged safetensors file", "{exp}/" + STEP + "/trainable.safetensors", _random("trainable.safetensors")),
    Case("ckpt_truncated_optimizer", [], "damaged file", "{exp}/" + STEP + "/optimizer.pt", _truncate("optimizer.pt")),
    Case("ckpt_random_optimizer", [], "damaged file", "{exp}/" + STEP + "/optimizer.pt", _random("optimizer.pt")),
    Case("ckpt_truncated_scheduler", [], "damaged file", "{exp}/" + STEP + "/scheduler.pt", _truncate("scheduler.pt")),
    Case("ckpt_truncated_rng", [], "damaged file", "{exp}/" + STEP + "/rng.pt", _truncate("rng.pt")),
    Case("ckpt_truncated_state_json", [], "damaged JSON", "{exp}/" + STEP + "/state.json", _truncate("state.json")),
    Case("ckpt_random_state_json", [], "damaged", "{exp}/" + STEP + "/state.json", _random("state.json")),
    Case("ckpt_pickled_optimizer", [], "refused: it holds pickled Python objects", "{exp}/" + STEP + "/optimizer.pt", _pickled_optimizer),
    Case("ckpt_no_config_hash", [], "holds checkpoints of another run (no config hash recorded)", "{exp}/checkpoints", _edit_state(config_hash=None)),
    Case("whisper_dir_without_config", [], "not a Whisper model dir: no config.json", "{tmp}/whisper_copy", _whisper_without_config),
    Case("truncated_whisper_weights", [], "damaged weights file", "{tmp}/whisper_copy/model.safetensors", _truncated_whisper_weights),
    # --- issue 19: misleading before (an override was reported as coming from the file)
    Case("override_typo", ["train.max_step=3"], "unknown config key 'train.max_step' (did you mean 'train.max_steps'?", "command-line override 'train.max_step=3'"),
    # --- more of this area
    Case("yaml_unknown_section", [], "unknown config key 'trian' (did you mean 'train'?", "{config}", _yaml_unknown_section),
    Case("yaml_wrong_type", [], "'train.log_interval' must be of type int, got 'often'", "{config}", _yaml_wrong_type),
    Case("yaml_syntax_error", [], "invalid YAML", "{config}:", _yaml_syntax),
    Case("config_file_missing", ["--config={tmp}/nope.yaml"], "config file not found", "{tmp}/nope.yaml"),
    Case("override_without_value", ["train.max_steps"], "override 'train.max_steps' is not of the form key=value", "train: error: override"),
    Case("override_into_a_value", ["stage.x=1"], "'stage' is not a section", "override 'stage.x=1'"),
    Case("betas_one_number", ["optim.betas=[0.9]"], "'optim.betas' must be two numbers in [0, 1)", "'optim.betas=[0.9]'"),
    Case("warmup_negative", ["optim.warmup_steps=-1"], "'optim.warmup_steps' must be 0 or more", "'optim.warmup_steps=-1'"),
    Case("keep_last_negative", ["train.keep_last=-1"], "'train.keep_last' must be 0 or more", "'train.keep_last=-1'"),
    Case("num_buckets_zero", ["data.num_buckets=0"], "'data.num_buckets' must be at least 1", "'data.num_buckets=0'"),
    Case("unknown_dtype", ["train.dtype=float64"], "'train.dtype' must be one of", "'train.dtype=float64'"),
    Case("model_key_typo_yaml", [], "unknown config key 'model.stak' (did you mean 'model.stack'?", "{config}", _yaml_model_typo),
    Case("model_key_wrong_type_yaml", [], "'model.lora_rank' must be of type int, got 'big'", "{config}", _yaml_model_wrong_type),
    Case("model_key_typo_override", ["model.bridg=peaks"], "unknown config key 'model.bridg' (did you mean 'model.bridge'?", "command-line override 'model.bridg=peaks'"),
    Case("model_key_wrong_type_override", ["model.soft_tokens=3"], "'model.soft_tokens' must be of type bool, got 3", "command-line override 'model.soft_tokens=3'"),
    Case("encoder_dir_missing", ["model.encoder_path={tmp}/no_whisper"], "Whisper model directory not found", "{tmp}/no_whisper"),
    Case("llm_dir_missing", ["model.llm_path={tmp}/no_llm"], "not found", "{tmp}/no_llm"),
    Case("truncated_llm_weights", [], "cannot load the LLM", "{tmp}/llm_copy", _truncated_llm_weights),
    Case("init_from_not_a_stage_dir", [], "not a Soundwave stage dir", "{tmp}/empty", _init_from_not_a_stage),
    Case("init_from_truncated_weights", [], "damaged weights file", "{tmp}/align_out/trained.safetensors", _init_from_truncated_stage),
    Case("ckpt_other_architecture", [], "does not fit this model", "{exp}/" + STEP + "/trainable.safetensors", _other_architecture),
    Case("ckpt_optimizer_of_another_model", [], "optimizer, scheduler or RNG state does not fit this run", "{exp}/" + STEP, _optimizer_of_another_model),
    Case("ckpt_state_from_newer_version", [], "written by a newer soundwave (checkpoint format 99", "{exp}/" + STEP + "/state.json", _edit_state(format=99)),
    Case("ckpt_state_step_negative", [], "'step' missing or not a count (-3)", "{exp}/" + STEP + "/state.json", _edit_state(step=-3)),
    Case("ckpt_different_config", ["optim.lr=0.1"], "holds checkpoints of a different config", "{exp}/checkpoints", lambda ctx: ctx.only_newest_checkpoint()),
    Case("ckpt_past_max_steps", ["train.max_steps=3"], "is at step 4, past train.max_steps=3", "{exp}/" + STEP, lambda ctx: ctx.only_newest_checkpoint()),
    Case("disk_full_at_checkpoint", [], "cannot write the checkpoint: No space left on device", "{exp}/checkpoints/step-00000002", trains=True, patch=FULL_AT_CHECKPOINT),
    Case("disk_full_at_stage_dir", [], "cannot write the stage dir: No space left on device", "{exp}", trains=True, patch=FULL_AT_STAGE_DIR),
]  # fmt: skip


def _train(
    config: Path, exp: Path, args: list[str], patch: str = ""
) -> subprocess.CompletedProcess:
    argv = ["--config", str(config), "--exp-dir", str(exp), *args]
    if any(a.startswith("--config=") for a in args):
        argv = argv[2:]
    code = f"{patch}\nimport sys\nsys.argv = ['train', *{argv!r}]\n"
    code += "from soundwave.bin.train import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=300
    )


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def base_run(tiny_pipeline, tmp_path_factory):
    """A finished 4-step Stage I run with checkpoints at steps 2 and 4."""
    tmp = tmp_path_factory.mktemp("base")
    config = _config(tmp / "align.yaml", tiny_pipeline)
    res = _train(config, tmp / "exp", [])
    assert res.returncode == 0, res.stderr
    return tmp / "exp"


def _config(path: Path, root: Path) -> Path:
    return write_config(
        path,
        root,
        "align",
        data={"valid": []},
        train={"max_steps": 4, "save_interval": 2, "log_interval": 2},
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing_half_written(
    case, tiny_pipeline, base_run, tmp_path
):
    ctx = Ctx(
        tmp_path / "exp",
        _config(tmp_path / "align.yaml", tiny_pipeline),
        tiny_pipeline,
        base_run,
        tmp_path,
    )
    ctx.exp.mkdir()
    if case.prepare is not None:
        case.prepare(ctx)
    before = _snapshot(ctx.exp)

    def fill(text: str) -> str:
        return text.format(exp=ctx.exp, config=ctx.config, tmp=tmp_path)

    res = _train(ctx.config, ctx.exp, [fill(a) for a in case.args], case.patch)

    assert res.returncode != 0
    assert "Traceback" not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    if case.trains:  # the run's own log lines come first; the error is the last line
        assert sum("error:" in line for line in lines) == 1, res.stderr
    else:
        assert len(lines) == 1, res.stderr
    line = lines[-1]
    assert line.startswith("train: error: "), res.stderr
    assert case.message in line, line
    assert fill(case.where) in line, line

    after = _snapshot(ctx.exp)
    assert not [p for p in after if ".tmp" in p or p.endswith(".old")], after
    new = {p for p in after.keys() - before.keys() if p.split("/")[0] not in LOGS}
    if case.id == "disk_full_at_stage_dir":  # the complete checkpoints stay (resumable)
        new = {p for p in new if not p.startswith("checkpoints/")}
    assert not new, new
    assert all(after.get(p) == size for p, size in before.items()), "an existing file changed"
    if not case.trains:
        assert not (ctx.exp / "train.log").exists()


def test_catalogue_has_every_issue_case_and_ten_more():
    assert len(CASES) >= 21 + 10
    assert len({c.id for c in CASES}) == len(CASES)
