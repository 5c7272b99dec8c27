"""Alignment adapter, CTC loss and greedy CTC."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from soundwave.models.adapter import AlignmentAdapter, ctc_greedy, ctc_loss
from soundwave.models.masking import stack_frames

D, H = 6, 16


def adapter(temporal: bool = True, layers: int = 1) -> AlignmentAdapter:
    torch.manual_seed(0)
    return AlignmentAdapter(D, H, stack=2, num_layers=layers, heads=4, temporal=temporal).eval()


def test_stack_frames_pads_to_multiple_and_zeroes_padding():
    x = torch.arange(2 * 5 * 2, dtype=torch.float).reshape(2, 5, 2) + 1
    y, lens = stack_frames(x, torch.tensor([5, 2]), 2)
    assert y.shape == (2, 3, 4) and lens.tolist() == [3, 1]
    assert y[0, 0].tolist() == [1, 2, 3, 4]  # adjacent frames concatenated in order
    assert y[0, 2].tolist() == [9, 10, 0, 0]  # odd length: padded with zeros
    assert y[1, 1:].abs().max() == 0  # batch padding was not zero: zeroed first


def test_lengths_and_padding_mask_batch_equals_single():
    for temporal in (True, False):
        a = adapter(temporal, layers=2)
        x = torch.randn(3, 9, D)
        lens = torch.tensor([9, 4, 1])
        y, ylens = a(x, lens)
        assert y.shape == (3, 5, H) and ylens.tolist() == [5, 2, 1]
        assert y[1, 2:].abs().max() == 0 and y[2, 1:].abs().max() == 0
        for i, t in enumerate([9, 4, 1]):
            alone, _ = a(x[i : i + 1, :t], lens[i : i + 1])
            torch.testing.assert_close(y[i : i + 1, : ylens[i]], alone, rtol=0, atol=1e-5)


def test_framewise_quirk_equals_released_layer():
    """Released: TransformerEncoder(layer without batch_first) fed (1, T, H)."""
    a = adapter(temporal=False)
    x = torch.randn(1, 10, D)
    y, _ = a(x, torch.tensor([10]))
    released = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(H, 4, 2 * H, 0.1, norm_first=True),
        num_layers=1,
        enable_nested_tensor=False,
    ).eval()
    released.layers[0].load_state_dict(a.layers[0].state_dict())
    with torch.no_grad():
        ref = a.out_norm(released(a.proj(stack_frames(x, torch.tensor([10]), 2)[0])))
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-5)
    # frame-wise: each frame alone gives the same vector; a temporal layer does not
    alone = torch.cat([a(x[:, 2 * i : 2 * i + 2], torch.tensor([2]))[0] for i in range(5)], 1)
    torch.testing.assert_close(y, alone, rtol=0, atol=1e-5)
    t = adapter(temporal=True)
    t.load_state_dict(a.state_dict())
    assert (t(x, torch.tensor([10]))[0] - y).abs().max() > 1e-3


def test_ctc_loss_mean_skips_empty_and_zero_infinity():
    torch.manual_seed(1)
    logits = torch.randn(3, 6, 11, requires_grad=True)
    lens = torch.tensor([6, 5, 2])
    targets = [[1, 2, 3], [], [4, 5, 6, 7]]  # the last cannot fit in 2 frames -> inf -> 0
    loss = ctc_loss(logits, lens, targets, blank=10)
    lp = F.log_softmax(logits, -1)
    first = F.ctc_loss(
        lp[0:1].transpose(0, 1), torch.tensor([[1, 2, 3]]), lens[:1], torch.tensor([3]), blank=10
    )
    torch.testing.assert_close(loss, first / 2)  # mean over 2 utterances, the impossible one is 0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[1].abs().max() == 0  # no transcript: no CTC term
    assert float(ctc_loss(logits, lens, [[], [], []], 10)) == 0.0


def test_ctc_greedy_collapses_and_respects_lengths():
    labels = torch.tensor([[3, 3, 0, 3, 4, 4, 0, 0], [5, 0, 5, 5, 2, 2, 2, 2]])
    logits = F.one_hot(labels, 6).float()
    assert ctc_greedy(logits, torch.tensor([8, 4]), blank=0) == [[3, 3, 4], [5, 5]]
