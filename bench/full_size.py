"""Full-size shapes: whisper-large-v2's encoder width and Llama-3.1-8B, random weights.

The Stage II step of every bridge at equal batch, built from the toolkit's own modules
(adapter, CTC head, look-back, soft tokens, linear projector; the LLM with peft LoRA)
at those shapes.  Each bridge's LLM sequence is its number of positions for the audio,
which a random CTC head cannot choose: it comes from the positions measured on trained
speech (``bench/bridges.py``): 25 Hz unshrunk, 50/k Hz linear, and for the CTC bridges
the measured positions per transcript token times the transcript's tokens.

* Without a GPU: the FLOPs of one step (forward and backward; the frozen encoder runs
  once, into the cache, and is not part of a Stage II step) counted by
  ``torch.utils.flop_counter`` on the ``meta`` device, and each bridge's ratio to the
  unshrunk one.  Nothing is timed (``skipped`` says why).
* With a GPU: the same steps timed in bfloat16 with their peak memory and MFU, the time
  to the first token per bridge, and greedy decoding of batch 16 against a batch-1 loop
  (outputs compared).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from bench_util import best_time, markdown_table, peak_bytes
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from soundwave.models import SoundwaveConfig
from soundwave.models.bridge import SoftTokens
from soundwave.models.llm import wrap_lora
from soundwave.models.soundwave import build_audio_modules

# dense bf16 tensor-core peaks (FLOP/s) for MFU, by a substring of the device name
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}


@dataclass
class Shapes:
    """Encoder width and LLM shapes; the defaults are whisper-large-v2 and Llama-3.1-8B."""

    enc_dim: int = 1280
    hidden: int = 4096
    layers: int = 32
    heads: int = 32
    kv_heads: int = 8
    intermediate: int = 14336
    vocab: int = 128256
    lora_rank: int = 64


TINY = Shapes(enc_dim=48, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128,
              vocab=400, lora_rank=4)  # fmt: skip


@dataclass
class Utterance:
    """The equal batch: utterances of ``seconds`` with a transcript of ``tokens``."""

    seconds: float
    tokens: int
    prompt: int  # prompt tokens around the audio


def typical_utterance(texts: list[str], seconds: float, length: float) -> Utterance:
    """An utterance of ``length`` seconds with the transcript tokens per second of ``texts``
    (spoken in ``seconds``) in a GPT-2 BPE, openai-whisper's: the nearest installed
    stand-in for Llama-3's tokenizer, which cannot be downloaded here; and the tokens of
    the recipe's system prompt and instruction plus the Llama-3 chat template's 12."""
    from whisper.tokenizer import get_tokenizer

    tok = get_tokenizer(multilingual=False)
    per_second = sum(len(tok.encode(" " + t)) for t in texts) / seconds
    prompt = len(tok.encode("You are a helpful speech assistant. Transcribe the audio.")) + 12
    return Utterance(seconds=length, tokens=round(per_second * length), prompt=prompt)


def audio_positions(bridge: dict[str, Any], utt: Utterance, per_token: float | None) -> int:
    """LLM positions of one utterance's audio for a bridge (its VARIANTS entry)."""
    if bridge["bridge"] == "linear":
        return math.ceil(50 * utt.seconds / bridge["stack"])
    if bridge["bridge"] == "none" or per_token is None:
        return math.ceil(25 * utt.seconds)
    return max(1, round(per_token * utt.tokens))


