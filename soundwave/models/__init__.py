"""Soundwave models: frozen Whisper encoder -> CTC alignment adapter -> shrinking bridge -> LLM.

One module per part: config, encoder, adapter, bridge, baselines, llm, soundwave (the
model: modules, forward, generate), stage_dir (the one reader and writer of stage dirs:
save, load, merged export), params (parameter reports), official (import of a released
checkpoint).  Which parameters a training stage trains is the trainer's business
(:func:`soundwave.train.stages.apply_stage`).
"""

from soundwave.models.config import OFFICIAL_SYSTEM_PROMPT, SoundwaveConfig
from soundwave.models.official import import_official
from soundwave.models.soundwave import AudioEncoding, SoundwaveModel

__all__ = [
    "OFFICIAL_SYSTEM_PROMPT",
    "AudioEncoding",
    "SoundwaveConfig",
    "SoundwaveModel",
    "import_official",
]
