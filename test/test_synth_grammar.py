"""The synchronous English -> German grammar, its morphology and its QA pairs."""

from __future__ import annotations

import random
import re

import pytest

from soundwave.offline.synth import english, german, grammar, qa
from soundwave.offline.synth.lexicon import OBJECTS, ROOMS

# hand-checked English -> German pairs: (family, fixed choices, English, German)
PAIRS = [
    (
        "switch",
        {
            "action": "on",
            "device": "lights",
            "room": "kitchen",
            "verb": "turn",
            "form": "plain",
            "compound": True,
        },
        "turn on the kitchen lights",
        "Schalte das Licht in der Küche ein.",
    ),
    (
        "switch",
        {
            "action": "off",
            "device": "fan",
            "room": "living room",
            "verb": "switch",
            "form": "could",
            "compound": False,
        },
        "could you switch off the fan in the living room",
        "Kannst du den Ventilator im Wohnzimmer ausschalten?",
    ),
    (
        "switch",
        {
            "action": "off",
            "device": "oven",
            "room": "kitchen",
            "verb": "turn",
            "form": "timed",
            "compound": False,
            "when": "in",
            "minutes": 10,
        },
        "turn off the oven in the kitchen in ten minutes",
        "Schalte den Ofen in der Küche in zehn Minuten aus.",
    ),
    (
        "timer",
        {"minutes": 10, "form": "set"},
        "set a timer for ten minutes",
        "Stell einen Timer für zehn Minuten.",
    ),
    (
        "timer",
        {"minutes": 1, "form": "compound"},
        "set a one minute timer",
        "Stell einen Timer für eine Minute.",
    ),
    (
        "timer",
        {"minutes": 8, "form": "compound"},
        "set an eight minute timer",
        "Stell einen Timer für acht Minuten.",
    ),
    (
        "arithmetic",
        {"op": "plus", "a": 3, "b": 4, "form": "what"},
        "what is three plus four",
        "Was ist drei plus vier?",
    ),
    (
        "arithmetic",
        {"op": "times", "a": 6, "b": 7, "form": "tell_me"},
        "can you tell me what six times seven is",
        "Kannst du mir sagen, was sechs mal sieben ist?",
    ),
    (
        "arithmetic",
        {"op": "minus", "a": 21, "b": 9, "form": "get"},
        "what do you get when you subtract nine from twenty one",
        "Was bekommt man, wenn man neun von einundzwanzig subtrahiert?",
    ),
    (
        "music",
        {"room": "living room", "form": "play", "genre": "jazz"},
        "play some jazz in the living room",
        "Spiel etwas Jazz im Wohnzimmer.",
    ),
    (
        "music",
        {"room": "bedroom", "form": "listen", "genre": "classical music"},
        "i would like to listen to some classical music in the bedroom",
        "Ich möchte im Schlafzimmer etwas klassische Musik hören.",
    ),
    (
        "open_close",
        {
            "action": "open",
            "thing": "window",
            "room": "bedroom",
            "form": "question",
            "compound": True,
        },
        "is the bedroom window open",
        "Ist das Fenster im Schlafzimmer offen?",
    ),
    (
        "open_close",
        {
            "action": "close",
            "thing": "curtains",
            "room": "dining room",
            "form": "please",
            "compound": False,
        },
        "please close the curtains in the dining room",
        "Bitte schließe die Vorhänge im Esszimmer.",
    ),
    (
        "move",
        {
            "object": "chair",
            "adjective": True,
            "colour": "red",
            "plural": False,
            "room": "garage",
            "from": False,
            "verb": "move",
            "form": "plain",
        },
        "move the red chair to the garage",
        "Bring den roten Stuhl in die Garage.",
    ),
    (
        "move",
        {
            "object": "box",
            "adjective": True,
            "colour": "blue",
            "plural": True,
            "counted": True,
            "count": 2,
            "room": "balcony",
            "from": True,
            "source": "kitchen",
            "verb": "take",
            "form": "could",
        },
        "could you take the two blue boxes from the kitchen to the balcony",
        "Kannst du die zwei blauen Kisten aus der Küche auf den Balkon bringen?",
    ),
    (
        "move",
        {
            "object": "book",
            "adjective": False,
            "plural": False,
            "room": "living room",
            "from": True,
            "source": "attic",
            "verb": "bring",
            "form": "please",
        },
        "please bring the book from the attic to the living room",
        "Bitte bring das Buch vom Dachboden ins Wohnzimmer.",
    ),
    (
        "where",
        {
            "form": "there_is",
            "object": "chair",
            "adjective": True,
            "colour": "red",
            "room": "attic",
            "count": 1,
        },
        "there is a red chair in the attic",
        "Auf dem Dachboden gibt es einen roten Stuhl.",
    ),
    (
        "where",
        {
            "form": "there_is",
            "object": "book",
            "adjective": True,
            "colour": "green",
            "room": "garden",
            "count": 3,
        },
        "there are three green books in the garden",
        "Im Garten gibt es drei grüne Bücher.",
    ),
    (
        "where",
        {"form": "know", "object": "lamp", "adjective": True, "colour": "white", "plural": False},
        "do you know where the white lamp is",
        "Weißt du, wo die weiße Lampe ist?",
    ),
    (
        "where",
        {
            "form": "how_many",
            "object": "pillow",
            "adjective": True,
            "colour": "yellow",
            "room": "bedroom",
        },
        "how many yellow pillows are in the bedroom",
        "Wie viele gelbe Kissen sind im Schlafzimmer?",
    ),
    (
        "possession",
        {"possession": "glasses", "form": "think_that", "room": "bedroom"},
        "i think that my glasses are in the bedroom",
        "Ich glaube, dass meine Brille im Schlafzimmer ist.",
    ),
    (
        "possession",
        {"possession": "umbrella", "form": "left", "room": "hallway"},
        "i left my umbrella in the hallway",
        "Ich habe meinen Regenschirm im Flur liegen lassen.",
    ),
    (
        "calendar",
        {
            "event": "dentist appointment",
            "day": "monday",
            "form": "fronted",
            "hour": 9,
            "minute": 30,
        },
        "on monday i have a dentist appointment at nine thirty",
        "Am Montag habe ich um neun Uhr dreißig einen Zahnarzttermin.",
    ),
    (
        "calendar",
        {"event": "meeting", "day": "friday", "form": "cancel"},
        "cancel my meeting on friday",
        "Sag meine Besprechung am Freitag ab.",
    ),
    (
        "calendar",
        {"event": "job interview", "day": "tuesday", "form": "add", "hour": 10, "minute": 0},
        "add a job interview on tuesday at ten o'clock to my calendar",
        "Trage am Dienstag um zehn Uhr ein Vorstellungsgespräch in meinen Kalender ein.",
    ),
    (
        "shopping",
        {"item": "milk", "two_items": True, "item2": "bread", "my": False, "form": "out"},
        "we are out of milk and bread",
        "Wir haben keine Milch und kein Brot mehr.",
    ),
    (
        "shopping",
        {"item": "eggs", "two_items": False, "my": True, "form": "question"},
        "are eggs on my shopping list",
        "Stehen Eier auf meiner Einkaufsliste?",
    ),
    (
        "shopping",
        {"item": "cheese", "two_items": False, "my": True, "form": "add"},
        "add cheese to my shopping list",
        "Füge Käse zu meiner Einkaufsliste hinzu.",
    ),
    (
        "reminder",
        {
            "task": "water the plants",
            "when": "at",
            "hour": 6,
            "minute": 0,
            "please": False,
            "time_first": False,
        },
        "remind me to water the plants at six o'clock",
        "Erinnere mich um sechs Uhr daran, die Pflanzen zu gießen.",
    ),
    (
        "lock",
        {"action": "unlock", "door": "front door", "form": "could"},
        "could you unlock the front door",
        "Kannst du die Haustür aufschließen?",
    ),
    (
        "temperature",
        {"room": "balcony", "form": "too", "direction": "warmer"},
        "it is too cold on the balcony",
        "Auf dem Balkon ist es zu kalt.",
    ),
    (
        "weather",
        {"city": "munich", "when": "tomorrow", "form": "rain"},
        "will it rain in munich tomorrow",
        "Wird es morgen in München regnen?",
    ),
    (
        "chores",
        {
            "chore": "tidy up",
            "room": "attic",
            "when": "on",
            "day": "saturday",
            "we": True,
            "form": "fronted",
        },
        "on saturday we will tidy up the attic",
        "Am Samstag werden wir den Dachboden aufräumen.",
    ),
    (
        "alarm",
        {"hour": 1, "minute": 15, "form": "wake_day", "day": "sunday"},
        "wake me up at one fifteen on sunday",
        "Weck mich am Sonntag um ein Uhr fünfzehn.",
    ),
    (
        "status",
        {
            "room": "office",
            "form": "question",
            "device": "lights",
            "state": "on",
            "still": True,
            "compound": False,
        },
        "are the lights in the office still on",
        "Ist das Licht im Büro noch an?",
    ),
    (
        "light_colour",
        {"device": "lamp", "room": "nursery", "colour": "purple", "form": "set", "compound": False},
        "set the lamp in the nursery to purple",
        "Stell die Lampe im Kinderzimmer auf Lila.",
    ),
]


