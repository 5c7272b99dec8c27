"""Task and prompt registry: what the model is asked and what it must answer.

A training example is an utterance plus a task.  The utterance is described by a flat
``fields`` dict (see :func:`cut_fields`): ``text`` (the transcript), ``language``,
``speaker``, ``gender`` and every key of the supervision's ``custom`` dict, named after
the Kaldi data-dir file it came from (``text.de`` for a German translation, ``question``,
``answer``, ``label``, ``emotion``, ``sound_event`` …).

A :class:`Task` turns those fields into

- an **instruction** (the user turn after the audio): a random phrasing for training,
  ``instructions[0]`` for evaluation; for QA it is the utterance's own ``question``;
- a **target** (the assistant turn), or ``None`` when the utterance lacks what the task
  needs (no translation, no label …): such utterances are skipped for that task;
- optionally a **text-only prompt** (:meth:`Task.text_prompt`) for LLM pretraining on
  text: the transcript stands in for the audio, e.g. ASR becomes
  "Repeat the following text exactly:\\n<text>" with the same target.  Tasks whose
  answer cannot be read from the words (gender, emotion, sound events) have none.

Built-in tasks: ``asr``, ``st_<src>_<tgt>`` (made on demand for any pair of the codes in
:data:`LANGUAGES`, target field ``text.<tgt>``), ``gender``, ``emotion``, ``sound_event``
and ``qa``.  Register new ones with :func:`register_task`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from soundwave.errors import UserError

METRICS = ("wer", "cer", "bleu", "chrf", "accuracy", "exact_match")

#: Language codes accepted in ``st_<src>_<tgt>`` task names (CoVoST 2 and a few more).
LANGUAGES: dict[str, str] = {
    "ar": "Arabic",
    "ca": "Catalan",
    "cy": "Welsh",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fr": "French",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lv": "Latvian",
    "mn": "Mongolian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "sl": "Slovenian",
    "sv": "Swedish",
    "ta": "Tamil",
    "tr": "Turkish",
    "zh": "Chinese",
}


def normalize_label(value: Any) -> str:
    """Canonical form of a class label: lower case, ``_`` as space, single spaces,
    no surrounding punctuation ("Dog_Bark." -> "dog bark")."""
    text = " ".join(str(value).replace("_", " ").split()).lower()
    return text.strip(" .,!?;:\"'")


@dataclass(frozen=True)
class Task:
    """One task: instruction phrasings, where its target lives, how it is scored.

    ``target_fields`` are tried in order; the first non-empty one is the target.
    ``instruction_field`` (QA) takes the instruction from the utterance instead of
    ``instructions``.  Classification tasks (metric ``accuracy``) have their target
    passed through :func:`normalize_label`, then ``label_aliases`` (normalised label ->
    canonical label); ``labels``, when set, lists the allowed canonical labels (others
    make the task not applicable).  ``text_instructions`` are templates with ``{text}`` (the
    transcript) and ``{instruction}`` for the text-only variant.  ``source_language``
    (ST) makes the task inapplicable to utterances whose ``language`` field says
    otherwise; ``target_language`` (ST) is the language of the answer (its BLEU
    tokenizer depends on it: :func:`soundwave.score.metrics.bleu_tokenize_for`).
    """

    name: str
    instructions: tuple[str, ...]
    metric: str
    target_fields: tuple[str, ...] = ("text",)
    instruction_field: str | None = None
    text_instructions: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    label_aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    source_language: str | None = None
    target_language: str | None = None

    def __post_init__(self) -> None:
        if not self.instructions and self.instruction_field is None:
            raise ValueError(f"task {self.name!r} needs instructions or an instruction_field")
        if self.metric not in METRICS:
            raise ValueError(f"task {self.name!r}: metric {self.metric!r} not in {METRICS}")

    @property
    def is_classification(self) -> bool:
        """Classification tasks (metric ``accuracy``) get normalised label targets."""
        return self.metric == "accuracy"

    def instruction(self, fields: Mapping[str, Any], rng: random.Random | None = None) -> str:
        """The instruction text; ``rng=None`` gives the fixed evaluation phrasing."""
        if self.instruction_field is not None:
            value = _field(fields, self.instruction_field)
            if value is None:
                raise UserError(
                    f"task {self.name!r}: utterance {fields.get('id', '?')!r} has no "
                    f"{self.instruction_field!r} field"
                )
            return value
        return self.instructions[0] if rng is None else rng.choice(self.instructions)

    def target(self, fields: Mapping[str, Any]) -> str | None:
        """The expected answer, or ``None`` when the task does not apply to this utterance."""
        if self.instruction_field is not None and _field(fields, self.instruction_field) is None:
            return None
        if self.source_language is not None and not _language_matches(
            fields.get("language"), self.source_language
        ):
            return None
        value = next((v for f in self.target_fields if (v := _field(fields, f)) is not None), None)
        if value is None or not self.is_classification:
            return value
        label = normalize_label(value)
        label = self.label_aliases.get(label, label)
        if self.labels is not None and label not in self.labels:
            return None
        return label or None

    def text_prompt(
        self, fields: Mapping[str, Any], rng: random.Random | None = None
    ) -> str | None:
        """The text-only prompt (transcript in place of the audio), or ``None`` when the
        task has no text variant or the utterance lacks a transcript or a target.
        The expected answer is :meth:`target` as for speech."""
        text = _field(fields, "text")
        if not self.text_instructions or text is None or self.target(fields) is None:
            return None
        template = self.text_instructions[0] if rng is None else rng.choice(self.text_instructions)
        instruction = self.instruction(fields, rng) if "{instruction}" in template else ""
        return template.format(text=text, instruction=instruction)


def _field(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _language_matches(language: Any, code: str) -> bool:
    if language is None or str(language).strip() == "":
        return True  # unknown language: trust the data config
    lang = str(language).strip().lower()
    return lang in (code, LANGUAGES.get(code, code).lower()) or lang.split("-")[0] == code


_REGISTRY: dict[str, Task] = {}
_ST_NAME = re.compile(r"^st_([a-z]{2,3})_([a-z]{2,3})$")


def register_task(task: Task) -> None:
    """Add a task; registering a different task under a taken name is an error."""
    old = _REGISTRY.get(task.name)
    if old is not None and old != task:
        raise ValueError(f"task {task.name!r} is already registered")
    _REGISTRY[task.name] = task


def get_task(name: str) -> Task:
    """The task called ``name``; ``st_<src>_<tgt>`` tasks are made on first use."""
    task = _REGISTRY.get(name)
    if task is not None:
        return task
    match = _ST_NAME.match(name)
    if match and all(code in LANGUAGES for code in match.groups()):
        task = speech_translation(*match.groups())
        register_task(task)
        return task
    known = ", ".join(sorted(_REGISTRY))
    codes = ",".join(sorted(LANGUAGES))
    raise UserError(
        f"unknown task {name!r}; known tasks: {known}, st_<src>_<tgt> (src, tgt in {codes})"
    )


def list_tasks() -> list[str]:
    """Names of the registered tasks (``st_*`` ones only once used)."""
    return sorted(_REGISTRY)


def built_in_tasks() -> list[str]:
    """The registered tasks less the ``st_<src>_<tgt>`` ones made on first use: the same
    list whatever the process has asked for before."""
    return [name for name in list_tasks() if not _ST_NAME.match(name)]


def speech_translation(src: str, tgt: str) -> Task:
    """Speech translation from ``src`` speech to ``tgt`` text (target field ``text.<tgt>``)."""
    for code in (src, tgt):
        if code not in LANGUAGES:
            raise UserError(
                f"unknown language code {code!r}; known: {', '.join(sorted(LANGUAGES))}"
            )
    if src == tgt:
        raise UserError(f"st_{src}_{tgt}: source and target language are the same; use asr")
    names = {"{src}": LANGUAGES[src], "{tgt}": LANGUAGES[tgt]}

    def fill(templates: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for template in templates:
            for key, value in names.items():
                template = template.replace(key, value)
            out.append(template)
        return tuple(out)

    return Task(
        name=f"st_{src}_{tgt}",
        instructions=fill(
            (
                "Translate the speech into {tgt}.",
                "Translate the {src} speech into {tgt}.",
                "Listen to the audio and give its {tgt} translation.",
                "What is the {tgt} translation of what the speaker says?",
                "Please translate the spoken {src} into {tgt} text.",
            )
        ),
        metric="bleu",
        target_fields=(f"text.{tgt}",),
        text_instructions=fill(
            (
                "Translate the following text into {tgt}:\n{text}",
                "Translate this {src} text into {tgt}:\n{text}",
                # the speech prompt's layout (audio, then the spoken-task instruction):
                # the text skill the bridge must let carry over to speech
                "{text}\n{instruction}",
            )
        ),
        source_language=src,
        target_language=tgt,
    )


_GENDER_ALIASES = {"m": "male", "man": "male", "f": "female", "woman": "female"}

for _task in (
    Task(
        name="asr",
        instructions=(
            "Transcribe the speech.",
            "Please transcribe the audio into text.",
            "Write down exactly what is said in the audio.",
            "Convert the speech to text.",
            "What does the speaker say? Give the exact transcript.",
            "Recognize the speech and output the transcript.",
        ),
        metric="wer",
        text_instructions=(
            "Repeat the following text exactly:\n{text}",
            "Copy this text word for word:\n{text}",
            "Write the following sentence again:\n{text}",
            "{text}\n{instruction}",  # the speech prompt's layout
        ),
    ),
    Task(
        name="gender",
        instructions=(
            "What is the gender of the speaker? Answer male or female.",
            "Is the speaker male or female?",
            "Identify the speaker's gender. Answer male or female.",
            "Is this a male or a female voice?",
        ),
        metric="accuracy",
        target_fields=("gender",),
        labels=("male", "female"),
        label_aliases=_GENDER_ALIASES,
    ),
    Task(
        name="emotion",
        instructions=(
            "What emotion does the speaker express? Answer with one word.",
            "Recognize the emotion in the speech. Answer with one word.",
            "How does the speaker feel? Name the emotion in one word.",
            "Classify the emotion of this utterance.",
        ),
        metric="accuracy",
        target_fields=("emotion", "label"),
        # IEMOCAP-style abbreviations
        label_aliases={"neu": "neutral", "hap": "happy", "ang": "angry", "exc": "excited"},
    ),
    Task(
        name="sound_event",
        instructions=(
            "What sound event is heard in the audio? Answer with a short label.",
            "Identify the sound in this audio clip.",
            "Classify the sound event in the audio.",
            "What is making this sound? Give a short label.",
        ),
        metric="accuracy",
        target_fields=("sound_event", "label"),
    ),
    Task(
        name="qa",
        instructions=(),
        metric="exact_match",
        target_fields=("answer",),
        instruction_field="question",
        text_instructions=("{text}\n\n{instruction}",),
    ),
):
    register_task(_task)


def cut_fields(cut: Any) -> dict[str, Any]:
    """Flatten a lhotse cut into a task ``fields`` dict.

    ``id`` is the cut id; ``text``, ``language``, ``speaker``, ``gender`` and the
    ``custom`` keys come from the first supervision; keys of the cut's own ``custom``
    dict fill what the supervision does not set.  ``None`` values are left out.
    """
    fields: dict[str, Any] = {"id": cut.id}
    supervisions = getattr(cut, "supervisions", None) or []
    if supervisions:
        sup = supervisions[0]
        for key in ("text", "language", "speaker", "gender"):
            value = getattr(sup, key, None)
            if value is not None:
                fields[key] = value
        fields.update({k: v for k, v in (sup.custom or {}).items() if v is not None})
    for key, value in (getattr(cut, "custom", None) or {}).items():
        if value is not None:
            fields.setdefault(key, value)
    return fields
