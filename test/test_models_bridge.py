"""Shrinking bridge: selections on hand-made labels, gathering, look-back, batching, gradients."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from soundwave.models.bridge import (
    ShrinkBridge,
    SoftTokens,
    UtteranceVector,
    select_peaks,
    select_runs,
)
from soundwave.models.masking import compact_index, gather_frames

BLANK = 0
H = 8


def official_keep(labels_1d: torch.Tensor) -> torch.Tensor:
    """The released definition (batch 1, all frames): tokens.roll(1) != tokens, frame 0 kept."""
    tokens = labels_1d[None]
    mask = tokens.roll(1) != tokens
    mask[:, 0] = True
    return mask[0]


def logits_for(labels: torch.Tensor, vocab: int = 6) -> torch.Tensor:
    return F.one_hot(labels, vocab).float() * 5


LABELS = torch.tensor(
    [
        [5, 5, 0, 0, 3, 3, 3, 0, 5, 5],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # all blank
        [4, 4, 4, 4, 4, 2, 2, 1, 1, 3],  # length 4 below: padding labels ignored
        [2, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # one frame
    ]
)
LENS = torch.tensor([10, 10, 4, 1])


def test_runs_equal_official_definition():
    keep = select_runs(LABELS, LENS)
    for row, t in zip(range(4), LENS.tolist()):
        expected = official_keep(LABELS[row, :t])
        assert keep[row, :t].tolist() == expected.tolist()
        assert not keep[row, t:].any()
    assert keep[0].nonzero().flatten().tolist() == [0, 2, 4, 7, 8]  # blank runs survive once
    assert keep[1].nonzero().flatten().tolist() == [0]


def test_peaks_first_frame_of_non_blank_runs_never_empty():
    blank_lp = torch.zeros(4, 10)
    blank_lp[1, 6] = -3.0  # the most speech-like frame of the all-blank row
    keep = select_peaks(LABELS, LENS, BLANK, blank_lp)
    assert keep[0].nonzero().flatten().tolist() == [0, 4, 8]
    assert keep[1].nonzero().flatten().tolist() == [6]
    assert keep[2].nonzero().flatten().tolist() == [0]
    assert keep[3].nonzero().flatten().tolist() == [0]
    all_blank_one_frame = select_peaks(
        torch.zeros(1, 3, dtype=torch.long), torch.tensor([1]), BLANK
    )
    assert all_blank_one_frame.tolist() == [[True, False, False]]


def test_compact_index_and_gather():
    keep = torch.tensor([[1, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    index, counts = compact_index(keep)
    assert index.tolist() == [[0, 2, 3], [3, -1, -1], [-1, -1, -1]]
    assert counts.tolist() == [3, 1, 0]
    x = torch.arange(3 * 4 * 2, dtype=torch.float).reshape(3, 4, 2)
    g = gather_frames(x, index)
    assert g[0, 1].tolist() == x[0, 2].tolist() and g[1, 1:].abs().max() == 0


def bridge(selection: str, lookback: str) -> ShrinkBridge:
    torch.manual_seed(0)
    return ShrinkBridge(H, 2, BLANK, selection, lookback, dropout=0.1).eval()


@pytest.mark.parametrize("selection", ["runs", "peaks", "all"])
@pytest.mark.parametrize("lookback", ["kept", "dropped", "none"])
def test_batch_equals_single(selection, lookback):
    b = bridge(selection, lookback)
    torch.manual_seed(1)
    frames = torch.randn(4, 10, H)
    out, counts, index = b(frames, LENS, logits_for(LABELS))
    assert torch.isfinite(out).all()
    assert out.shape[:2] == index.shape and int(counts.max()) == out.shape[1]
    for i, t in enumerate(LENS.tolist()):
        o, c, idx = b(frames[i : i + 1, :t], LENS[i : i + 1], logits_for(LABELS[i : i + 1, :t]))
        assert int(c) == int(counts[i])
        assert idx[0].tolist() == index[i, : int(c)].tolist()
        torch.testing.assert_close(out[i, : int(c)], o[0], rtol=0, atol=1e-5)
        assert out[i, int(c) :].abs().max() == 0 if int(c) < out.shape[1] else True


def test_kept_lookback_equals_released_per_utterance_code():
    b = bridge("runs", "kept")
    torch.manual_seed(2)
    frames = torch.randn(2, 10, H)
    lens = torch.tensor([10, 10])
    out, counts, _ = b(frames, lens, logits_for(LABELS[:2]))
    lbm = b.lookback
    for i in range(2):
        mask = official_keep(LABELS[i])
        q = frames[i][mask]
        with torch.no_grad():
            x, _ = lbm.attn(query=q, key=frames[i], value=frames[i], key_padding_mask=~mask)
            ref = lbm.norm(x + q)
        torch.testing.assert_close(out[i, : int(counts[i])], ref, rtol=0, atol=1e-5)


def test_dropped_lookback_attends_dropped_frames_or_itself():
    b = bridge("runs", "dropped")
    torch.manual_seed(3)
    frames = torch.randn(1, 4, H)
    labels = torch.tensor([[1, 2, 3, 4]])  # every frame kept: nothing dropped
    out, counts, _ = b(frames, torch.tensor([4]), logits_for(labels))
    assert int(counts) == 4 and torch.isfinite(out).all()
    with torch.no_grad():  # attending to itself only: softmax over one key
        attn = b.lookback.attn
        v = F.linear(frames[0], attn.in_proj_weight[2 * H :], attn.in_proj_bias[2 * H :])
        ref = b.lookback.norm(frames[0] + attn.out_proj(v))
    torch.testing.assert_close(out[0], ref, rtol=0, atol=1e-5)
    # with dropped frames, changing a kept frame's value does not change the attention output
    labels = torch.tensor([[1, 1, 2, 2]])
    out1, _, _ = b(frames, torch.tensor([4]), logits_for(labels))
    f2 = frames.clone()
    f2[0, 0] += 1.0  # kept frame 0: the query of slot 0 changes, the keys do not
    out2, _, _ = b(f2, torch.tensor([4]), logits_for(labels))
    torch.testing.assert_close(out1[0, 1], out2[0, 1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("lookback", ["kept", "none"])
def test_gradient_reaches_exactly_the_gathered_frames(lookback):
    b = bridge("runs", lookback)
    frames = torch.randn(1, 10, H, requires_grad=True)
    out, _, index = b(frames, LENS[:1], logits_for(LABELS[:1]))
    out.sum().backward()
    touched = (frames.grad[0].abs().sum(-1) > 0).nonzero().flatten().tolist()
    assert touched == index[0].tolist() == [0, 2, 4, 7, 8]


def test_soft_tokens_add_the_posterior_weighted_embedding_of_each_kept_frame():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(7, H)  # 6 CTC classes + one row the CTC head never scores
    soft = SoftTokens(emb, vocab=6, gate_init=0.5)
    rms = emb.weight[:6].detach().pow(2).mean().sqrt()
    torch.testing.assert_close(soft.gate.detach(), torch.full((H,), 0.5 * float(rms)))
    b = ShrinkBridge(H, 2, BLANK, "peaks", "none", soft_tokens=soft)
    frames = torch.randn(4, 10, H)
    logits = logits_for(LABELS) + 0.1 * torch.randn(4, 10, 6)
    out, counts, index = b(frames, LENS, logits)
    for i in range(4):
        for j in range(int(counts[i])):
            t = int(index[i, j])
            expected = logits[i, t].softmax(-1) @ emb.weight[:6] + soft.gate * frames[i, t]
            torch.testing.assert_close(out[i, j], expected)
        assert out[i, int(counts[i]) :].abs().max() == 0 if int(counts[i]) < out.shape[1] else True
    # a confident frame carries (almost exactly) its token's embedding, scaled audio on top
    peak = logits_for(torch.tensor([[3]]), 6) * 10
    one = soft(torch.zeros(1, 1, H), peak, torch.tensor([[0]]))
    torch.testing.assert_close(one[0, 0], emb.weight[3], atol=1e-6, rtol=0)
    # the table is the LLM's (which freezes it): not a parameter of the bridge
    assert [n for n, _ in b.named_parameters()] == ["soft_tokens.gate"]
    out.sum().backward()
    assert soft.gate.grad is not None and (soft.gate.grad.abs() > 0).all()


def test_utterance_vector_comes_first_and_batch_equals_single():
    torch.manual_seed(0)
    plain = ShrinkBridge(H, 2, BLANK, "peaks", "dropped", dropout=0.1).eval()
    torch.manual_seed(0)
    with_vector = ShrinkBridge(
        H, 2, BLANK, "peaks", "dropped", dropout=0.1, utterance_vector=UtteranceVector(H, 8)
    ).eval()
    with_vector.lookback.load_state_dict(plain.lookback.state_dict())
    torch.manual_seed(1)
    frames = torch.randn(4, 10, H)
    logits = logits_for(LABELS)
    out0, counts0, index0 = plain(frames, LENS, logits)
    out, counts, index = with_vector(frames, LENS, logits)
    assert counts.tolist() == (counts0 + 1).tolist()
    assert index[:, 0].tolist() == [-1] * 4 and torch.equal(index[:, 1:], index0)
    torch.testing.assert_close(out[:, 1:], out0, rtol=0, atol=1e-6)
    for i, t in enumerate(LENS.tolist()):
        o, c, _ = with_vector(frames[i : i + 1, :t], LENS[i : i + 1], logits[i : i + 1, :t])
        assert int(c) == int(counts[i])
        torch.testing.assert_close(out[i, : int(c)], o[0], rtol=0, atol=1e-5)


def test_utterance_vector_pools_the_valid_frames_only():
    torch.manual_seed(0)
    pool = UtteranceVector(H, 8).eval()
    frames = torch.randn(2, 6, H)
    valid = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    a = pool(frames, valid)
    frames2 = frames.clone()
    frames2[0, 4:] = 1e3  # padding frames changed: the first vector must not move
    b = pool(frames2, valid)
    assert a.shape == (2, 1, H)
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=0)
    assert not torch.allclose(a[1], pool(frames2 * 0.5, valid)[1])
    # the gradient reaches every valid frame and no padding frame
    x = frames.clone().requires_grad_(True)
    (
        pool(x, valid) * torch.randn(2, 1, H)
    ).sum().backward()  # (a plain sum of a LayerNorm's output is constant)
    assert x.grad[0, 4:].abs().max() == 0 and (x.grad[0, :4].abs().sum(-1) > 0).all()