@pytest.mark.parametrize(("family", "fixed", "en", "de"), PAIRS, ids=[p[2] for p in PAIRS])
def test_hand_checked_translation(family, fixed, en, de):
    s = grammar.generate(family, fixed)
    assert (s.en, s.de) == (en, de)


def test_every_family_has_a_hand_checked_pair():
    assert {p[0] for p in PAIRS} >= set(grammar.FAMILIES) - {"dim", "world_time"}


def test_generate_without_rng_needs_every_choice():
    with pytest.raises(KeyError, match="not fixed"):
        grammar.generate("timer", {"form": "set"})


@pytest.mark.parametrize(
    ("n", "de", "en"),
    [
        (0, "null", "zero"),
        (1, "eins", "one"),
        (13, "dreizehn", "thirteen"),
        (16, "sechzehn", "sixteen"),
        (17, "siebzehn", "seventeen"),
        (21, "einundzwanzig", "twenty one"),
        (30, "dreißig", "thirty"),
        (45, "fünfundvierzig", "forty five"),
        (71, "einundsiebzig", "seventy one"),
        (100, "hundert", "one hundred"),
        (101, "hunderteins", "one hundred one"),
        (256, "zweihundertsechsundfünfzig", "two hundred fifty six"),
    ],
)
def test_numbers(n, de, en):
    assert german.number(n) == de
    assert english.number(n) == en


