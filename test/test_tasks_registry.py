"""Task registry: instructions, targets, text-only prompts, lhotse field flattening."""

import random

import pytest
from lhotse import MonoCut, SupervisionSegment

from soundwave.errors import UserError
from soundwave.tasks import (
    Task,
    cut_fields,
    get_task,
    list_tasks,
    normalize_label,
    register_task,
    registry,
)


def make_cut(cut_id="spk1-u1", text="hello world", custom=None, gender=None, language="en"):
    sup = SupervisionSegment(
        id=cut_id,
        recording_id=cut_id,
        start=0.0,
        duration=1.0,
        text=text,
        language=language,
        speaker="spk1",
        gender=gender,
        custom=custom,
    )
    return MonoCut(id=cut_id, start=0.0, duration=1.0, channel=0, supervisions=[sup])


def test_builtin_tasks_are_registered():
    assert {"asr", "gender", "emotion", "sound_event", "qa"} <= set(list_tasks())
    assert get_task("asr").metric == "wer"
    assert get_task("gender").metric == "accuracy"
    assert len({get_task("asr"), get_task("gender")}) == 2  # tasks are hashable


def test_asr_instruction_fixed_for_eval_and_varied_for_training():
    asr = get_task("asr")
    assert asr.instruction({}) == "Transcribe the speech."
    assert len(asr.instructions) >= 5
    rng = random.Random(0)
    drawn = {asr.instruction({}, rng) for _ in range(200)}
    assert drawn == set(asr.instructions)
    assert asr.target({"text": "hello world"}) == "hello world"
    assert asr.target({"text": "  "}) is None
    assert asr.target({}) is None


def test_speech_translation_factory():
    st = get_task("st_en_de")
    assert st.instruction({}) == "Translate the speech into German."
    assert st.metric == "bleu"
    assert st.target({"text": "hi", "text.de": "hallo"}) == "hallo"
    assert st.target({"text": "hi"}) is None  # no translation: task not applicable
    # the source language must match when the utterance says which it is
    assert st.target({"text.de": "hallo", "language": "English"}) == "hallo"
    assert st.target({"text.de": "hallo", "language": "fr"}) is None
    assert get_task("st_fr_en").instruction({}) == "Translate the speech into English."
    assert "French" in " ".join(get_task("st_fr_en").instructions)


def test_unknown_task_lists_known_names():
    with pytest.raises(UserError) as err:
        get_task("asrr")
    message = str(err.value)
    assert "unknown task 'asrr'" in message
    assert "asr, " in message and "gender" in message and "st_<src>_<tgt>" in message
    with pytest.raises(UserError, match="unknown task 'st_en_xx'"):
        get_task("st_en_xx")


def test_gender_labels_are_normalised():
    gender = get_task("gender")
    assert gender.instruction({}) == "What is the gender of the speaker? Answer male or female."
    assert gender.target({"gender": "M"}) == "male"
    assert gender.target({"gender": "Female."}) == "female"
    assert gender.target({"gender": "unknown"}) is None
    assert gender.target({}) is None


def test_classification_label_fields():
    assert normalize_label(" Dog_Bark. ") == "dog bark"
    emotion = get_task("emotion")
    assert emotion.target({"emotion": "HAP"}) == "happy"
    assert emotion.target({"label": "Sad"}) == "sad"  # generic utt2label fallback
    sound = get_task("sound_event")
    assert sound.target({"sound_event": "crying_baby"}) == "crying baby"


def test_qa_uses_per_utterance_question():
    qa = get_task("qa")
    fields = {"text": "the cat sat", "question": "Where did the cat sit?", "answer": "on the mat"}
    assert qa.instruction(fields) == "Where did the cat sit?"
    assert qa.instruction(fields, random.Random(1)) == "Where did the cat sit?"
    assert qa.target(fields) == "on the mat"
    assert qa.target({"answer": "x"}) is None  # no question: not applicable
    with pytest.raises(UserError, match="no 'question' field"):
        qa.instruction({"id": "u1"})


def test_text_prompts():
    fields = {"text": "good morning", "text.de": "guten Morgen", "gender": "m"}
    assert get_task("asr").text_prompt(fields) == "Repeat the following text exactly:\ngood morning"
    assert (
        get_task("st_en_de").text_prompt(fields)
        == "Translate the following text into German:\ngood morning"
    )
    assert get_task("gender").text_prompt(fields) is None  # not answerable from words
    assert get_task("st_en_de").text_prompt({"text": "x"}) is None  # no target
    qa = {"text": "it rained", "question": "What was the weather?", "answer": "rain"}
    assert get_task("qa").text_prompt(qa) == "it rained\n\nWhat was the weather?"
    asr = get_task("asr")
    prompts = {asr.text_prompt(fields, random.Random(k)) for k in range(200)}
    instruction_first = {p for p in prompts if p.endswith("good morning")}
    assert len(instruction_first) == len(asr.text_instructions) - 1
    # the speech prompt's layout: the text, then one of the spoken-task instructions
    text_first = prompts - instruction_first
    assert text_first and text_first <= {f"good morning\n{i}" for i in asr.instructions}


def test_register_task(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # keep others clean
    task = Task(
        name="test_keyword",
        instructions=("Say the keyword.",),
        metric="accuracy",
        target_fields=("keyword",),
    )
    register_task(task)
    register_task(task)  # the same definition again is fine
    assert get_task("test_keyword").target({"keyword": "Yes!"}) == "yes"
    with pytest.raises(ValueError, match="already registered"):
        register_task(Task(name="test_keyword", instructions=("x",), metric="wer"))
    with pytest.raises(ValueError, match="metric"):
        Task(name="bad", instructions=("x",), metric="rouge")


def test_cut_fields_flattens_supervision():
    cut = make_cut(custom={"text.de": "hallo welt", "emotion": "neu"}, gender="f")
    cut.custom = {"task": "asr", "emotion": "ignored"}
    fields = cut_fields(cut)
    assert fields == {
        "id": "spk1-u1",
        "text": "hello world",
        "language": "en",
        "speaker": "spk1",
        "gender": "f",
        "text.de": "hallo welt",
        "emotion": "neu",  # the supervision wins over the cut's custom
        "task": "asr",
    }
    assert get_task("gender").target(fields) == "female"
    assert get_task("emotion").target(fields) == "neutral"
    assert get_task("st_en_de").target(fields) == "hallo welt"
    bare = MonoCut(id="x", start=0.0, duration=1.0, channel=0, supervisions=[])
    assert cut_fields(bare) == {"id": "x"}
