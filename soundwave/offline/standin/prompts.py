"""Prompts of the text-only tasks: the system text and the user turn, from the task registry.

A text record ``{"task", "input", "target", ...}`` is mapped onto the registry's
``fields`` (``input`` is the transcript ``text``; ``target`` fills the task's first
target field, e.g. ``text.de`` for ``st_en_de``; any other keys, such as QA's
``question``, pass through), so the instruction phrasings and text-only templates are the
ones the speech tasks use.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from soundwave.errors import UserError
from soundwave.models.config import OFFICIAL_SYSTEM_PROMPT as SYSTEM_PROMPT
from soundwave.tasks.registry import built_in_tasks, get_task

__all__ = ["LM_TASK", "SYSTEM_PROMPT", "task_phrasings", "user_prompt"]

LM_TASK = "lm"  # plain text: the whole text is the label, no chat format
# Short names a corpus may use; the default recipe translates English into German.
TASK_ALIASES = {"st": "st_en_de"}
_RECORD_KEYS = ("task", "input", "target")


def record_fields(record: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registry task name and ``fields`` dict of a text record."""
    name = TASK_ALIASES.get(record["task"], record["task"])
    task = get_task(name)
    fields = {k: v for k, v in record.items() if k not in _RECORD_KEYS}
    fields.setdefault("text", record["input"])
    fields.setdefault(task.target_fields[0], record["target"])
    return name, fields


def user_prompt(record: Mapping[str, Any], rng: random.Random) -> str:
    """The user turn of the text-only version of ``record``: one of its task's text
    templates (drawn with ``rng``) filled with the input (and, for QA, the question)."""
    name, fields = record_fields(record)
    prompt = get_task(name).text_prompt(fields, rng)
    if prompt is None:
        needs = get_task(name).instruction_field
        raise UserError(
            f"task {name!r} has no text-only prompt for this record"
            + (f" (it needs a {needs!r} field)" if needs else "")
        )
    return prompt


CHAT_ROLES = ("system", "user", "assistant")


def task_phrasings(task_names: Iterable[str] = (), system_prompt: str | None = None) -> list[str]:
    """The chat roles, the system text (default: the official one) and every instruction
    and text template of the registered tasks (and of ``task_names``): extra tokenizer
    training lines, so that prompts tokenize into few pieces."""
    lines = [*CHAT_ROLES, system_prompt or SYSTEM_PROMPT]
    # built-in tasks only, not the st_* ones some earlier call happened to make: the
    # tokenizer trained on these lines must not depend on what the process did before
    names = sorted(
        {*built_in_tasks(), *(TASK_ALIASES.get(n, n) for n in task_names if n != LM_TASK)}
    )
    for name in names:
        task = get_task(name)
        lines.extend(task.instructions)
        for template in task.text_instructions:
            lines.extend(
                p for p in template.format(text="", instruction="").split("\n") if p.strip()
            )
    return lines