def test_clock():
    assert german.clock(1, 0) == "ein Uhr"
    assert german.clock(7, 30) == "sieben Uhr dreißig"
    assert english.clock(7, 0) == "seven o'clock"
    assert english.clock(11, 45) == "eleven forty five"


def test_noun_phrases_by_case_and_number():
    chair = next(o for o in OBJECTS if o.en == "chair")
    pillow = next(o for o in OBJECTS if o.en == "pillow")
    book = next(o for o in OBJECTS if o.en == "book")
    assert german.noun_phrase(chair, "nom", adj="rot") == "der rote Stuhl"
    assert german.noun_phrase(chair, "acc", adj="rot") == "den roten Stuhl"
    assert german.noun_phrase(chair, "dat", adj="rot") == "dem roten Stuhl"
    assert german.noun_phrase(chair, "dat", plural=True, adj="rot") == "den roten Stühlen"
    assert german.noun_phrase(pillow, "dat", plural=True) == "den Kissen"
    assert german.noun_phrase(book, "nom", det="ein", adj="grün") == "ein grünes Buch"
    assert german.noun_phrase(book, "acc", det="mein", adj="alt") == "mein altes Buch"
    assert german.noun_phrase(chair, "acc", det="mein", adj="alt") == "meinen alten Stuhl"
    assert (
        german.noun_phrase(chair, "nom", det="mein", plural=True, adj="alt") == "meine alten Stühle"
    )
    assert (
        german.noun_phrase(chair, "dat", det="none", plural=True, adj="alt", count=3)
        == "drei alten Stühlen"
    )
    assert german.noun_phrase(chair, "acc", det="none", count=1) == "einen Stuhl"


