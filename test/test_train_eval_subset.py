"""Validation subsets: ``max_utts`` utterances spread over the whole set, not its head."""

from __future__ import annotations

from lhotse import CutSet, MonoCut

from soundwave.data.batches import spread_subset


def speaker_sorted_cuts(speakers: int, per_speaker: int) -> CutSet:
    ids = [f"spk{s:02d}-{u:03d}" for s in range(speakers) for u in range(per_speaker)]
    return CutSet.from_cuts(
        MonoCut(id=i, start=0.0, duration=1.0, channel=0, supervisions=[]) for i in ids
    )


def test_spread_subset_covers_every_speaker_in_order():
    cuts = speaker_sorted_cuts(10, 20)
    subset = [c.id for c in spread_subset(cuts, 50)]
    assert len(subset) == 50 and subset == sorted(subset)
    per_speaker = {s: sum(i.startswith(f"spk{s:02d}") for i in subset) for s in range(10)}
    assert per_speaker == {s: 5 for s in range(10)}  # cuts.subset(first=50): 3 speakers
    assert subset[:2] == ["spk00-000", "spk00-004"]


def test_spread_subset_of_more_than_the_set_is_the_set():
    cuts = speaker_sorted_cuts(2, 3)
    assert [c.id for c in spread_subset(cuts, 6)] == [c.id for c in cuts]
    assert [c.id for c in spread_subset(cuts, 100)] == [c.id for c in cuts]
    assert [c.id for c in spread_subset(cuts, 1)] == ["spk00-000"]
