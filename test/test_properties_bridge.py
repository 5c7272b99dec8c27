"""Property-based tests of the shrinking bridge (models/bridge.py): on random CTC label
sequences, lengths and batch layouts the batched result equals each sample run alone, and
the kept counts follow each selection's rule."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from soundwave.models.bridge import ShrinkBridge

SETTINGS = settings(max_examples=30, deadline=None)
BLANK, VOCAB, H = 0, 5, 8


@st.composite
def batches(draw) -> list[list[int]]:
    """A batch of label sequences of different lengths (labels 0..VOCAB-1, 0 = blank)."""
    label = st.integers(0, VOCAB - 1)
    return draw(st.lists(st.lists(label, min_size=1, max_size=12), min_size=1, max_size=5))


def rule_count(seq: list[int], selection: str) -> int:
    """The number of frames ``selection`` keeps of ``seq``, from its definition."""
    starts = [t for t in range(len(seq)) if t == 0 or seq[t] != seq[t - 1]]
    if selection == "runs":
        return len(starts)
    if selection == "peaks":
        return max(1, sum(seq[t] != BLANK for t in starts))
    return len(seq)


def pad(seqs: list[list[int]], fill: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    labels = torch.tensor([s + [fill] * (width - len(s)) for s in seqs])
    return labels, torch.tensor([len(s) for s in seqs])


def bridge(selection: str, lookback: str) -> ShrinkBridge:
    torch.manual_seed(0)
    return ShrinkBridge(H, 2, BLANK, selection, lookback, dropout=0.0).eval()


@SETTINGS
@given(
    seqs=batches(),
    fill=st.integers(0, VOCAB - 1),
    selection=st.sampled_from(["runs", "peaks", "all"]),
    lookback=st.sampled_from(["kept", "dropped", "none"]),
)
def test_batched_equals_alone_and_counts_follow_the_rule(
    seqs: list[list[int]], fill: int, selection: str, lookback: str
) -> None:
    b = bridge(selection, lookback)
    labels, lengths = pad(seqs, fill)  # padding labels are arbitrary: they must not matter
    logits = F.one_hot(labels, VOCAB).float() * 4 + torch.randn(*labels.shape, VOCAB) * 0.1
    frames = torch.randn(*labels.shape, H)
    with torch.no_grad():
        out, counts, index = b(frames, lengths, logits)
    assert counts.tolist() == [rule_count(s, selection) for s in seqs]
    assert out.shape[1] == max(1, int(counts.max()))
    for i, seq in enumerate(seqs):
        n, c = len(seq), int(counts[i])
        with torch.no_grad():
            alone, alone_counts, alone_index = b(
                frames[i : i + 1, :n], lengths[i : i + 1], logits[i : i + 1, :n]
            )
        assert int(alone_counts[0]) == c
        assert index[i, :c].tolist() == alone_index[0, :c].tolist()
        assert bool((index[i, c:] == -1).all())
        assert bool((index[i, :c] < n).all())  # never a padding frame
        torch.testing.assert_close(out[i, :c], alone[0, :c], atol=1e-5, rtol=1e-5)
        assert bool((out[i, c:] == 0).all())  # padding of the bridge output is zero