def test_contractions():
    rooms = {r.en: r for r in ROOMS}
    loc = grammar._loc  # location phrases of every room prep
    assert loc(rooms["living room"]).de == "im Wohnzimmer"
    assert loc(rooms["kitchen"]).de == "in der Küche"
    assert loc(rooms["balcony"]).de == "auf dem Balkon"
    assert grammar._goal(rooms["office"]).de == "ins Büro"
    assert grammar._goal(rooms["hallway"]).de == "in den Flur"
    assert grammar._source(rooms["balcony"]).de == "vom Balkon"
    assert german.prep_phrase("zu", "der Einkaufsliste") == "zur Einkaufsliste"


_EN = re.compile(r"^[a-z']+( [a-z']+)*$")
_DE = re.compile(r"^[A-ZÄÖÜ][^ ]*( [^ ]+)*[.?]$")


def test_random_sentences_are_well_formed():
    rng = random.Random(3)
    families = set()
    for _ in range(3000):
        s = grammar.sample(rng)
        families.add(s.family)
        assert _EN.match(s.en), s.en
        assert _DE.match(s.de), s.de
        assert grammar.MIN_WORDS <= len(s.en.split()) <= grammar.MAX_WORDS
        assert "  " not in s.de and " ." not in s.de and " ?" not in s.de
        assert qa.candidates(s), s.key
    assert families == set(grammar.FAMILIES) == set(qa.QUESTIONS)


_WORD2INT = {english.number(n): n for n in range(201)}
_ARITH = re.compile(
    r"^(?:what is|how much is|can you tell me what) (.+?) (plus|minus|times|divided by) (.+?)(?: is)?$"
)


def test_arithmetic_answers_are_correct():
    rng = random.Random(5)
    checked = 0
    for _ in range(400):
        s = grammar.generate("arithmetic", rng=rng)
        q, a = qa.pick(s, rng)
        assert q == qa.ANSWER_THE_QUESTION
        m = _ARITH.match(s.en)
        if not m:
            continue  # the "what do you get when you ..." forms
        x, op, y = _WORD2INT[m[1]], m[2], _WORD2INT[m[3]]
        want = {"plus": x + y, "minus": x - y, "times": x * y, "divided by": x // y}[op]
        assert op != "divided by" or x % y == 0
        assert _WORD2INT[a] == want, s.en
        checked += 1
    assert checked > 200


def test_heldout_is_a_stable_tenth_of_meanings():
    rng = random.Random(11)
    sents = [grammar.sample(rng) for _ in range(4000)]
    held = [s for s in sents if grammar.is_heldout(s, seed=0)]
    assert 0.07 < len(held) / len(sents) < 0.13
    # a meaning is held out whatever its surface form
    a = grammar.generate("switch", {**PAIRS[0][1], "compound": False})
    b = grammar.generate("switch", {**PAIRS[0][1], "form": "please"})
    assert a.key == b.key and a.en != b.en
    assert grammar.is_heldout(a, 0) == grammar.is_heldout(b, 0)
    # the seed changes which meanings are held out
    assert {s.key for s in held} != {s.key for s in sents if grammar.is_heldout(s, seed=1)}


def test_sample_many_respects_heldout_and_exclusions():
    train = grammar.sample_many(200, random.Random(1), seed=0, heldout=False)
    assert len({s.en for s in train}) == 200
    assert not any(grammar.is_heldout(s, 0) for s in train)
    held = grammar.sample_many(50, random.Random(2), 0, heldout=True, exclude={s.en for s in train})
    assert all(grammar.is_heldout(s, 0) for s in held)
    assert not {s.en for s in held} & {s.en for s in train}


def test_vocabulary_size():
    rng = random.Random(0)
    sents = [grammar.sample(rng) for _ in range(20000)]
    en = {w for s in sents for w in s.en.split()}
    de = {w.strip(".,?") for s in sents for w in s.de.split()}
    assert 250 < len(en) < 600
    assert 300 < len(de) < 700
    assert {"Küche", "Stühle", "Schlafzimmer", "dreißig", "Bücher"} <= de
