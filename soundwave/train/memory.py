"""How much GPU memory a training config needs, per GPU, under DDP and FSDP.

The model is built at full size on the ``meta`` device (:mod:`soundwave.models.meta`), so
parameter counts and dtypes are the real ones; the rest is arithmetic, per GPU:

- weights: the frozen encoder whole on every GPU (FSDP leaves it out); the base LLM and
  everything else whole under DDP, a 1/N shard under FSDP;
- gradients (dtype of the parameter) of what trains: DDP keeps them and its all-reduce
  buckets (a second copy); FSDP a 1/N shard; one GPU trains unwrapped (no buckets, no
  shards) whatever the strategy;
- optimizer: AdamW's two moments per trainable parameter, 1/N under FSDP;
- FSDP's working set: its root unit (embeddings, LM head, audio modules) all-gathered in
  the compute dtype for the whole step, and two decoder layers (one in use, one
  prefetched);
- activations of one batch of ``data.max_duration`` seconds (per GPU, any strategy): the
  adapter's layers and CTC logits over the 25 Hz frames; the LLM's layers over prompt +
  shrunk audio + target tokens (only the layer inputs with activation checkpointing,
  plus one layer recomputed); LM logits only at the target tokens.  Stored per token and
  layer: 8 hidden-size and 4 (SwiGLU LLM) or 2 (adapter) feed-forward-size vectors in
  the compute dtype; attention scores are not stored (SDPA).  An estimate, not a profile:
  the allocator's fragmentation and the CUDA context (~0.5-1 GiB) come on top.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from soundwave.errors import UserError
from soundwave.models.config import SoundwaveConfig
from soundwave.models.meta import MetaModel, build_meta_model
from soundwave.stages import STAGES, get_stage

GIB = 1024**3
ADAM_MOMENTS = 2


@dataclass
class BatchShape:
    """What a batch of ``max_duration`` seconds holds (the corpus decides; these are
    LibriSpeech-like defaults)."""

    utt_seconds: float = 15.0  # mean utterance length
    tokens_per_second: float = 4.0  # LLM tokens per second of speech (shrunk audio, target)
    prompt_tokens: int = 64  # system prompt, chat template, instruction


def _bytes(params) -> int:
    return sum(p.numel() * p.element_size() for p in params)


def _count(params) -> int:
    return sum(p.numel() for p in params)


def _params(module: nn.Module | None) -> list[nn.Parameter]:
    return list(module.parameters()) if module is not None else []


def trainable(model: MetaModel, stage: str, train_bridge: bool = True) -> list[nn.Parameter]:
    """The parameters ``stage`` trains (the stage table of :mod:`soundwave.stages`)."""
    spec = get_stage(stage)
    names = [m for m in spec.trains if train_bridge or m != "bridge" or stage == "shrink"]
    params = [p for name in names for p in _params(model.audio.get(name))]
    return params + (model.lora_parameters() if spec.lora else [])


def param_table(model: MetaModel, train_bridge: bool = True) -> str:
    """Markdown: parameters per module, and trainable ones in each stage."""
    groups = {
        "encoder (frozen)": _params(model.encoder),
        **{name: _params(m) for name, m in model.audio.items()},
        "LLM (frozen)": model.base_llm_parameters(),
        "LoRA": model.lora_parameters(),
    }
    rows = ["| module | parameters | dtype |", "|---|---:|---|"]
    for name, params in groups.items():
        rows.append(
            f"| {name} | {_count(params):,} | {str(params[0].dtype).removeprefix('torch.')} |"
        )
    total = sum(_count(p) for p in groups.values())
    rows.append(f"| **total** | **{total:,}** | |")
    for stage in STAGES:
        count = _count(trainable(model, stage.name, train_bridge))
        rows.append(f"| trainable in {stage.name} (stage {stage.number}) | {count:,} | |")
    return "\n".join(rows)


def activation_bytes(
    model: MetaModel, cfg: SoundwaveConfig, stage: str, max_duration: float, shape: BatchShape
) -> int:
    """The activations one batch keeps for its backward (see the module doc)."""
    c = 2  # bf16/fp16 compute
    utts = max(1, int(max_duration // shape.utt_seconds))
    seconds = (
        30.0 if cfg.encoder_input == "pad30" and cfg.encoder_full_window else shape.utt_seconds
    )
    frames = utts * round(seconds * 50 / cfg.stack)  # 25 Hz adapter frames in the batch
    total = 0
    adapter = model.audio.get("adapter")
    if adapter is not None:
        hidden = adapter.proj.out_features
        ff = hidden * cfg.adapter_ff_mult
        total += frames * cfg.adapter_layers * c * (8 * hidden + 2 * ff)
        vocab = model.audio["ctc_head"].weight.shape[0] if "ctc_head" in model.audio else 0
        total += frames * vocab * (c + 8)  # logits, fp32 log-probs and their gradient
    if get_stage(stage).ctc_only:
        return total
    text = model.llm.config.get_text_config()
    hidden, ff, layers = text.hidden_size, text.intermediate_size, text.num_hidden_layers
    answer = round(shape.tokens_per_second * shape.utt_seconds)
    tokens = utts * (shape.prompt_tokens + 2 * answer)  # prompt, shrunk audio, target
    per_layer = tokens * c * (8 * hidden + 4 * ff)
    if cfg.gradient_checkpointing:
        total += tokens * c * hidden * layers + per_layer
    else:
        total += per_layer * layers
    vocab = model.llm.get_output_embeddings().weight.shape[0]
    return total + utts * answer * vocab * (c + 8)


@dataclass
class MemoryRow:
    strategy: str
    gpus: int
    weights: float  # GiB per GPU
    grads: float
    optimizer: float
    working: float  # FSDP: all-gathered units
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.working + self.activations


def memory_rows(
    model: MetaModel,
    stage: str,
    activations: int,
    gpu_counts: list[int],
    compute_bytes: int = 2,
    train_bridge: bool = True,
) -> list[MemoryRow]:
    """Per-GPU memory of ``stage`` for each strategy and GPU count."""
    train = trainable(model, stage, train_bridge)
    encoder = _bytes(_params(model.encoder))
    rest = _bytes(p for m in (*model.audio.values(), model.llm) for p in m.parameters())
    grads = _bytes(train)
    moments = ADAM_MOMENTS * _bytes(train)
    in_layers = {id(p) for layer in model.decoder_layers for p in layer.parameters()}
    root = [p for m in (*model.audio.values(), model.llm) for p in m.parameters()]
    root_count = _count(p for p in root if id(p) not in in_layers)
    layer_count = max(_count(layer.parameters()) for layer in model.decoder_layers)
    working = (root_count + 2 * layer_count) * compute_bytes
    rows = []
    for n in gpu_counts:
        if n == 1:  # one process trains the model unwrapped, whatever the strategy
            one = MemoryRow(
                "", 1, (encoder + rest) / GIB, grads / GIB, moments / GIB, 0.0, activations / GIB
            )
            rows += [dataclasses.replace(one, strategy=s) for s in ("ddp", "fsdp")]
            continue
        rows.append(
            MemoryRow(
                "ddp",
                n,
                (encoder + rest) / GIB,
                2 * grads / GIB,
                moments / GIB,
                0.0,
                activations / GIB,
            )
        )
        rows.append(
            MemoryRow("fsdp", n, (encoder + rest / n) / GIB, grads / n / GIB, moments / n / GIB, working / GIB, activations / GIB)
        )  # fmt: skip
    return rows


def memory_table(rows: list[MemoryRow]) -> str:
    head = "| strategy | GPUs | weights | gradients | optimizer | FSDP working set | activations | **total / GPU** |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r.strategy, r.gpus)):
        lines.append(
            f"| {r.strategy} | {r.gpus} | {r.weights:.1f} | {r.grads:.1f} | {r.optimizer:.1f} | "
            f"{r.working:.1f} | {r.activations:.1f} | **{r.total:.1f}** |"
        )
    return "\n".join(lines)


def plan_memory(train_cfg, gpu_counts: list[int], shape: BatchShape | None = None) -> str:
    """The markdown report for a training config (a :class:`~soundwave.train.stages.
    TrainConfig`): parameters, and per-GPU GiB for ddp and fsdp at each GPU count."""
    if not train_cfg.model.get("encoder_path") or not train_cfg.model.get("llm_path"):
        raise UserError(
            "plan_memory needs model.encoder_path and model.llm_path in the config (or as "
            "overrides): a local dir with a config.json or a known model name"
        )
    if not gpu_counts or min(gpu_counts) < 1:
        raise UserError(f"--gpus must be counts of 1 or more, not {gpu_counts}")
    shape = shape or BatchShape()
    cfg = SoundwaveConfig(**train_cfg.model)
    model = build_meta_model(cfg)
    stage = train_cfg.stage
    acts = activation_bytes(model, cfg, stage, train_cfg.data.max_duration, shape)
    rows = memory_rows(model, stage, acts, gpu_counts, train_bridge=train_cfg.train_bridge)
    return (
        f"## Parameters ({cfg.encoder_path} + {cfg.llm_path}, LoRA r={cfg.lora_rank})\n\n"
        f"{param_table(model, train_cfg.train_bridge)}\n\n"
        f"## GiB per GPU, stage {stage}: batch of {train_cfg.data.max_duration:g} s "
        f"({shape.utt_seconds:g} s utterances), activation checkpointing "
        f"{'on' if cfg.gradient_checkpointing else 'off'}\n\n{memory_table(rows)}\n"
    )
