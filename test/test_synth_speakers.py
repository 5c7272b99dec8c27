"""Synthetic speakers: split disjointness, genders, determinism, generated timbres."""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess

import pytest

from soundwave.offline.synth import speakers as sp
from soundwave.offline.synth import timbre


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


def test_generated_timbres_and_warps_are_for_training_only():
    rng = random.Random(0)
    train = sp.make_speakers("train", 40, rng, generated_share=0.5, max_warp=0.08)
    espeak = [s for s in train if s.engine == "espeak-ng"]
    generated = [s for s in espeak if s.timbre is not None]
    # half of each gender's espeak-ng speakers, each its own timbre
    for g in ("female", "male"):
        of_g = [s for s in espeak if s.gender == g]
        assert abs(sum(s.timbre is not None for s in of_g) - len(of_g) / 2) <= 1
    assert len({s.variant for s in generated}) == len(generated)
    assert all(s.variant == s.timbre.name and s.timbre.gender == s.gender for s in generated)
    assert all(0.92 <= s.warp <= 1.08 for s in train) and len({s.warp for s in train}) > 5
    with pytest.raises(ValueError, match="training split only"):
        sp.make_speakers("test", 4, rng, generated_share=0.5)


def test_stock_speakers_do_not_change_when_training_is_widened():
    plain = sp.make_speakers("train", 30, random.Random(3))
    wide = sp.make_speakers("train", 30, random.Random(3), generated_share=0.0, max_warp=0.0)
    assert plain == wide and all(s.timbre is None and s.warp == 1.0 for s in plain)


def test_generated_timbre_follows_its_gender():
    rng = random.Random(1)
    female = [timbre.random_timbre(f"sw-f{i}", "female", rng) for i in range(50)]
    male = [timbre.random_timbre(f"sw-m{i}", "male", rng) for i in range(50)]

    def mean_formant(ts: list[timbre.Timbre]) -> float:  # F1-F3 frequency, % of the base voice
        return sum(f for t in ts for f, _, _ in t.formants[1:4]) / (3 * len(ts))

    assert mean_formant(female) > 105 > 100 > mean_formant(male)
    assert min(t.pitch[0] for t in female) >= 140 > 100 >= max(t.pitch[0] for t in male)
    text = female[0].render()
    assert text.startswith("language variant\nname sw-f0\ngender female\n")
    assert len([ln for ln in text.splitlines() if ln.startswith("formant ")]) == 9
    with pytest.raises(ValueError, match="start with"):
        timbre.random_timbre("f9", "female", rng)


def test_speaker_with_generated_timbre_needs_the_overlay():
    t = timbre.random_timbre("sw-train0001", "male", random.Random(0))
    s = sp.Speaker("tr001", "train", "espeak-ng", "en-us", t.name, "male", 160.0, 40, 0, t, 1.05)
    assert s.describe() == "espeak-ng en-us+sw-train0001 -s 160 -p 40 -g 0 warp=1.05"
    assert s.command("hi", "/x.wav", "/o")[:4] == [
        "espeak-ng",
        "--path=/o",
        "-v",
        "en-us+sw-train0001",
    ]
    with pytest.raises(ValueError, match="overlay"):
        s.command("hi", "/x.wav")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_overlays_speak_generated_timbres_beyond_espeaks_voice_limit(tmp_path):
    rng = random.Random(0)
    ts = [timbre.random_timbre(f"sw-train{i:04d}", "female", rng) for i in range(450)]
    where = timbre.espeak_overlays(tmp_path / "espeak", ts)
    assert len(set(where.values())) == 3  # 200 + 200 + 50
    last = where[ts[-1].name]
    assert (last / "espeak-ng-data/voices/!v" / ts[-1].name).read_text() == ts[-1].render()

    def say(*args: str) -> bytes:
        wav = tmp_path / "x.wav"
        r = subprocess.run(
            ["espeak-ng", *args, "-w", str(wav), "turn on the lights"], capture_output=True
        )
        assert r.returncode == 0, r.stderr
        return wav.read_bytes()

    stock = say("-v", "en-us")
    first, final = (
        say(f"--path={where[t.name]}", "-v", f"en-us+{t.name}") for t in (ts[0], ts[-1])
    )
    assert len({stock, first, final}) == 3


def test_accent_rules_are_drawn_only_when_asked_and_never_the_test_accents():
    plain = timbre.random_timbre("sw-train0001", "male", random.Random(5))
    again = timbre.random_timbre("sw-train0001", "male", random.Random(5), accent_rate=0.0)
    assert plain == again and plain.replacements == ()
    accented = timbre.random_timbre("sw-train0001", "male", random.Random(5), accent_rate=0.3)
    assert accented.formants == plain.formants  # the timbre itself is drawn as before
    rng = random.Random(2)
    drawn = [timbre.random_timbre("sw-x", "female", rng, 0.3).replacements for _ in range(300)]
    mean = sum(map(len, drawn)) / len(drawn)
    assert 0.3 * len(timbre.ACCENT_RULES) * 0.8 < mean < 0.3 * len(timbre.ACCENT_RULES) * 1.2
    assert all(ph != "h" for rules in drawn for _, ph, _ in rules)  # h-dropping: test only
    every = timbre.random_timbre("sw-x", "female", random.Random(0), accent_rate=1.0)
    assert len(every.replacements) == len(timbre.ACCENT_RULES)
    assert "\nreplace 00 T " in every.render()
    with pytest.raises(ValueError, match="training split only"):
        sp.make_speakers("test", 4, random.Random(0), accent_rate=0.3)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_espeak_speaks_a_generated_accent(tmp_path):
    base = timbre.random_timbre("sw-train0001", "male", random.Random(0))
    th_fronting = timbre.Timbre(**{**vars(base), "replacements": (("00", "T", "f"),)})
    where = timbre.espeak_overlays(tmp_path / "espeak", [th_fronting])

    def phonemes(voice: str) -> str:
        cmd = ["espeak-ng", f"--path={where[base.name]}", "-q", "-x", "-v", voice, "three things"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()

    assert phonemes("en-us") == ["Tr'i:", "T'INz"]
    assert phonemes(f"en-us+{base.name}") == ["fr'i:", "f'INz"]


def test_converted_flite_speakers_cross_into_the_other_gender():
    plain = sp.make_speakers("train", 40, random.Random(4))
    assert plain == sp.make_speakers("train", 40, random.Random(4), flite_conversion=0.0)
    converted = sp.make_speakers("train", 40, random.Random(4), flite_conversion=1.0)
    flite = [s for s in converted if s.engine == "flite"]
    assert {s.base for s in flite} == {"slt", "kal16"}
    for s in flite:
        gender, _, (low, high) = sp.FLITE_CONVERSIONS[s.base]
        assert s.gender == gender != sp.FLITE_VOICES[s.base][0]
        assert low <= s.warp <= high
        heard_f0 = s.pitch / s.warp  # the resampling divides every frequency by the warp
        assert (heard_f0 < 130) if gender == "male" else (heard_f0 > 170), s.describe()
        assert 0.89 < s.rate * s.warp < 1.16  # the stretch (2 decimals) makes up for the warp
