"""The bilingual (English -> German) lexicon of the synthetic command grammar.

Every entry carries what both languages need: English singular / plural, German noun
with gender and plural, and for rooms the prepositions (``in the kitchen`` / ``in der
Küche``, ``on the balcony`` / ``auf dem Balkon``).  ``en`` is also the entry's name in
slots, QA answers and test overrides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    """A noun in both languages.

    ``en_plural`` / ``de_plural`` say that the form in ``en`` / ``de`` is grammatically
    plural (``keys``, ``die Vorhänge``) for nouns used in one number only; nouns that
    take both numbers have ``en_pl`` / ``de_pl`` instead.
    """

    en: str
    de: str
    gender: str
    en_pl: str | None = None
    de_pl: str | None = None
    en_plural: bool = False
    de_plural: bool = False


@dataclass(frozen=True)
class Room(Noun):
    en_prep: str = "in"  # in the kitchen / on the balcony
    de_prep: str = "in"  # in der Küche / auf dem Balkon (location: dative, goal: accusative)
    de_from: str = "aus"  # aus der Küche / vom Balkon


@dataclass(frozen=True)
class Device(Noun):
    dimmable: bool = False  # lights and lamps: dim, colour
    finishes: bool = False  # appliances that run a programme: "is the dishwasher finished"


@dataclass(frozen=True)
class Word:
    """A pair of words or phrases without morphology (colours as nouns, genres, cities)."""

    en: str
    de: str
    plural: bool = False  # for shopping items: "eggs are" / "Eier stehen"
    gender: str = "n"  # German gender where an article or "kein" is needed


@dataclass(frozen=True)
class Colour:
    en: str
    de: str  # adjective stem, lower case: rot -> der rote Stuhl, auf Rot
    declinable: bool = True  # lila / rosa / orange are used only uninflected


@dataclass(frozen=True)
class Task:
    """A reminder task: English verb phrase, German zu-infinitive clause."""

    en: str
    de: str


def _pl(en: str, de: str, gender: str = "m") -> Noun:
    """A noun used only in the plural in both languages."""
    return Noun(en, de, gender, en_pl=en, de_pl=de, en_plural=True, de_plural=True)


ROOMS = (
    Room("kitchen", "Küche", "f"),
    Room("living room", "Wohnzimmer", "n"),
    Room("bedroom", "Schlafzimmer", "n"),
    Room("bathroom", "Badezimmer", "n"),
    Room("dining room", "Esszimmer", "n"),
    Room("office", "Büro", "n"),
    Room("guest room", "Gästezimmer", "n"),
    Room("nursery", "Kinderzimmer", "n"),
    Room("study", "Arbeitszimmer", "n"),
    Room("garage", "Garage", "f"),
    Room("laundry room", "Waschküche", "f"),
    Room("hallway", "Flur", "m"),
    Room("basement", "Keller", "m"),
    Room("garden", "Garten", "m"),
    Room("attic", "Dachboden", "m", de_prep="auf", de_from="von"),
    Room("balcony", "Balkon", "m", en_prep="on", de_prep="auf", de_from="von"),
)

# switchable devices; "lights" is the idiomatic "das Licht" in German
DEVICES = (
    Device("lights", "Licht", "n", en_plural=True, dimmable=True),
    Device("light", "Licht", "n", dimmable=True),
    Device("lamp", "Lampe", "f", dimmable=True),
    Device("ceiling light", "Deckenlampe", "f", dimmable=True),
    Device("reading lamp", "Leselampe", "f", dimmable=True),
    Device("fan", "Ventilator", "m"),
    Device("heater", "Heizung", "f"),
    Device("radio", "Radio", "n"),
    Device("television", "Fernseher", "m"),
    Device("air conditioning", "Klimaanlage", "f"),
    Device("coffee machine", "Kaffeemaschine", "f"),
    Device("dishwasher", "Spülmaschine", "f", finishes=True),
    Device("washing machine", "Waschmaschine", "f", finishes=True),
    Device("dryer", "Trockner", "m", finishes=True),
    Device("oven", "Ofen", "m"),
    Device("computer", "Computer", "m"),
    Device("printer", "Drucker", "m"),
    Device("vacuum cleaner", "Staubsauger", "m"),
    Device("kettle", "Wasserkocher", "m"),
    Device("microwave", "Mikrowelle", "f"),
)

# things that open and close; English and German number differ for none of them
OPENABLES = (
    Noun("window", "Fenster", "n"),
    Noun("door", "Tür", "f"),
    _pl("windows", "Fenster", "n"),
    _pl("curtains", "Vorhänge"),
    _pl("blinds", "Jalousien", "f"),
    _pl("shutters", "Rollläden"),
)

LOCKABLES = (
    Noun("front door", "Haustür", "f"),
    Noun("back door", "Hintertür", "f"),
    Noun("side door", "Seitentür", "f"),
    Noun("garage door", "Garagentor", "n"),
    Noun("garden gate", "Gartentor", "n"),
)

COLOURS = (
    Colour("red", "rot"),
    Colour("blue", "blau"),
    Colour("green", "grün"),
    Colour("yellow", "gelb"),
    Colour("white", "weiß"),
    Colour("black", "schwarz"),
    Colour("grey", "grau"),
    Colour("brown", "braun"),
    Colour("orange", "orange", declinable=False),
    Colour("purple", "lila", declinable=False),
    Colour("pink", "rosa", declinable=False),
)
ADJ_COLOURS = tuple(c for c in COLOURS if c.declinable)
LIGHT_COLOURS = tuple(c for c in COLOURS if c.en not in ("black", "grey", "brown"))

# movable objects, both numbers
OBJECTS = (
    Noun("chair", "Stuhl", "m", "chairs", "Stühle"),
    Noun("table", "Tisch", "m", "tables", "Tische"),
    Noun("box", "Kiste", "f", "boxes", "Kisten"),
    Noun("lamp", "Lampe", "f", "lamps", "Lampen"),
    Noun("sofa", "Sofa", "n", "sofas", "Sofas"),
    Noun("plant", "Pflanze", "f", "plants", "Pflanzen"),
    Noun("basket", "Korb", "m", "baskets", "Körbe"),
    Noun("cup", "Tasse", "f", "cups", "Tassen"),
    Noun("book", "Buch", "n", "books", "Bücher"),
    Noun("bag", "Tasche", "f", "bags", "Taschen"),
    Noun("ball", "Ball", "m", "balls", "Bälle"),
    Noun("bottle", "Flasche", "f", "bottles", "Flaschen"),
    Noun("pillow", "Kissen", "n", "pillows", "Kissen"),
    Noun("blanket", "Decke", "f", "blankets", "Decken"),
    Noun("shelf", "Regal", "n", "shelves", "Regale"),
    Noun("mirror", "Spiegel", "m", "mirrors", "Spiegel"),
    Noun("clock", "Uhr", "f", "clocks", "Uhren"),
    Noun("rug", "Teppich", "m", "rugs", "Teppiche"),
    Noun("bicycle", "Fahrrad", "n", "bicycles", "Fahrräder"),
    Noun("suitcase", "Koffer", "m", "suitcases", "Koffer"),
    Noun("vase", "Vase", "f", "vases", "Vasen"),
    Noun("bucket", "Eimer", "m", "buckets", "Eimer"),
)

# personal belongings: one number each; glasses are plural in English, singular in German
POSSESSIONS = (
    _pl("keys", "Schlüssel"),
    Noun("phone", "Handy", "n"),
    Noun("wallet", "Geldbeutel", "m"),
    Noun("glasses", "Brille", "f", en_plural=True),
    Noun("sunglasses", "Sonnenbrille", "f", en_plural=True),
    Noun("jacket", "Jacke", "f"),
    Noun("umbrella", "Regenschirm", "m"),
    Noun("laptop", "Laptop", "m"),
    _pl("headphones", "Kopfhörer"),
    Noun("watch", "Uhr", "f"),
    Noun("backpack", "Rucksack", "m"),
    Noun("charger", "Ladegerät", "n"),
    Noun("passport", "Reisepass", "m"),
    Noun("tablet", "Tablet", "n"),
)

GENRES = (
    Word("jazz", "Jazz"),
    Word("rock music", "Rockmusik"),
    Word("classical music", "klassische Musik"),
    Word("pop music", "Popmusik"),
    Word("blues", "Blues"),
    Word("reggae", "Reggae"),
    Word("country music", "Countrymusik"),
    Word("hip hop", "Hip-Hop"),
    Word("techno", "Techno"),
    Word("soul music", "Soulmusik"),
    Word("piano music", "Klaviermusik"),
    Word("opera", "Oper"),
)

CITIES = (
    Word("berlin", "Berlin"),
    Word("paris", "Paris"),
    Word("london", "London"),
    Word("munich", "München"),
    Word("vienna", "Wien"),
    Word("rome", "Rom"),
    Word("madrid", "Madrid"),
    Word("hamburg", "Hamburg"),
    Word("cologne", "Köln"),
    Word("zurich", "Zürich"),
    Word("amsterdam", "Amsterdam"),
    Word("prague", "Prag"),
    Word("new york", "New York"),
    Word("tokyo", "Tokio"),
    Word("lisbon", "Lissabon"),
    Word("warsaw", "Warschau"),
)

# shopping items (no article in either language; "kein" needs the gender)
ITEMS = (
    Word("milk", "Milch", gender="f"),
    Word("bread", "Brot", gender="n"),
    Word("eggs", "Eier", plural=True),
    Word("butter", "Butter", gender="f"),
    Word("cheese", "Käse", gender="m"),
    Word("apples", "Äpfel", plural=True),
    Word("coffee", "Kaffee", gender="m"),
    Word("rice", "Reis", gender="m"),
    Word("sugar", "Zucker", gender="m"),
    Word("tomatoes", "Tomaten", plural=True),
    Word("bananas", "Bananen", plural=True),
    Word("potatoes", "Kartoffeln", plural=True),
    Word("flour", "Mehl", gender="n"),
    Word("orange juice", "Orangensaft", gender="m"),
    Word("tea", "Tee", gender="m"),
    Word("pasta", "Nudeln", plural=True),
    Word("onions", "Zwiebeln", plural=True),
    Word("carrots", "Karotten", plural=True),
    Word("yogurt", "Joghurt", gender="m"),
    Word("honey", "Honig", gender="m"),
    Word("salt", "Salz", gender="n"),
    Word("chocolate", "Schokolade", gender="f"),
    Word("oranges", "Orangen", plural=True),
)

TASKS = (
    Task("call my mother", "meine Mutter anzurufen"),
    Task("call my brother", "meinen Bruder anzurufen"),
    Task("call my sister", "meine Schwester anzurufen"),
    Task("water the plants", "die Pflanzen zu gießen"),
    Task("take out the trash", "den Müll rauszubringen"),
    Task("feed the cat", "die Katze zu füttern"),
    Task("walk the dog", "mit dem Hund spazieren zu gehen"),
    Task("buy milk", "Milch zu kaufen"),
    Task("pay the bills", "die Rechnungen zu bezahlen"),
    Task("take my medicine", "meine Medikamente zu nehmen"),
    Task("do the laundry", "die Wäsche zu waschen"),
    Task("book a table", "einen Tisch zu reservieren"),
    Task("get the mail", "die Post zu holen"),
    Task("charge my phone", "mein Handy aufzuladen"),
)

# appointments: German noun with gender for "eine Besprechung" / "meinen Zahnarzttermin"
EVENTS = (
    Noun("meeting", "Besprechung", "f"),
    Noun("team meeting", "Teambesprechung", "f"),
    Noun("dentist appointment", "Zahnarzttermin", "m"),
    Noun("hair appointment", "Friseurtermin", "m"),
    Noun("job interview", "Vorstellungsgespräch", "n"),
    Noun("piano lesson", "Klavierstunde", "f"),
    Noun("yoga class", "Yogakurs", "m"),
    Noun("video call", "Videoanruf", "m"),
    Noun("football game", "Fußballspiel", "n"),
)

DAYS = (
    Word("monday", "Montag"),
    Word("tuesday", "Dienstag"),
    Word("wednesday", "Mittwoch"),
    Word("thursday", "Donnerstag"),
    Word("friday", "Freitag"),
    Word("saturday", "Samstag"),
    Word("sunday", "Sonntag"),
)

# chores on a room: English verb, German infinitive (object precedes it)
CHORES = (
    Word("clean", "putzen"),
    Word("paint", "streichen"),
    Word("tidy up", "aufräumen"),
    Word("vacuum", "staubsaugen"),
    Word("decorate", "dekorieren"),
)
