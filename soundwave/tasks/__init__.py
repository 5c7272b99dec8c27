"""Tasks (instructions, targets, metrics) and the data mixture over (dataset, task) pairs."""

from soundwave.tasks.mixing import (
    MixedSampler,
    MixtureEntry,
    MixtureSpec,
    temperature_probabilities,
)
from soundwave.tasks.registry import (
    LANGUAGES,
    Task,
    cut_fields,
    get_task,
    list_tasks,
    normalize_label,
    register_task,
    speech_translation,
)

__all__ = [
    "LANGUAGES",
    "MixedSampler",
    "MixtureEntry",
    "MixtureSpec",
    "Task",
    "cut_fields",
    "get_task",
    "list_tasks",
    "normalize_label",
    "register_task",
    "speech_translation",
    "temperature_probabilities",
]
