"""Soundwave models: frozen Whisper encoder -> CTC alignment adapter -> shrinking bridge -> LLM.

One module per part: config, encoder, adapter, bridge, baselines, llm, soundwave (the
model), checkpoint (stage save/load, export, parameter report), official (import of a
released checkpoint), tiny (random tiny models for tests and offline recipes).
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
