"""Question / answer pairs and instructions for the synthetic corpus.

Every family has at least one meaningful question about its slots; the answer is the
slot's English value (``kitchen``, ``ten``, ``seven thirty``, ``milk and eggs``).  For
arithmetic the instruction is to answer the spoken question itself (``seven``).
"""

from __future__ import annotations

import random

from soundwave.offline.synth.grammar import Sentence

ANSWER_THE_QUESTION = "Answer the question in the audio."

_ROOM = ("room", "Which room does the speaker mention?")
_DAY = ("day", "Which day does the speaker mention?")
_CITY = ("city", "Which city does the speaker ask about?")
_COLOUR = ("colour", "Which colour does the speaker mention?")

# family -> (slot, question) candidates; a candidate applies when its slot is present
QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "switch": (
        _ROOM,
        ("device", "Which device should be switched?"),
        ("action", "Should the device be turned on or off?"),
        ("time", "When should the device be switched?"),
    ),
    "status": (
        _ROOM,
        ("device", "Which device does the speaker ask about?"),
        ("state", "Which state of the device does the speaker mention, on or off?"),
    ),
    "open_close": (
        _ROOM,
        ("thing", "What should be opened or closed?"),
        ("action", "Which action does the speaker ask for, open or close?"),
        ("state", "Does the speaker ask whether it is open or closed?"),
    ),
    "lock": (
        ("door", "Which door does the speaker mention?"),
        ("action", "Does the speaker want the door locked or unlocked?"),
        ("time", "When should it happen?"),
    ),
    "dim": (
        _ROOM,
        ("percent", "To what percentage should the light be dimmed?"),
        ("device", "Which light should be dimmed?"),
    ),
    "light_colour": (
        _ROOM,
        ("colour", "Which colour should the light be?"),
        ("device", "Which light does the speaker mention?"),
    ),
    "temperature": (
        _ROOM,
        ("degrees", "What temperature does the speaker ask for?"),
        ("direction", "Does the speaker want it warmer or cooler?"),
    ),
    "timer": (
        ("minutes", "How many minutes is the timer set for?"),
        ("seconds", "How many seconds does the speaker mention?"),
    ),
    "alarm": (
        ("time", "What time does the speaker mention?"),
        _DAY,
    ),
    "arithmetic": (("result", ANSWER_THE_QUESTION),),
    "music": (
        _ROOM,
        ("genre", "What kind of music does the speaker want?"),
        ("level", "What volume level does the speaker ask for?"),
        ("direction", "Should the music be louder or quieter?"),
    ),
    "weather": (_CITY, ("day", "For when does the speaker ask about the weather?")),
    "world_time": (_CITY,),
    "shopping": (("items", "Which items does the speaker mention?"),),
    "reminder": (
        ("task", "What does the speaker want to be reminded to do?"),
        ("time", "When should the reminder go off?"),
    ),
    "calendar": (
        ("event", "What kind of appointment does the speaker mention?"),
        _DAY,
        ("time", "At what time is the appointment?"),
    ),
    "move": (
        ("object", "Which object should be moved?"),
        ("room", "Where should it be moved to?"),
        ("source", "Which room should it be taken from?"),
        _COLOUR,
        ("count", "How many objects does the speaker mention?"),
    ),
    "where": (
        ("object", "Which object does the speaker mention?"),
        _ROOM,
        _COLOUR,
        ("count", "How many objects does the speaker mention?"),
    ),
    "possession": (
        ("possession", "Which personal item does the speaker mention?"),
        _ROOM,
    ),
    "chores": (
        _ROOM,
        ("chore", "What does the speaker plan to do to the room?"),
        ("day", "When will the work be done?"),
    ),
}


def candidates(s: Sentence) -> list[tuple[str, str]]:
    """All (question, answer) pairs that apply to ``s``."""
    slots = s.slot
    return [(q, slots[name]) for name, q in QUESTIONS[s.family] if name in slots]


def pick(s: Sentence, rng: random.Random) -> tuple[str, str]:
    """One (question, answer) pair for ``s``."""
    pairs = candidates(s)
    if not pairs:  # every rule sets at least one of its slots; keep a clear failure
        raise ValueError(f"no question applies to {s.key}")
    return rng.choice(pairs)
