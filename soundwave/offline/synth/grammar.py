"""A synchronous English -> German grammar of smart-home / assistant utterances.

Each rule ("family") draws its slots once and renders both languages from them, so every
English sentence comes with its correct German translation: articles by gender, number
and case, verb-second and verb-final order, separable verbs, numbers in words.

English is in ASR form (lower case, no punctuation but the apostrophe of ``o'clock``);
German is written properly (capitalised, umlauts, final punctuation, commas).

``slots`` hold the *meaning* of a sentence (English values); two surface forms of the
same meaning share them.  Held-out slot combinations (:func:`is_heldout`) never occur in
training data and make the "unseen" part of the test set.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from soundwave.offline.synth import english as en_
from soundwave.offline.synth import german as de_
from soundwave.offline.synth.lexicon import (
    ADJ_COLOURS,
    CHORES,
    CITIES,
    DAYS,
    DEVICES,
    EVENTS,
    GENRES,
    ITEMS,
    LIGHT_COLOURS,
    LOCKABLES,
    OBJECTS,
    OPENABLES,
    POSSESSIONS,
    ROOMS,
    TASKS,
    Noun,
    Room,
)

T = TypeVar("T")

MIN_WORDS = 5  # about 2 s at the slowest speaking rate used
MAX_WORDS = 15  # about 5 s at the fastest
HELDOUT_FRACTION = 0.1

_MINUTE = Noun("minute", "Minute", "f", "minutes", "Minuten")
_SECOND = Noun("second", "Sekunde", "f", "seconds", "Sekunden")
_HOURS = tuple(range(1, 13))
_MINUTES_PAST = (0, 0, 0, 15, 30, 30, 45, 10, 20, 40, 50)
_TIMER_MINUTES = (*range(1, 21), 25, 30, 40, 45, 50, 60, 90)


@dataclass(frozen=True)
class Sentence:
    """One generated utterance: English (ASR form), German, and its meaning."""

    family: str
    en: str
    de: str
    slots: tuple[tuple[str, str], ...]

    @property
    def slot(self) -> dict[str, str]:
        return dict(self.slots)

    @property
    def key(self) -> str:
        """The meaning: family + slot values (the surface form is not part of it)."""
        return self.family + "|" + "|".join(f"{k}={v}" for k, v in self.slots)


class Chooser:
    """Draws the choices of one sentence from ``rng``.

    ``fixed`` overrides named choices (values given by their English label); with no
    ``rng`` every choice must be fixed, which is how tests ask for an exact sentence.
    """

    def __init__(self, rng: random.Random | None, fixed: Mapping[str, Any] | None = None):
        self.rng = rng
        self.fixed = dict(fixed or {})

    def _rng(self, name: str) -> random.Random:
        if self.rng is None:
            raise KeyError(f"choice {name!r} is not fixed")
        return self.rng

    def pick(self, name: str, options: Sequence[T]) -> T:
        if name in self.fixed:
            want = str(self.fixed[name])
            for opt in options:
                if str(getattr(opt, "en", opt)) == want:
                    return opt
            raise KeyError(f"{name}={want!r} is not one of the options")
        return self._rng(name).choice(options)

    def chance(self, name: str, p: float) -> bool:
        if name in self.fixed:
            return bool(self.fixed[name])
        return self._rng(name).random() < p

    def integer(self, name: str, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        if name in self.fixed:
            return int(self.fixed[name])
        return self._rng(name).randint(lo, hi)


@dataclass(frozen=True)
class _Phrase:
    en: str
    de: str
    value: str  # the slot value (English, without a preposition where that reads better)


# ----------------------------------------------------------------------------- helpers


def _np(noun: Noun, case: str, det: str = "def", adj: str | None = None) -> str:
    """German noun phrase of a noun used in its lexicon number."""
    return de_.noun_phrase(noun, case, det=det, plural=noun.de_plural, adj=adj)


def _en_be(noun: Noun, plural: bool | None = None) -> str:
    return "are" if (noun.en_plural if plural is None else plural) else "is"


def _de_be(plural: bool) -> str:
    return "sind" if plural else "ist"


def _loc(room: Room) -> _Phrase:
    """in the kitchen / in der Küche; on the balcony / auf dem Balkon."""
    return _Phrase(
        f"{room.en_prep} the {room.en}",
        de_.prep_phrase(room.de_prep, de_.noun_phrase(room, "dat")),
        room.en,
    )


def _goal(room: Room) -> _Phrase:
    """to the garage / in die Garage, ins Wohnzimmer, auf den Balkon."""
    return _Phrase(
        f"to the {room.en}",
        de_.prep_phrase(room.de_prep, de_.noun_phrase(room, "acc")),
        room.en,
    )


def _source(room: Room) -> _Phrase:
    """from the kitchen / aus der Küche, vom Balkon."""
    return _Phrase(
        f"from the {room.en}",
        de_.prep_phrase(room.de_from, de_.noun_phrase(room, "dat")),
        room.en,
    )


def _clock(c: Chooser) -> _Phrase:
    h = c.pick("hour", _HOURS)
    m = c.pick("minute", _MINUTES_PAST)
    text = en_.clock(h, m)
    return _Phrase(text, de_.clock(h, m), text)


def _count(n: int, noun: Noun, case: str) -> _Phrase:
    """ten minutes / zehn Minuten; one minute / eine Minute (einer Minute in the dative)."""
    en = f"{en_.number(n)} {noun.en if n == 1 else noun.en_pl}"
    return _Phrase(en, de_.noun_phrase(noun, case, det="none", plural=n != 1, count=n), en)


def _day(c: Chooser) -> _Phrase:
    d = c.pick("day", DAYS)
    return _Phrase(f"on {d.en}", f"am {d.de}", d.en)


def _when(c: Chooser, kinds: Sequence[str]) -> _Phrase:
    """A time adverbial: tomorrow, tonight, on monday, at seven thirty, in ten minutes ..."""
    kind = c.pick("when", kinds)
    if kind == "at":
        t = _clock(c)
        return _Phrase(f"at {t.en}", f"um {t.de}", f"at {t.en}")
    if kind == "tomorrow at":
        t = _clock(c)
        return _Phrase(f"tomorrow at {t.en}", f"morgen um {t.de}", f"tomorrow at {t.en}")
    if kind == "in":
        n = c.pick("minutes", (1, 2, 5, 10, 15, 20, 30, 45))
        t = _count(n, _MINUTE, "dat")
        return _Phrase(f"in {t.en}", f"in {t.de}", f"in {t.en}")
    if kind == "on":
        d = _day(c)
        return _Phrase(d.en, d.de, d.value)
    words = {
        "today": "heute",
        "tonight": "heute Abend",
        "tomorrow": "morgen",
        "tomorrow morning": "morgen früh",
        "this weekend": "am Wochenende",
    }
    return _Phrase(kind, words[kind], kind)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _items(c: Chooser) -> tuple[list, bool]:
    first = c.pick("item", ITEMS)
    if c.chance("two_items", 0.35):
        second = c.pick("item2", [i for i in ITEMS if i is not first])
        return [first, second], True
    return [first], first.plural


# ---------------------------------------------------------------------------- families


def _switch(c: Chooser) -> tuple[str, str, dict]:
    action = c.pick("action", ("on", "off"))
    dev = c.pick("device", DEVICES)
    room = c.pick("room", ROOMS)
    verb = c.pick("verb", ("turn", "switch"))
    form = c.pick("form", ("plain", "please", "could", "timed"))
    loc = _loc(room)
    obj_en = f"the {room.en} {dev.en}" if c.chance("compound", 0.3) else f"the {dev.en} {loc.en}"
    obj_de = f"{_np(dev, 'acc')} {loc.de}"
    particle = "ein" if action == "on" else "aus"
    slots = {"action": action, "device": dev.en, "room": room.en}
    if form == "could":
        return (
            f"could you {verb} {action} {obj_en}",
            f"kannst du {obj_de} {particle}schalten?",
            slots,
        )
    if form == "timed":
        when = _when(c, ("at", "in", "tomorrow morning", "tonight"))
        slots["time"] = when.value
        return (
            f"{verb} {action} {obj_en} {when.en}",
            f"schalte {obj_de} {when.de} {particle}.",
            slots,
        )
    please = form == "please"
    en = _join("please" if please else "", f"{verb} {action} {obj_en}")
    return en, _join("bitte" if please else "", f"schalte {obj_de} {particle}."), slots


def _status(c: Chooser) -> tuple[str, str, dict]:
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    form = c.pick("form", ("question", "statement", "finished", "when_finished"))
    if form in ("finished", "when_finished"):
        dev = c.pick("device", [d for d in DEVICES if d.finishes])
        slots = {"device": dev.en, "room": room.en}
        if form == "finished":
            return (
                f"is the {dev.en} {loc.en} finished",
                f"ist {_np(dev, 'nom')} {loc.de} fertig?",
                slots,
            )
        return (
            f"when will the {dev.en} {loc.en} be finished",
            f"wann ist {_np(dev, 'nom')} {loc.de} fertig?",
            slots,
        )
    dev = c.pick("device", DEVICES)
    state = c.pick("state", ("on", "off"))
    slots = {"device": dev.en, "room": room.en, "state": state}
    still = c.chance("still", 0.4)
    subj_en = f"the {room.en} {dev.en}" if c.chance("compound", 0.3) else f"the {dev.en} {loc.en}"
    subj_de = f"{_np(dev, 'nom')} {loc.de}"
    adv_en, adv_de = ("still", "noch") if still else ("", "")
    state_de = "an" if state == "on" else "aus"
    if form == "question":
        en = _join(_en_be(dev), subj_en, adv_en, state)
        return en, _join("ist", subj_de, adv_de, state_de) + "?", slots
    en = _join(subj_en, _en_be(dev), adv_en, state)
    return en, _join(subj_de, "ist", adv_de, state_de) + ".", slots


def _open_close(c: Chooser) -> tuple[str, str, dict]:
    action = c.pick("action", ("open", "close"))
    thing = c.pick("thing", OPENABLES)
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    form = c.pick("form", ("plain", "please", "could", "question"))
    obj_en = (
        f"the {room.en} {thing.en}" if c.chance("compound", 0.3) else f"the {thing.en} {loc.en}"
    )
    slots = {"action": action, "thing": thing.en, "room": room.en}
    if form == "question":
        state_en, state_de = ("open", "offen") if action == "open" else ("closed", "geschlossen")
        del slots["action"]
        slots["state"] = state_en
        en = f"{_en_be(thing)} {obj_en} {state_en}"
        de = f"{_de_be(thing.de_plural)} {_np(thing, 'nom')} {loc.de} {state_de}?"
        return en, de, slots
    obj_de = f"{_np(thing, 'acc')} {loc.de}"
    imp, inf = ("öffne", "öffnen") if action == "open" else ("schließe", "schließen")
    if form == "could":
        return f"could you {action} {obj_en}", f"kannst du {obj_de} {inf}?", slots
    please = form == "please"
    return (
        _join("please" if please else "", f"{action} {obj_en}"),
        _join("bitte" if please else "", f"{imp} {obj_de}."),
        slots,
    )


def _lock(c: Chooser) -> tuple[str, str, dict]:
    action = c.pick("action", ("lock", "unlock"))
    door = c.pick("door", LOCKABLES)
    form = c.pick("form", ("please", "could", "timed", "night", "question"))
    slots = {"action": action + "ed", "door": door.en}
    particle = "ab" if action == "lock" else "auf"
    obj = _np(door, "acc")
    if form == "question":
        del slots["action"]
        return f"is the {door.en} locked", f"ist {_np(door, 'nom')} abgeschlossen?", slots
    if form == "could":
        return f"could you {action} the {door.en}", f"kannst du {obj} {particle}schließen?", slots
    if form == "timed":
        when = _when(c, ("at", "in", "tonight"))
        slots["time"] = when.value
        return f"{action} the {door.en} {when.en}", f"schließe {obj} {when.de} {particle}.", slots
    if form == "night":
        slots["action"] = "locked"
        return f"lock the {door.en} for the night", f"schließe {obj} für die Nacht ab.", slots
    return f"please {action} the {door.en}", f"bitte schließe {obj} {particle}.", slots


def _dim(c: Chooser) -> tuple[str, str, dict]:
    dev = c.pick("device", [d for d in DEVICES if d.dimmable])
    room = c.pick("room", ROOMS)
    pct = c.pick("percent", (10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90))
    loc = _loc(room)
    form = c.pick("form", ("plain", "please", "could"))
    obj_en = f"the {room.en} {dev.en}" if c.chance("compound", 0.3) else f"the {dev.en} {loc.en}"
    obj_de = f"{_np(dev, 'acc')} {loc.de}"
    to_en, to_de = f"to {en_.number(pct)} percent", f"auf {de_.number(pct)} Prozent"
    slots = {"device": dev.en, "room": room.en, "percent": en_.number(pct)}
    if form == "could":
        return f"could you dim {obj_en} {to_en}", f"kannst du {obj_de} {to_de} dimmen?", slots
    please = form == "please"
    return (
        _join("please" if please else "", f"dim {obj_en} {to_en}"),
        _join("bitte" if please else "", f"dimme {obj_de} {to_de}."),
        slots,
    )


def _light_colour(c: Chooser) -> tuple[str, str, dict]:
    dev = c.pick("device", [d for d in DEVICES if d.dimmable])
    room = c.pick("room", ROOMS)
    colour = c.pick("colour", LIGHT_COLOURS)
    loc = _loc(room)
    obj_en = f"the {room.en} {dev.en}" if c.chance("compound", 0.3) else f"the {dev.en} {loc.en}"
    obj_de = f"{_np(dev, 'acc')} {loc.de}"
    slots = {"device": dev.en, "room": room.en, "colour": colour.en}
    if c.pick("form", ("set", "make")) == "set":
        noun = colour.de[:1].upper() + colour.de[1:]
        return f"set {obj_en} to {colour.en}", f"stell {obj_de} auf {noun}.", slots
    return f"turn {obj_en} {colour.en}", f"mach {obj_de} {colour.de}.", slots


def _temperature(c: Chooser) -> tuple[str, str, dict]:
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    form = c.pick("form", ("set", "heating", "ask", "change", "too"))
    slots = {"room": room.en}
    if form in ("set", "heating"):
        deg = c.pick("degrees", tuple(range(16, 27)))
        slots["degrees"] = f"{en_.number(deg)} degrees"
        to_en, to_de = f"to {en_.number(deg)} degrees", f"auf {de_.number(deg)} Grad"
        if form == "set":
            return (
                f"set the temperature {loc.en} {to_en}",
                f"stell die Temperatur {loc.de} {to_de}.",
                slots,
            )
        what_en = f"the {room.en} heating" if c.chance("compound", 0.4) else f"the heating {loc.en}"
        return f"set {what_en} {to_en}", f"stell die Heizung {loc.de} {to_de}.", slots
    if form == "ask":
        return (
            f"what is the temperature {loc.en}",
            f"wie hoch ist die Temperatur {loc.de}?",
            slots,
        )
    warm = c.pick("direction", ("warmer", "cooler"))
    slots["direction"] = warm
    if form == "change":
        bit = c.chance("bit", 0.5)
        de_word = "wärmer" if warm == "warmer" else "kühler"
        return (
            _join("make it", "a bit" if bit else "", warm, loc.en),
            _join("mach es", loc.de, "etwas" if bit else "", de_word) + ".",
            slots,
        )
    en_word, de_word = ("cold", "kalt") if warm == "warmer" else ("warm", "warm")
    return f"it is too {en_word} {loc.en}", f"{loc.de} ist es zu {de_word}.", slots


def _timer(c: Chooser) -> tuple[str, str, dict]:
    n = c.pick("minutes", _TIMER_MINUTES)
    dur = _count(n, _MINUTE, "acc")
    slots = {"minutes": en_.number(n)}
    form = c.pick("form", ("set", "start", "compound", "seconds", "cancel"))
    if form == "seconds":
        s = c.pick("seconds", (10, 15, 20, 30, 40, 45, 50))
        slots["seconds"] = en_.number(s)
        sec = _count(s, _SECOND, "acc")
        return (
            f"set a timer for {dur.en} and {sec.en}",
            f"stell einen Timer für {dur.de} und {sec.de}.",
            slots,
        )
    if form == "compound":
        num = en_.number(n)
        return (
            f"set {en_.a_an(num)} {num} minute timer",
            f"stell einen Timer für {dur.de}.",
            slots,
        )
    if form == "cancel":
        return f"cancel the timer for {dur.en}", f"lösche den Timer für {dur.de}.", slots
    verb_en, verb_de = ("set", "stell") if form == "set" else ("start", "starte")
    return f"{verb_en} a timer for {dur.en}", f"{verb_de} einen Timer für {dur.de}.", slots


def _alarm(c: Chooser) -> tuple[str, str, dict]:
    t = _clock(c)
    slots = {"time": t.value}
    form = c.pick("form", ("set", "set_day", "wake", "wake_day", "cancel"))
    if form == "set":
        return f"set an alarm for {t.en}", f"stell einen Wecker für {t.de}.", slots
    if form == "cancel":
        return f"cancel my alarm for {t.en}", f"lösche meinen Wecker für {t.de}.", slots
    if form == "set_day":
        d = c.pick("day", DAYS)
        slots["day"] = d.en
        return (
            f"set an alarm for {t.en} on {d.en}",
            f"stell einen Wecker für {d.de} um {t.de}.",
            slots,
        )
    if form == "wake":
        slots["day"] = "tomorrow"
        if c.chance("day_first", 0.5):
            en = f"wake me up tomorrow at {t.en}"
        else:
            en = f"wake me up at {t.en} tomorrow"
        return en, f"weck mich morgen um {t.de}.", slots
    d = c.pick("day", DAYS)
    slots["day"] = d.en
    return f"wake me up at {t.en} on {d.en}", f"weck mich am {d.de} um {t.de}.", slots


_OPS = {  # English, German operator words
    "plus": ("plus", "plus"),
    "minus": ("minus", "minus"),
    "times": ("times", "mal"),
    "divided by": ("divided by", "geteilt durch"),
}


def _operands(c: Chooser, op: str) -> tuple[int, int, int]:
    if op == "plus":
        a, b = c.integer("a", 1, 20), c.integer("b", 1, 20)
        return a, b, a + b
    if op == "minus":
        a = c.integer("a", 2, 20)
        b = c.integer("b", 1, a)
        return a, b, a - b
    if op == "times":
        a, b = c.integer("a", 2, 10), c.integer("b", 2, 10)
        return a, b, a * b
    b = c.integer("b", 2, 10)
    a = int(c.fixed["a"]) if "a" in c.fixed else b * c.integer("quotient", 1, 10)
    if a % b:
        raise ValueError(f"{a} is not divisible by {b}")
    return a, b, a // b


def _arithmetic(c: Chooser) -> tuple[str, str, dict]:
    op = c.pick("op", tuple(_OPS))
    a, b, result = _operands(c, op)
    ea, eb, da, db = en_.number(a), en_.number(b), de_.number(a), de_.number(b)
    op_en, op_de = _OPS[op]
    slots = {"a": ea, "op": op, "b": eb, "result": en_.number(result)}
    form = c.pick("form", ("what", "how_much", "tell_me", "get"))
    if form == "what":
        return f"what is {ea} {op_en} {eb}", f"was ist {da} {op_de} {db}?", slots
    if form == "how_much":
        return f"how much is {ea} {op_en} {eb}", f"wie viel ist {da} {op_de} {db}?", slots
    if form == "tell_me":
        return (
            f"can you tell me what {ea} {op_en} {eb} is",
            f"kannst du mir sagen, was {da} {op_de} {db} ist?",
            slots,
        )
    en_verb, de_verb = {
        "plus": (f"add {ea} and {eb}", f"{da} und {db} addiert"),
        "minus": (f"subtract {eb} from {ea}", f"{db} von {da} subtrahiert"),
        "times": (f"multiply {ea} by {eb}", f"{da} mit {db} multipliziert"),
        "divided by": (f"divide {ea} by {eb}", f"{da} durch {db} teilt"),
    }[op]
    return (
        f"what do you get when you {en_verb}",
        f"was bekommt man, wenn man {de_verb}?",
        slots,
    )


def _music(c: Chooser) -> tuple[str, str, dict]:
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    slots = {"room": room.en}
    form = c.pick("form", ("play", "play", "could", "listen", "louder", "volume", "song", "stop"))
    if form in ("play", "could", "listen"):
        g = c.pick("genre", GENRES)
        slots["genre"] = g.en
        if form == "play":
            return f"play some {g.en} {loc.en}", f"spiel etwas {g.de} {loc.de}.", slots
        if form == "could":
            return (
                f"could you play some {g.en} {loc.en}",
                f"kannst du etwas {g.de} {loc.de} spielen?",
                slots,
            )
        return (
            f"i would like to listen to some {g.en} {loc.en}",
            f"ich möchte {loc.de} etwas {g.de} hören.",
            slots,
        )
    if form == "louder":
        up = c.pick("direction", ("up", "down"))
        slots["direction"] = "louder" if up == "up" else "quieter"
        de_word = "lauter" if up == "up" else "leiser"
        return f"turn the music {up} {loc.en}", f"mach die Musik {loc.de} {de_word}.", slots
    if form == "volume":
        n = c.pick("level", tuple(range(1, 11)))
        slots["level"] = en_.number(n)
        return (
            f"set the volume {loc.en} to {en_.number(n)}",
            f"stell die Lautstärke {loc.de} auf {de_.number(n)}.",
            slots,
        )
    if form == "song":
        return (
            f"what song is playing {loc.en} right now",
            f"welches Lied läuft gerade {loc.de}?",
            slots,
        )
    return f"stop the music {loc.en}", f"stopp die Musik {loc.de}.", slots


_WEATHER_DAYS = ("today", "tonight", "tomorrow", "tomorrow morning", "this weekend", "on")


def _weather(c: Chooser) -> tuple[str, str, dict]:
    city = c.pick("city", CITIES)
    when = _when(c, _WEATHER_DAYS)
    slots = {"city": city.en, "day": when.value}
    form = c.pick("form", ("like", "will_like", "rain", "snow", "warm", "cold", "umbrella"))
    if form == "like":
        return (
            f"what is the weather like in {city.en} {when.en}",
            f"wie ist das Wetter {when.de} in {city.de}?",
            slots,
        )
    if form == "will_like":
        return (
            f"what will the weather be like in {city.en} {when.en}",
            f"wie wird das Wetter {when.de} in {city.de}?",
            slots,
        )
    if form in ("rain", "snow"):
        verb = "regnen" if form == "rain" else "schneien"
        return (
            f"will it {form} in {city.en} {when.en}",
            f"wird es {when.de} in {city.de} {verb}?",
            slots,
        )
    if form in ("warm", "cold"):
        adj = "warm" if form == "warm" else "kalt"
        return (
            f"how {form} will it be in {city.en} {when.en}",
            f"wie {adj} wird es {when.de} in {city.de} sein?",
            slots,
        )
    return (
        f"do i need an umbrella in {city.en} {when.en}",
        f"brauche ich {when.de} in {city.de} einen Regenschirm?",
        slots,
    )


def _world_time(c: Chooser) -> tuple[str, str, dict]:
    city = c.pick("city", CITIES)
    slots = {"city": city.en}
    form = c.pick("form", ("now", "what", "tell"))
    if form == "now":
        return (
            f"what time is it in {city.en} right now",
            f"wie spät ist es gerade in {city.de}?",
            slots,
        )
    if form == "what":
        return (
            f"what is the time in {city.en} at the moment",
            f"wie spät ist es im Moment in {city.de}?",
            slots,
        )
    return (
        f"please tell me the time in {city.en}",
        f"bitte sag mir die Uhrzeit in {city.de}.",
        slots,
    )


def _shopping(c: Chooser) -> tuple[str, str, dict]:
    items, plural = _items(c)
    en_items = " and ".join(i.en for i in items)
    de_items = " und ".join(i.de for i in items)
    slots = {"items": en_items}
    mine = c.chance("my", 0.5)
    list_en = "my shopping list" if mine else "the shopping list"
    form = c.pick("form", ("add", "put", "remove", "question", "need", "out"))
    if form == "add":
        goal = "zu meiner Einkaufsliste" if mine else "zur Einkaufsliste"
        return f"add {en_items} to {list_en}", f"füge {de_items} {goal} hinzu.", slots
    if form == "put":
        goal = "auf meine Einkaufsliste" if mine else "auf die Einkaufsliste"
        return f"put {en_items} on {list_en}", f"setz {de_items} {goal}.", slots
    if form == "remove":
        src = "von meiner Einkaufsliste" if mine else "von der Einkaufsliste"
        return f"remove {en_items} from {list_en}", f"entferne {de_items} {src}.", slots
    if form == "question":
        be_en = "are" if plural else "is"
        verb = "stehen" if plural else "steht"
        return (
            f"{be_en} {en_items} on my shopping list",
            f"{verb} {de_items} auf meiner Einkaufsliste?",
            slots,
        )
    if form == "need":
        return f"we need more {en_items}", f"wir brauchen mehr {de_items}.", slots
    none = " und ".join(
        de_.determiner("kein", i.gender, "acc", i.plural) + " " + i.de for i in items
    )
    return f"we are out of {en_items}", f"wir haben {none} mehr.", slots


def _reminder(c: Chooser) -> tuple[str, str, dict]:
    task = c.pick("task", TASKS)
    when = _when(c, ("at", "tomorrow at", "in", "on", "tomorrow", "tonight", "tomorrow morning"))
    slots = {"task": task.en, "time": when.value}
    please = c.chance("please", 0.25)
    de = _join("bitte" if please else "", f"erinnere mich {when.de} daran, {task.de}.")
    if c.chance("time_first", 0.4):
        en = _join("please" if please else "", f"remind me {when.en} to {task.en}")
    else:
        en = _join("please" if please else "", f"remind me to {task.en} {when.en}")
    return en, de, slots


def _calendar(c: Chooser) -> tuple[str, str, dict]:
    ev = c.pick("event", EVENTS)
    day = c.pick("day", DAYS)
    slots = {"event": ev.en, "day": day.en}
    a_en = f"{en_.a_an(ev.en)} {ev.en}"
    form = c.pick("form", ("have", "fronted", "add", "whats_on", "when", "cancel", "move"))
    if form in ("have", "fronted", "add"):
        t = _clock(c)
        slots["time"] = t.value
        a_de = _np(ev, "acc", det="ein")
        if form == "have":
            return (
                f"i have {a_en} on {day.en} at {t.en}",
                f"ich habe am {day.de} um {t.de} {a_de}.",
                slots,
            )
        if form == "fronted":
            return (
                f"on {day.en} i have {a_en} at {t.en}",
                f"am {day.de} habe ich um {t.de} {a_de}.",
                slots,
            )
        return (
            f"add {a_en} on {day.en} at {t.en} to my calendar",
            f"trage am {day.de} um {t.de} {a_de} in meinen Kalender ein.",
            slots,
        )
    if form == "whats_on":
        del slots["event"]
        return (
            f"what is on my calendar for {day.en}",
            f"was steht am {day.de} in meinem Kalender?",
            slots,
        )
    if form == "when":
        return (
            f"when is my {ev.en} on {day.en}",
            f"wann ist {_np(ev, 'nom', det='mein')} am {day.de}?",
            slots,
        )
    if form == "cancel":
        return (
            f"cancel my {ev.en} on {day.en}",
            f"sag {_np(ev, 'acc', det='mein')} am {day.de} ab.",
            slots,
        )
    return (
        f"move my {ev.en} to {day.en}",
        f"verschiebe {_np(ev, 'acc', det='mein')} auf {day.de}.",
        slots,
    )


def _object_np(c: Chooser, allow_count: bool = True) -> tuple[Noun, Any, bool, int | None, dict]:
    obj = c.pick("object", OBJECTS)
    colour = c.pick("colour", ADJ_COLOURS) if c.chance("adjective", 0.7) else None
    plural = c.chance("plural", 0.3)
    count = (
        c.pick("count", (2, 3, 4, 5))
        if plural and allow_count and c.chance("counted", 0.5)
        else None
    )
    slots = {"object": obj.en}
    if colour is not None:
        slots["colour"] = colour.en
    if count is not None:
        slots["count"] = en_.number(count)
    return obj, colour, plural, count, slots


def _en_obj(obj: Noun, colour: Any, plural: bool, count: int | None) -> str:
    return _join(
        en_.number(count) if count else "",
        colour.en if colour else "",
        obj.en_pl if plural else obj.en,
    )


def _move(c: Chooser) -> tuple[str, str, dict]:
    obj, colour, plural, count, slots = _object_np(c)
    dst = c.pick("room", ROOMS)
    goal = _goal(dst)
    slots["room"] = dst.en
    src = None
    if c.chance("from", 0.3):
        src = c.pick("source", [r for r in ROOMS if r is not dst])
        slots["source"] = src.en
    what_en = "the " + _en_obj(obj, colour, plural, count)
    what_de = de_.noun_phrase(obj, "acc", "def", plural, colour.de if colour else None, count)
    path_en = _join(_source(src).en if src else "", goal.en)
    path_de = _join(_source(src).de if src else "", goal.de)
    verb = c.pick("verb", ("move", "bring", "take"))
    form = c.pick("form", ("plain", "please", "could"))
    if form == "could":
        return (
            f"could you {verb} {what_en} {path_en}",
            f"kannst du {what_de} {path_de} bringen?",
            slots,
        )
    please = form == "please"
    return (
        _join("please" if please else "", f"{verb} {what_en} {path_en}"),
        _join("bitte" if please else "", f"bring {what_de} {path_de}."),
        slots,
    )


def _where(c: Chooser) -> tuple[str, str, dict]:
    form = c.pick("form", ("know", "tell", "is_in", "statement", "there_is", "how_many", "colour"))
    if form in ("there_is", "how_many"):
        obj = c.pick("object", OBJECTS)
        colour = c.pick("colour", ADJ_COLOURS) if c.chance("adjective", 0.7) else None
        room = c.pick("room", ROOMS)
        loc = _loc(room)
        slots = {"object": obj.en, "room": room.en}
        if colour is not None:
            slots["colour"] = colour.en
        adj = colour.de if colour else None
        if form == "how_many":
            what_de = de_.noun_phrase(obj, "nom", "none", True, adj)
            return (
                f"how many {_en_obj(obj, colour, True, None)} are {loc.en}",
                f"wie viele {what_de} sind {loc.de}?",
                slots,
            )
        n = c.pick("count", (1, 2, 3, 4, 5))
        slots["count"] = en_.number(n)
        what_de = de_.noun_phrase(obj, "acc", "none", n > 1, adj, n)
        if n == 1:
            en_obj = _en_obj(obj, colour, False, None)
            en = f"there is {en_.a_an(en_obj)} {en_obj} {loc.en}"
        else:
            en = f"there are {_en_obj(obj, colour, True, n)} {loc.en}"
        return en, f"{loc.de} gibt es {what_de}.", slots
    if form == "colour":
        obj = c.pick("object", OBJECTS)
        room = c.pick("room", ROOMS)
        loc = _loc(room)
        plural = c.chance("plural", 0.3)
        the_en = obj.en_pl if plural else obj.en
        return (
            f"what colour {'are' if plural else 'is'} the {the_en} {loc.en}",
            f"welche Farbe {'haben' if plural else 'hat'} "
            f"{de_.noun_phrase(obj, 'nom', 'def', plural)} {loc.de}?",
            {"object": obj.en, "room": room.en},
        )
    obj, colour, plural, _, slots = _object_np(c, allow_count=False)
    what_en = "the " + _en_obj(obj, colour, plural, None)
    what_de = de_.noun_phrase(obj, "nom", "def", plural, colour.de if colour else None)
    be_en, be_de = ("are", "sind") if plural else ("is", "ist")
    if form == "know":
        return f"do you know where {what_en} {be_en}", f"weißt du, wo {what_de} {be_de}?", slots
    if form == "tell":
        return (
            f"can you tell me where {what_en} {be_en}",
            f"kannst du mir sagen, wo {what_de} {be_de}?",
            slots,
        )
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    slots["room"] = room.en
    if form == "is_in":
        return f"{be_en} {what_en} {loc.en}", f"{be_de} {what_de} {loc.de}?", slots
    return f"{what_en} {be_en} {loc.en}", f"{what_de} {be_de} {loc.de}.", slots


def _possession(c: Chooser) -> tuple[str, str, dict]:
    p = c.pick("possession", POSSESSIONS)
    slots = {"possession": p.en}
    form = c.pick("form", ("left", "where", "seen", "is_in", "cannot_find", "think", "think_that"))
    acc = _np(p, "acc", det="mein")
    if form == "where":
        return f"where did i leave my {p.en}", f"wo habe ich {acc} liegen lassen?", slots
    if form == "seen":
        return f"have you seen my {p.en} anywhere", f"hast du irgendwo {acc} gesehen?", slots
    if form == "cannot_find":
        return f"i cannot find my {p.en}", f"ich kann {acc} nicht finden.", slots
    room = c.pick("room", ROOMS)
    loc = _loc(room)
    slots["room"] = room.en
    if form == "left":
        return f"i left my {p.en} {loc.en}", f"ich habe {acc} {loc.de} liegen lassen.", slots
    nom = _np(p, "nom", det="mein")
    be_en, be_de = _en_be(p), _de_be(p.de_plural)
    if form == "is_in":
        return f"my {p.en} {be_en} {loc.en}", f"{nom} {be_de} {loc.de}.", slots
    if form == "think":
        return f"i think my {p.en} {be_en} {loc.en}", f"ich glaube, {nom} {be_de} {loc.de}.", slots
    return (
        f"i think that my {p.en} {be_en} {loc.en}",
        f"ich glaube, dass {nom} {loc.de} {be_de}.",
        slots,
    )


def _chores(c: Chooser) -> tuple[str, str, dict]:
    chore = c.pick("chore", CHORES)
    room = c.pick("room", ROOMS)
    when = _when(c, ("today", "tomorrow", "on", "this weekend", "tonight"))
    slots = {"chore": chore.en, "room": room.en, "day": when.value}
    we = c.chance("we", 0.4)
    subj_en, subj_de, will_de = ("we", "wir", "werden") if we else ("i", "ich", "werde")
    obj_de = de_.noun_phrase(room, "acc")
    form = c.pick("form", ("fronted", "plain", "must"))
    if form == "fronted":
        return (
            f"{when.en} {subj_en} will {chore.en} the {room.en}",
            f"{when.de} {will_de} {subj_de} {obj_de} {chore.de}.",
            slots,
        )
    if form == "plain":
        return (
            f"{subj_en} will {chore.en} the {room.en} {when.en}",
            f"{subj_de} {will_de} {when.de} {obj_de} {chore.de}.",
            slots,
        )
    must = "müssen" if we else "muss"
    return (
        f"{subj_en} have to {chore.en} the {room.en} {when.en}",
        f"{subj_de} {must} {when.de} {obj_de} {chore.de}.",
        slots,
    )


Rule = Callable[[Chooser], tuple[str, str, dict]]

# family -> (weight, rule)
FAMILIES: dict[str, tuple[float, Rule]] = {
    "switch": (3.0, _switch),
    "status": (1.5, _status),
    "open_close": (2.0, _open_close),
    "lock": (1.0, _lock),
    "dim": (1.0, _dim),
    "light_colour": (1.0, _light_colour),
    "temperature": (1.5, _temperature),
    "timer": (1.5, _timer),
    "alarm": (1.5, _alarm),
    "arithmetic": (2.0, _arithmetic),
    "music": (2.0, _music),
    "weather": (1.5, _weather),
    "world_time": (0.5, _world_time),
    "shopping": (1.5, _shopping),
    "reminder": (1.5, _reminder),
    "calendar": (1.5, _calendar),
    "move": (2.0, _move),
    "where": (2.0, _where),
    "possession": (1.5, _possession),
    "chores": (1.0, _chores),
}


def _finish_de(de: str) -> str:
    mark = de[-1]
    return de_.sentence(de[:-1], mark)


def generate(
    family: str, fixed: Mapping[str, Any] | None = None, rng: random.Random | None = None
) -> Sentence:
    """One sentence of ``family``; ``fixed`` pins choices by name (see the rules).

    Without ``rng`` every choice the rule makes must be in ``fixed``.
    """
    if family not in FAMILIES:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    en, de, slots = FAMILIES[family][1](Chooser(rng, fixed))
    return Sentence(family, " ".join(en.split()), _finish_de(de), tuple(sorted(slots.items())))


def sample(rng: random.Random) -> Sentence:
    """A random sentence of MIN_WORDS..MAX_WORDS English words, families by weight."""
    names = list(FAMILIES)
    weights = [FAMILIES[n][0] for n in names]
    while True:
        s = generate(rng.choices(names, weights)[0], rng=rng)
        if MIN_WORDS <= len(s.en.split()) <= MAX_WORDS:
            return s


def is_heldout(s: Sentence, seed: int, fraction: float = HELDOUT_FRACTION) -> bool:
    """Whether the meaning of ``s`` (family + slot values) is held out of all training data.

    A stable hash of the meaning and the seed, so it does not depend on sampling order.
    """
    digest = hashlib.blake2b(f"{seed}|{s.key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < fraction * 10_000


def sample_many(
    n: int,
    rng: random.Random,
    seed: int,
    heldout: bool,
    exclude: set[str] | frozenset[str] = frozenset(),
    max_tries: int = 200,
) -> list[Sentence]:
    """``n`` sentences with distinct English texts, all held out (``heldout``) or none,
    none of whose English text is in ``exclude``."""
    out: list[Sentence] = []
    seen = set(exclude)
    tries = 0
    while len(out) < n:
        s = sample(rng)
        if is_heldout(s, seed) != heldout or s.en in seen:
            tries += 1
            if tries > max_tries * max(n, 1):
                raise RuntimeError(f"could not draw {n} distinct sentences (got {len(out)})")
            continue
        seen.add(s.en)
        out.append(s)
    return out