def build(shapes: Shapes, bridge: dict[str, Any], device: str, dtype: torch.dtype):
    """The LLM (peft LoRA) and the bridge's audio modules at ``shapes`` on ``device``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        hidden_size=shapes.hidden, num_hidden_layers=shapes.layers,
        num_attention_heads=shapes.heads, num_key_value_heads=shapes.kv_heads,
        intermediate_size=shapes.intermediate, vocab_size=shapes.vocab + 1,
        max_position_embeddings=8192, rope_theta=500000.0,
    )  # fmt: skip
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            llm = LlamaForCausalLM(cfg)
            llm.requires_grad_(False)
            llm = wrap_lora(
                llm, shapes.lora_rank, 16, 0.0, ["q_proj", "k_proj", "v_proj", "o_proj"]
            )
            # soft tokens read the embedding table's scale at build time, which a meta
            # tensor has not: they are built on a stand-in table and then given the LLM's
            model_cfg = SoundwaveConfig(encoder_path="-", llm_path="-", adapter_dropout=0.0,
                                        lookback_dropout=0.0, **{**bridge, "soft_tokens": False})  # fmt: skip
            embeddings = llm.get_input_embeddings()
            mods = build_audio_modules(model_cfg, shapes.enc_dim, embeddings, shapes.heads,
                                       shapes.vocab + 1, shapes.vocab)  # fmt: skip
            if bridge.get("soft_tokens"):
                with torch.device("cpu"):
                    soft = SoftTokens(nn.Embedding(2, shapes.hidden), 2).to(device)
                object.__setattr__(soft, "embeddings", embeddings)
                soft.vocab = shapes.vocab + 1
                mods["bridge"].soft_tokens = soft
    finally:
        torch.set_default_dtype(default)
    return llm, {k: m for k, m in mods.items() if m is not None}


def step_fn(llm: nn.Module, mods: dict[str, nn.Module], enc_dim: int, batch: int,
            utt: Utterance, positions: int, device: str, dtype: torch.dtype):  # fmt: skip
    """One Stage II step's forward and backward on random encoder frames, with the
    bridge keeping ``positions`` evenly spaced frames (a callable)."""
    t50 = math.ceil(50 * utt.seconds)
    x = torch.randn(batch, t50, enc_dim, device=device, dtype=dtype)
    lens = torch.full((batch,), t50, device=device)
    base = llm.get_base_model()
    embed = base.get_input_embeddings()
    vocab = base.get_input_embeddings().num_embeddings - 1
    prompt = torch.randint(0, vocab, (batch, utt.prompt), device=device)
    target = torch.randint(0, vocab, (batch, utt.tokens + 1), device=device)

    def step() -> None:
        if "adapter" in mods:
            frames, _ = mods["adapter"](x, lens)
            logits = mods["ctc_head"](frames)
            t25 = frames.shape[1]
            index = torch.linspace(0, t25 - 1, positions, device=device).long()
            index = index.expand(batch, -1)
            keep = torch.zeros(batch, t25, dtype=torch.bool, device=device)
            keep.scatter_(1, index, True)
            bridge = mods["bridge"]
            audio = frames.gather(1, index[..., None].expand(-1, -1, frames.shape[-1]))
            if bridge.lookback is not None:
                valid = torch.ones(batch, t25, dtype=torch.bool, device=device)
                audio = bridge.lookback(audio, index, frames, keep, valid)
            if bridge.soft_tokens is not None:
                audio = bridge.soft_tokens(audio, logits, index)
            # the CTC loss's own arithmetic is negligible beside the head that feeds it
            ctc = logits.float().logsumexp(-1).mean()
        else:
            audio, _ = mods["bridge"](x, lens)
            ctc = audio.new_zeros(())
        embeds = torch.cat([embed(prompt), audio.to(dtype), embed(target)], 1)
        # a 4-D causal mask is used as given: transformers' own mask building inspects
        # values, which meta tensors have not
        length = embeds.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
        mask = causal[None, None].expand(batch, 1, -1, -1)
        hidden = base.get_decoder()(
            inputs_embeds=embeds, attention_mask=mask, use_cache=False
        ).last_hidden_state
        logits = base.get_output_embeddings()(hidden[:, -target.shape[1] - 1 : -1])
        lm = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten())
        (lm + 0.3 * ctc).backward()

    return step


def stage2_flops(shapes: Shapes, bridge: dict[str, Any], batch: int, utt: Utterance,
                 positions: int) -> int:  # fmt: skip
    """FLOPs of one Stage II step (forward + backward) counted on the meta device."""
    llm, mods = build(shapes, bridge, "meta", torch.bfloat16)
    step = step_fn(llm, mods, shapes.enc_dim, batch, utt, positions, "meta", torch.bfloat16)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def measure(shapes: Shapes, bridges: dict[str, dict[str, Any]], per_token: dict[str, float],
            batch: int, utt: Utterance, device: str, repeats: int) -> dict[str, Any]:  # fmt: skip
    """Per bridge: positions, FLOPs, and where ``device`` is not meta the step's time, peak
    memory and MFU and the time to first token (prefill + one greedy step, batch 1)."""
    rows: dict[str, Any] = {}
    base_flops = None
    for name, bridge in bridges.items():
        positions = audio_positions(bridge, utt, per_token.get(name))
        flops = stage2_flops(shapes, bridge, batch, utt, positions)
        row: dict[str, Any] = {"positions": positions, "llm_sequence": utt.prompt + positions
                               + utt.tokens + 1, "step_flops": flops}  # fmt: skip
        if device != "meta":
            dtype = torch.bfloat16 if device == "cuda" else torch.float32
            llm, mods = build(shapes, bridge, device, dtype)
            step = step_fn(llm, mods, shapes.enc_dim, batch, utt, positions, device, dtype)
            row["step_seconds"], _ = best_time(step, repeats)
            row["step_peak_bytes"] = peak_bytes(step)
            peak = next((v for k, v in PEAK_FLOPS.items() if k in device_name()), None)
            row["mfu"] = flops / row["step_seconds"] / peak if peak else None
            row["ttft_seconds"] = first_token(llm, utt.prompt + positions, device, dtype)
            del llm, mods
        rows[name] = row
        base_flops = rows.get("none", {}).get("step_flops", base_flops)
    for row in rows.values():
        row["flops_vs_none"] = base_flops / row["step_flops"] if base_flops else None
    return {"device": device_name() if device != "meta" else "meta", "shapes": asdict(shapes),
            "batch": batch, "utterance": asdict(utt), "bridges": rows}  # fmt: skip


def device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def first_token(llm: nn.Module, length: int, device: str, dtype: torch.dtype) -> float:
    """Median seconds of prefill of ``length`` positions and one greedy token, batch 1."""
    embeds = torch.randn(1, length, llm.config.hidden_size, device=device, dtype=dtype) * 0.02
    times = []
    for k in range(4):
        start = time.perf_counter()
        llm.generate(inputs_embeds=embeds, max_new_tokens=1, do_sample=False, pad_token_id=0)
        if device == "cuda":
            torch.cuda.synchronize()
        if k:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


@torch.no_grad()
def decode_speed(shapes: Shapes, utts: int, batch: int, length: int, new_tokens: int,
                 device: str) -> dict[str, Any]:  # fmt: skip
    """Greedy generation from random audio-length embeddings: batches of ``batch`` (left
    padded, KV cache) against one at a time; token ids compared."""
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    llm, _ = build(shapes, {"bridge": "none"}, device, dtype)
    gen = torch.Generator().manual_seed(0)
    lengths = [length - (i % 5) for i in range(utts)]
    inputs = [torch.randn(n, shapes.hidden, generator=gen).to(device, dtype) for n in lengths]

    def run(size: int) -> list[list[int]]:
        out = []
        for i in range(0, utts, size):
            group = inputs[i : i + size]
            width = max(len(e) for e in group)
            embeds = torch.stack([F.pad(e, (0, 0, width - len(e), 0)) for e in group])
            mask = torch.stack([torch.arange(width, device=device) >= width - len(e)
                                for e in group]).long()  # fmt: skip
            ids = llm.generate(inputs_embeds=embeds, attention_mask=mask, do_sample=False,
                               max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                               pad_token_id=0)  # fmt: skip
            out += ids.tolist()
        return out

    run(batch)
    loop_s, _ = best_time(lambda: run(1), 1, warmup=0)
    batch_s, _ = best_time(lambda: run(batch), 1, warmup=0)
    same = run(1) == run(batch)
    return {"utts": utts, "batch": batch, "loop_seconds": loop_s, "batched_seconds": batch_s,
            "speedup": loop_s / batch_s, "identical": same}  # fmt: skip


def table(result: dict[str, Any]) -> list[str]:
    if result.get("skipped"):
        note = f"Timing skipped: {result['skipped']}."
    else:
        dtype = "bfloat16" if result["device"] != "cpu" else "float32"
        note = f"Full-size shapes on {result['device']}, {dtype}, random weights."
    u = result["utterance"]
    note += (
        f" Batch {result['batch']} utterances of {u['seconds']} s ({u['tokens']} transcript "
        f"tokens, {u['prompt']} prompt tokens); "
        + (
            "whisper-large-v2 width, Llama-3.1-8B"
            if result["shapes"] == asdict(Shapes())
            else f"tiny stand-in shapes {result['shapes']}"
        )
        + f", LoRA r={result['shapes']['lora_rank']}."
    )
    header = ["bridge", "LLM positions", "step TFLOPs", "FLOPs: none / bridge",
              "step ms", "peak GiB", "MFU", "TTFT ms"]  # fmt: skip
    body = []
    for name, r in result["bridges"].items():
        body.append([
            name, r["positions"], r["step_flops"] / 1e12, f"{r['flops_vs_none']:.2f}x",
            1000 * r["step_seconds"] if "step_seconds" in r else None,
            r["step_peak_bytes"] / 2**30 if "step_peak_bytes" in r else None,
            r.get("mfu"), 1000 * r["ttft_seconds"] if "ttft_seconds" in r else None,
        ])  # fmt: skip
    return [note, "", *markdown_table(header, body)]
