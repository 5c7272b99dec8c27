"""Synthetic speakers: split disjointness, genders, determinism (no TTS needed)."""

from __future__ import annotations

import itertools
import random

from soundwave.synth import speakers as sp


def _all(seed: int = 0, n: int = 60) -> dict[str, list[sp.Speaker]]:
    return {s: sp.make_speakers(s, n, random.Random(f"{seed}{s}")) for s in sp.SPLITS}


def test_variant_and_voice_tables_are_disjoint_between_splits():
    by_split = {
        s: {v for (split, _), vs in sp.VARIANTS.items() if split == s for v in vs}
        for s in sp.SPLITS
    }
    for a, b in itertools.combinations(sp.SPLITS, 2):
        assert not by_split[a] & by_split[b], (a, b)
        assert not set(sp.FLITE_SPLIT[a]) & set(sp.FLITE_SPLIT[b])
    # look-alike variant families stay in one split
    assert {"steph", "steph2", "steph3"} <= by_split["train"]
    assert set(sp.HELDOUT_BASE.values()).isdisjoint(sp.TRAIN_BASES)


def test_speakers_of_different_splits_share_no_timbre_or_id():
    spk = _all()
    for a, b in itertools.combinations(sp.SPLITS, 2):
        assert not sp.timbres(spk[a]) & sp.timbres(spk[b])
        assert not {s.id for s in spk[a]} & {s.id for s in spk[b]}
    assert not {s.base for s in spk["train"]} & set(sp.HELDOUT_BASE.values())
    # the held-out accent is really used in test
    assert any(s.base == sp.HELDOUT_BASE["test"] for s in spk["test"])


def test_speakers_are_distinct_balanced_and_deterministic():
    spk = _all()
    train = spk["train"]
    assert len({(s.engine, s.voice, s.rate, s.pitch) for s in train}) == len(train) == 60
    assert sorted(s.id for s in train) == [f"tr{i:03d}" for i in range(1, 61)]
    genders = [s.gender for s in train]
    assert abs(genders.count("female") - genders.count("male")) <= 10
    assert {s.engine for s in train} == {"espeak-ng", "flite"}
    assert _all() == spk
    assert _all(seed=1) != spk


def test_gender_follows_the_variant_or_voice():
    spk = [s for ss in _all().values() for s in ss]
    female = {v for (_, g), vs in sp.VARIANTS.items() if g == "female" for v in vs}
    for s in spk:
        if s.engine == "flite":
            assert s.gender == sp.FLITE_VOICES[s.base][0]
        else:
            assert s.gender == ("female" if s.variant in female else "male")
        assert s.kaldi_gender == s.gender[0]


def test_commands():
    es = sp.Speaker("tr001", "train", "espeak-ng", "en-us", "f2", "female", 160.0, 45, 1)
    assert es.command("hello there", "/x.wav") == [
        "espeak-ng", "-v", "en-us+f2", "-s", "160", "-p", "45", "-g", "1", "-w", "/x.wav", "hello there",
    ]  # fmt: skip
    fl = sp.Speaker("tr002", "train", "flite", "slt", "", "female", 1.05, 180)
    assert fl.command("hi", "/y.wav") == [
        "flite", "-voice", "slt", "--setf", "duration_stretch=1.05",
        "--setf", "int_f0_target_mean=180", "-t", "hi", "-o", "/y.wav",
    ]  # fmt: skip
