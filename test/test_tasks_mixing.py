"""Data mixing: temperature probabilities, empirical proportions, skipping, resuming."""

import itertools
import math
from collections import Counter

import pytest
from lhotse import CutSet, MonoCut, SupervisionSegment

from soundwave.errors import UserError
from soundwave.tasks import MixedSampler, MixtureSpec, temperature_probabilities


def cuts(prefix, n, translated_every=0):
    """``n`` cuts; every ``translated_every``-th one has a German translation."""
    out = []
    for k in range(n):
        custom = (
            {"text.de": f"satz {k}"} if translated_every and k % translated_every == 0 else None
        )
        sup = SupervisionSegment(
            id=f"{prefix}-{k}",
            recording_id=f"{prefix}-{k}",
            start=0.0,
            duration=1.0,
            text=f"sentence {k}",
            language="en",
            custom=custom,
        )
        out.append(
            MonoCut(id=f"{prefix}-{k}", start=0.0, duration=1.0, channel=0, supervisions=[sup])
        )
    return CutSet.from_cuts(out)


def test_from_config_and_formula():
    spec = MixtureSpec.from_config(
        [
            {"data": "small", "tasks": ["asr"], "weight": 2},
            {"data": "big", "tasks": ["asr", "st_en_de"]},
        ],
        temperature=2.0,
    )
    assert spec.pairs == [("small", "asr"), ("big", "asr"), ("big", "st_en_de")]
    probs = spec.probabilities({"small": 100, "big": 800})
    # (2*100)^(1/2) : (800)^(1/2) : (800)^(1/2) = 14.142 : 28.284 : 28.284
    assert probs == pytest.approx([0.2, 0.4, 0.4])
    assert temperature_probabilities([1, 1], [10, 30], 1.0) == pytest.approx([0.25, 0.75])
    assert temperature_probabilities([1, 1], [10, 30], math.inf) == pytest.approx([0.5, 0.5])
    assert temperature_probabilities([1, 5], [0, 30], 1.0) == pytest.approx([0.0, 1.0])
    # no overflow with large sizes and small temperatures
    assert temperature_probabilities([1, 1], [1e6, 2e6], 0.01)[1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "config, message",
    [
        ([{"data": "a", "tasks": ["asr"], "wieght": 1}], "unknown key"),
        ([{"tasks": ["asr"]}], "'data' must name a dataset"),
        ([{"data": "a", "tasks": []}], "'tasks' is empty"),
        ([{"data": "a", "tasks": ["nope"]}], "unknown task 'nope'"),
        ([{"data": "a", "tasks": ["asr"], "weight": 0}], "weight must be a number > 0"),
        ([{"data": "a", "tasks": ["asr", "asr"]}], "lists task 'asr' twice"),
        ([], "empty"),
    ],
)
def test_bad_configs(config, message):
    with pytest.raises(UserError, match=message):
        MixtureSpec.from_config(config, path="conf/shrink.yaml")


@pytest.mark.parametrize("temperature", [1.0, 2.0, 100.0])
def test_empirical_proportions_match_formula(temperature):
    spec = MixtureSpec.from_config(
        [
            {"data": "a", "tasks": ["asr"], "weight": 1.0},
            {"data": "b", "tasks": ["asr"], "weight": 1.0},
            {"data": "c", "tasks": ["asr", "st_en_de"], "weight": 3.0},
        ],
        temperature=temperature,
    )
    sizes = {"a": 50, "b": 400, "c": 1000}  # nominal sizes: the cut lists are shorter
    data = {"a": cuts("a", 5), "b": cuts("b", 7), "c": cuts("c", 9, translated_every=3)}
    sampler = MixedSampler(spec, data, sizes=sizes, seed=3)
    n = 20000
    counts = Counter((cut.id.split("-")[0], task) for cut, task in itertools.islice(sampler, n))
    w = {"a": 1.0, "b": 1.0, "c": 3.0}
    raw = {(d, t): (w[d] * sizes[d]) ** (1 / temperature) for d, t in spec.pairs}
    for pair, r in raw.items():
        expected = r / sum(raw.values())
        assert counts[pair] / n == pytest.approx(expected, abs=0.012), pair
    assert sampler.probabilities == pytest.approx([raw[p] / sum(raw.values()) for p in spec.pairs])


def test_skips_cuts_without_target_and_cycles():
    spec = MixtureSpec.from_config([{"data": "c", "tasks": ["st_en_de"]}])
    data = {"c": cuts("c", 10, translated_every=4)}  # c-0, c-4, c-8 have translations
    drawn = [cut.id for cut, _ in itertools.islice(MixedSampler(spec, data), 7)]
    assert drawn == ["c-0", "c-4", "c-8", "c-0", "c-4", "c-8", "c-0"]


def test_no_applicable_cut_is_an_error():
    spec = MixtureSpec.from_config([{"data": "c", "tasks": ["st_en_de"]}])
    sampler = MixedSampler(spec, {"c": cuts("c", 3)})
    with pytest.raises(
        UserError, match="dataset 'c' has no utterance with a target for task 'st_en_de'"
    ):
        next(iter(sampler))
    with pytest.raises(UserError, match="no cuts: d"):
        MixedSampler(MixtureSpec.from_config([{"data": "d", "tasks": ["asr"]}]), {})


def test_sizes_default_to_len():
    spec = MixtureSpec.from_config([{"data": "a", "tasks": "asr"}, {"data": "b", "tasks": "asr"}])
    sampler = MixedSampler(spec, {"a": cuts("a", 3), "b": cuts("b", 9)})
    assert sampler.probabilities == pytest.approx([0.25, 0.75])


@pytest.mark.parametrize("shuffle_buffer", [0, 4])
def test_deterministic_and_resumable(shuffle_buffer):
    spec = MixtureSpec.from_config(
        [{"data": "a", "tasks": ["asr"]}, {"data": "b", "tasks": ["asr", "st_en_de"]}],
        temperature=2.0,
    )
    data = {"a": cuts("a", 6), "b": cuts("b", 11, translated_every=2)}

    def run(sampler, n):
        return [(c.id, t) for c, t in itertools.islice(iter(sampler), n)]

    full = run(MixedSampler(spec, data, seed=7, shuffle_buffer=shuffle_buffer), 60)
    assert full == run(MixedSampler(spec, data, seed=7, shuffle_buffer=shuffle_buffer), 60)
    assert full != run(MixedSampler(spec, data, seed=8, shuffle_buffer=shuffle_buffer), 60)
    if shuffle_buffer:  # shuffled passes still visit every cut once per pass
        a_ids = [c for c, t in full if c.startswith("a-")][:6]
        assert sorted(a_ids) == sorted(f"a-{k}" for k in range(6))
        assert a_ids != [f"a-{k}" for k in range(6)]

    first = MixedSampler(spec, data, seed=7, shuffle_buffer=shuffle_buffer)
    head = run(first, 23)
    state = first.state_dict()
    assert state["step"] == 23
    resumed = MixedSampler(spec, data, seed=0, shuffle_buffer=shuffle_buffer)
    resumed.load_state_dict(state)
    assert head + run(resumed, 37) == full

    other = MixtureSpec.from_config([{"data": "a", "tasks": ["asr"]}])
    with pytest.raises(UserError, match="cannot resume the data mixture"):
        MixedSampler(other, data).load_state_dict(state)
