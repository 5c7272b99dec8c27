"""SoundwaveModel end to end on tiny random models: losses, stages, generation, baselines."""

from __future__ import annotations

import itertools

import pytest
import torch
from models_util import feats, model, sharpen_ctc

from soundwave.decode.decode import GenerationConfig
from soundwave.errors import UserError
from soundwave.models.adapter import ctc_greedy
from soundwave.models.stage_dir import load_stage, save_stage
from soundwave.train.stages import apply_stage

LENGTHS = [230, 161, 40]
INSTR = ["transcribe", "", "turn on the lights"]
TARGETS = ["hello world", "the quick brown fox", "set an alarm"]


def test_encode_audio_shapes_and_lengths_under_padding():
    m = model().eval()
    sharpen_ctc(m)
    x, lens = feats(LENGTHS)
    enc = m.encode_audio(x, lens)
    frames25 = [((t + 1) // 2 + 1) // 2 for t in LENGTHS]
    assert enc.frame_lens.tolist() == frames25
    assert enc.ctc_logits.shape == (3, max(frames25), len(m.tokenizer))
    assert enc.embeds.shape == (3, int(enc.lengths.max()), 32)
    assert (enc.lengths <= enc.frame_lens).all() and (enc.lengths >= 1).all()
    assert enc.lengths.tolist() == (enc.kept_index >= 0).sum(1).tolist()
    assert (enc.kept_index.max(1).values < enc.frame_lens).all()
    for i, t in enumerate(LENGTHS):  # batch == single through encoder, adapter and bridge
        alone = m.encode_audio(x[i : i + 1, :, :t], lens[i : i + 1])
        v = int(enc.lengths[i])
        assert int(alone.lengths) == v
        torch.testing.assert_close(enc.embeds[i, :v], alone.embeds[0], rtol=0, atol=1e-4)


def test_ctc_only_forward_skips_the_llm():
    m = model()
    calls = []
    m.llm.register_forward_hook(lambda *a: calls.append(1))
    m.llm.get_decoder().register_forward_hook(lambda *a: calls.append(1))
    x, lens = feats(LENGTHS)
    out = m(x, lens, transcripts=TARGETS, ctc_only=True)
    assert set(out) == {"loss", "ctc_loss"} and torch.isfinite(out["loss"]) and out["loss"] > 0
    assert calls == []


def test_lm_loss_equals_hf_loss_per_utterance_and_token_mean_over_batch():
    m = model().eval()
    apply_stage(m, "shrink")
    m.eval()
    x, lens = feats(LENGTHS)
    out = m(x, lens, INSTR, TARGETS, transcripts=TARGETS)
    torch.testing.assert_close(out["loss"], out["lm_loss"] + 0.3 * out["ctc_loss"])
    enc = m.encode_audio(x, lens)
    per, counts = [], []
    emb = m.llm.get_input_embeddings()
    for i in range(3):  # independent splice: cat(prefix, audio, suffix, target) + HF's loss
        prefix, suffix = m.prompts(INSTR[i])
        target = [
            *m.tokenizer(TARGETS[i], add_special_tokens=False).input_ids,
            m.tokenizer.eos_token_id,
        ]
        v = int(enc.lengths[i])
        seq = torch.cat(
            [emb(torch.tensor(prefix)), enc.embeds[i, :v], emb(torch.tensor(suffix + target))]
        )
        labels = torch.tensor([-100] * (len(prefix) + v + len(suffix)) + target)
        per.append(m.llm(inputs_embeds=seq[None], labels=labels[None]).loss)
        counts.append(len(target))
    expected = sum(loss * c for loss, c in zip(per, counts)) / sum(counts)
    torch.testing.assert_close(out["lm_loss"], expected, rtol=1e-5, atol=1e-5)
    assert int(out["num_tokens"]) == sum(counts)
    # averaged per utterance instead: each utterance's mean, then their mean
    m.cfg.lm_loss_average = "utterance"
    per_utt = m(x, lens, INSTR, TARGETS, transcripts=TARGETS)["lm_loss"]
    torch.testing.assert_close(per_utt, sum(per) / 3, rtol=1e-5, atol=1e-5)
    assert abs(float(per_utt) - float(expected)) > 1e-4  # the targets differ in length
    m.cfg.lm_loss_average = "token"
    ctc = m(x, lens, INSTR, TARGETS, transcripts=["", "", ""])["ctc_loss"]
    assert float(ctc) == 0.0


def grads_after_backward(m, stage, **kw):
    apply_stage(m, stage, **kw)
    m.train()
    m.zero_grad(set_to_none=True)
    x, lens = feats(LENGTHS[:2])
    if stage == "align":
        out = m(x, lens, transcripts=TARGETS[:2], ctc_only=True)
    else:
        out = m(x, lens, INSTR[:2], TARGETS[:2], transcripts=TARGETS[:2])
    out["loss"].backward()
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    with_grad = {n for n, p in m.named_parameters() if p.grad is not None}
    nonzero = {n for n, p in m.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    return trainable, with_grad, nonzero


def prefixes(names):
    out = set()
    for n in names:
        if "lora_" in n:
            out.add("lora")
        else:
            out.add(n.split(".")[0])
    return out


def test_each_stage_trains_exactly_its_parameters():
    m = model()
    t, g, nz = grads_after_backward(m, "align")
    assert prefixes(t) == {"adapter", "ctc_head"} and g == t and nz == t
    assert not m.has_lora
    t, g, nz = grads_after_backward(m, "shrink")
    assert prefixes(t) == {"adapter", "ctc_head", "bridge", "lora"} and g == t
    assert {n for n in t if "lora_" not in n} <= nz  # lora_A gets 0 while lora_B is still 0
    assert any("lora_B" in n for n in nz)
    assert not any(p.requires_grad for p in m.encoder.parameters())
    t, g, nz = grads_after_backward(m, "sft")
    assert prefixes(t) == {"bridge", "lora"} and g == t
    assert not m.adapter.training and m.bridge.training  # frozen modules stay in eval
    t, g, nz = grads_after_backward(m, "sft", train_bridge=False)
    assert prefixes(t) == {"lora"} and g == t
    with pytest.raises(UserError):
        apply_stage(m, "pretrain")


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_batched_greedy_equals_one_at_a_time(arch):
    m = model(arch).eval()
    sharpen_ctc(m)
    x, lens = feats(LENGTHS, seed=3)
    batch = m.generate_ids(x, lens, INSTR, max_new_tokens=8)
    assert len({tuple(r) for r in batch}) == 3  # input-dependent, non-trivial outputs
    for i, t in enumerate(LENGTHS):
        assert m.generate_ids(
            x[i : i + 1, :, :t], lens[i : i + 1], INSTR[i : i + 1], max_new_tokens=8
        ) == [batch[i]]


def test_generate_texts_beam_search_and_sampling():
    m = model().eval()
    x, lens = feats(LENGTHS[1:], seed=3)
    ids = m.generate_ids(x, lens, INSTR[1:], max_new_tokens=4)
    texts = m.generate(x, lens, INSTR[1:], max_new_tokens=4)
    assert texts == [m.tokenizer.decode(r, skip_special_tokens=True).strip() for r in ids]
    beams = m.generate_ids(x, lens, INSTR[1:], max_new_tokens=4, num_beams=2)
    torch.manual_seed(0)
    sampled = m.generate_ids(x, lens, INSTR[1:], max_new_tokens=4, do_sample=True, top_k=5)
    assert len(beams) == len(sampled) == 2 and all(len(r) == 4 for r in beams + sampled)


def test_generate_never_emits_the_audio_token_and_restores_mode():
    m = model()
    m.train()
    with torch.no_grad():  # make the audio token the LLM's favourite
        m.llm.get_output_embeddings().weight[m.audio_token_id] *= 0
        m.llm.get_output_embeddings().weight[m.audio_token_id] += 50
    x, lens = feats([100])
    ids = m.generate_ids(x, lens, ["x"], max_new_tokens=4)
    assert m.audio_token_id not in ids[0] and m.training


def test_no_repeat_ngram_size_cuts_a_generation_loop():
    m = model().eval()
    loop_token = 7
    favour = torch.zeros(len(m.tokenizer))
    favour[loop_token] = 50.0  # a model stuck on one token
    m.llm.get_output_embeddings().register_forward_hook(lambda mod, inp, out: out + favour)
    x, lens = feats([100])
    assert m.generate_ids(x, lens, ["x"], max_new_tokens=6) == [[loop_token] * 6]
    kwargs = GenerationConfig(max_new_tokens=6, no_repeat_ngram_size=2).kwargs("asr")
    ids = m.generate_ids(x, lens, ["x"], **kwargs)[0]
    assert ids[:2] == [loop_token, loop_token] and len(ids) == 6  # one bigram, then others
    bigrams = list(itertools.pairwise(ids))
    assert len(set(bigrams)) == len(bigrams)


def test_ctc_transcribe_is_greedy_ctc_detokenized():
    m = model().eval()
    sharpen_ctc(m)
    x, lens = feats(LENGTHS, seed=4)
    enc = m.encode_audio(x, lens)
    ids = ctc_greedy(enc.ctc_logits, enc.frame_lens, m.audio_token_id)
    assert m.ctc_transcribe(x, lens) == [
        m.tokenizer.decode(i, skip_special_tokens=True).strip() for i in ids
    ]


def test_peaks_bridge_keeps_fewer_positions_than_runs():
    x, lens = feats(LENGTHS, seed=5)
    counts = {}
    for bridge in ("runs", "peaks", "none"):
        m = model(bridge=bridge).eval()
        sharpen_ctc(m)
        enc = m.encode_audio(x, lens)
        counts[bridge] = enc.lengths
        if bridge == "none":
            assert enc.lengths.tolist() == enc.frame_lens.tolist()
            assert sum(p.numel() for p in m.bridge.parameters()) == 0
    assert (counts["peaks"] <= counts["runs"]).all() and (counts["runs"] <= counts["none"]).all()


@pytest.mark.parametrize("k", [5, 8])
def test_linear_baseline_same_interface_no_ctc(k):
    m = model(bridge="linear", stack=k)
    assert m.adapter is None and m.ctc_head is None
    x, lens = feats(LENGTHS)
    enc = m.encode_audio(x, lens)
    assert enc.ctc_logits is None
    assert enc.lengths.tolist() == [-(-((t + 1) // 2) // k) for t in LENGTHS]
    with pytest.raises(UserError):
        apply_stage(m, "align")
    with pytest.raises(UserError):
        m.ctc_transcribe(x, lens)
    apply_stage(m, "shrink")
    out = m(x, lens, INSTR, TARGETS, transcripts=TARGETS)
    assert float(out["ctc_loss"]) == 0.0 and torch.isfinite(out["lm_loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in m.bridge.parameters())
    assert len(m.generate(x, lens, INSTR, max_new_tokens=3)) == 3


def test_frame_wise_official_adapter_trains_too():
    m = model(adapter_temporal=False, lookback="dropped", bridge="peaks")
    apply_stage(m, "shrink")
    x, lens = feats(LENGTHS)
    out = m(x, lens, INSTR, TARGETS, transcripts=TARGETS)
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)


def test_zero_infinity_for_transcripts_longer_than_the_audio():
    m = model()
    x, lens = feats([8])  # 2 adapter frames for a long transcript
    out = m(x, lens, transcripts=["the quick brown fox jumps over the lazy dog"], ctc_only=True)
    assert out["loss"].item() == 0.0
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in m.adapter.parameters() if p.grad is not None)


def test_forward_without_targets_is_an_error():
    m = model()
    x, lens = feats([50])
    with pytest.raises(ValueError):
        m(x, lens, ["x"])


def test_gradient_checkpointing_and_bfloat16_llm():
    m = model(gradient_checkpointing=True, llm_dtype="bfloat16", encoder_dtype="bfloat16")
    assert m.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    apply_stage(m, "shrink")
    m.train()
    x, lens = feats(LENGTHS[:2])
    out = m(x, lens, INSTR[:2], TARGETS[:2], transcripts=TARGETS[:2])
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["lm_loss"].dtype == torch.float32
    assert all(p.grad is not None for p in m.bridge.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.lora_parameters())
    assert len(m.generate_ids(x, lens, INSTR[:2], max_new_tokens=3)) == 2


def test_llm_embedding_ctc_head_is_scaled_cosine_to_the_llm_token_embeddings():
    m = model(ctc_head="llm_embeddings").eval()
    table = m.llm.get_input_embeddings().weight
    assert [n for n, _ in m.ctc_head.named_parameters()] == ["log_scale"]  # no vocab x hidden copy
    x, lens = feats(LENGTHS)
    enc = m.encode_audio(x, lens)
    frames, _, logits = m._adapter_frames(x, lens)
    vocab = len(m.tokenizer)
    expected = 30.0 * torch.nn.functional.cosine_similarity(
        frames[:, :, None, :], table[None, None, :vocab, :], dim=-1
    )
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert enc.ctc_logits.shape[-1] == vocab
    # Stage I trains the adapter and the scale; the LLM's embeddings stay frozen
    apply_stage(m, "align")
    out = m(x, lens, transcripts=TARGETS, ctc_only=True)
    out["loss"].backward()
    assert m.ctc_head.log_scale.grad is not None and table.grad is None
    assert all(p.grad is not None for p in m.adapter.parameters())


def test_match_embedding_scale_starts_audio_vectors_at_the_token_embedding_scale():
    plain = model().eval()
    matched = model(match_embedding_scale=True).eval()
    table = matched.llm.get_input_embeddings().weight[: len(matched.tokenizer)]
    token_norm = float(table.detach().norm(dim=-1).mean())
    x, lens = feats(LENGTHS)
    for m, low, high in ((plain, 4.0, 100.0), (matched, 0.5, 2.0)):
        enc = m.encode_audio(x, lens)
        norms = torch.cat([enc.embeds[i, : int(n)].norm(dim=-1) for i, n in enumerate(enc.lengths)])
        ratio = float(norms.mean().detach()) / token_norm
        assert low < ratio < high, (m.cfg.match_embedding_scale, ratio)


def test_soft_tokens_feed_the_llm_its_own_embeddings_of_what_ctc_hears(tmp_path):
    m = model(soft_tokens=True, bridge="peaks", lookback="none").eval()
    sharpen_ctc(m, 60.0)  # confident frames: posteriors close to one-hot
    table = m.llm.get_input_embeddings().weight
    x, lens = feats(LENGTHS)
    enc = m.encode_audio(x, lens)
    frames, _, logits = m._adapter_frames(x, lens)
    gate = m.bridge.soft_tokens.gate
    vocab = len(m.tokenizer)
    confident = 0
    for i, n in enumerate(enc.lengths.tolist()):
        t = enc.kept_index[i, :n]
        probs = logits[i, t].softmax(-1)
        expected = probs @ table[:vocab] + gate * frames[i, t]
        torch.testing.assert_close(enc.embeds[i, :n], expected, atol=1e-5, rtol=1e-4)
        # where CTC is sure, the LLM gets (almost) that token's own embedding
        sure = probs.max(-1).values > 0.999
        token = probs.argmax(-1)[sure]
        torch.testing.assert_close(
            enc.embeds[i, :n][sure] - gate * frames[i, t][sure], table[token], atol=1e-2, rtol=0
        )
        confident += int(sure.sum())
    assert confident > 10
    # Stage II trains the gate with the bridge; it saves and loads with the stage
    apply_stage(m, "shrink")
    m(x, lens, INSTR, TARGETS, transcripts=TARGETS)["loss"].backward()
    assert gate.grad is not None and table.grad is None
    with torch.no_grad():
        gate.mul_(3.0)
    save_stage(m, tmp_path / "shrink")
    again = load_stage(tmp_path / "shrink")
    torch.testing.assert_close(again.bridge.soft_tokens.gate, gate)
    with pytest.raises(UserError, match="soft_tokens needs a CTC head"):
        model(soft_tokens=True, bridge="linear")


def test_utterance_vector_is_one_more_llm_position_trained_and_saved_with_the_bridge(tmp_path):
    m = model(utterance_vector=True, bridge="peaks", lookback="dropped").eval()
    x, lens = feats(LENGTHS)
    enc = m.encode_audio(x, lens)
    _, frame_lens, logits = m._adapter_frames(x, lens)
    plain_counts = m.bridge.select(logits, frame_lens).sum(1)
    assert enc.lengths.tolist() == (plain_counts + 1).tolist()
    assert enc.kept_index[:, 0].tolist() == [-1] * len(LENGTHS)
    # the LLM sees it: generation runs, and Stage II trains and saves it with the bridge
    assert len(m.generate(x, lens, INSTR, max_new_tokens=3)) == len(LENGTHS)
    apply_stage(m, "shrink")
    m(x, lens, INSTR, TARGETS, transcripts=TARGETS)["loss"].backward()
    proj = m.bridge.utterance_vector.proj.weight
    assert proj.grad is not None and proj.grad.abs().sum() > 0
    with torch.no_grad():
        proj.mul_(2.0)
    save_stage(m, tmp_path / "shrink")
    again = load_stage(tmp_path / "shrink")
    torch.testing.assert_close(again.bridge.utterance_vector.proj.weight, proj)
    with pytest.raises(UserError, match="utterance_vector needs the shrinking bridge"):
        model(utterance_vector=True, bridge="linear")
