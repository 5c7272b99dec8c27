"""SLAM-LLM-style jsonl -> a Kaldi data dir.

SLAM-LLM's speech datasets read one JSON object per line::

    {"key": "1001-134707-0000_ASR", "source": "/data/librispeech/1001-134707-0000.wav",
     "target": "a little recks the laborer", "prompt": "Transcribe speech to text."}

(``examples/asr_librispeech``; ``source_len``, ``target_len`` and ``duration`` may be there
too and are ignored).  Its speech-translation dataset names them differently: ``audio`` is
the path, ``gt`` the target, ``prompt`` its language tags, and ``source`` the name of the
data set, not a file.  Both are read: the audio is ``audio`` when present, else ``source``;
the target is ``target``, else ``gt``.

The target goes where the chosen task reads it (``asr``: ``text``; ``st_en_de``:
``text.de``; ``qa``: ``utt2answer``, with the prompt as ``utt2question``; a classification
task: its label file, e.g. ``utt2sound_event``).  For the other tasks the prompt is kept in
``utt2prompt`` (it travels into the manifests' ``custom`` fields), and training and decoding
ask with the task's own phrasings.  The jsonl knows no speakers, so each utterance is its
own speaker (Kaldi's convention for that).  Relative audio paths are taken from the current
directory, as SLAM-LLM opens them, and written absolute.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from soundwave.data.kaldi import DataDir
from soundwave.data.lhotse_io import custom_file
from soundwave.errors import UserError
from soundwave.tasks import get_task

_WS = re.compile(r"\s")


def _string(row: dict, *names: str) -> str | None:
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value)
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def target_file(task: str) -> str:
    """The data-dir file that holds ``task``'s target."""
    spec = get_task(task)
    field = spec.target_fields[0]
    if field == "gender":
        raise UserError(
            f"--task {task}: the target is a speaker's gender (spk2gender), and a jsonl has "
            "no speakers"
        )
    return custom_file(field)


def read_jsonl(path: str | os.PathLike, task: str = "asr") -> DataDir:
    """The data dir of SLAM-LLM jsonl ``path`` for ``task``; a bad line is one
    :class:`UserError` naming ``path:line``."""
    path = Path(path)
    spec = get_task(task)
    target_name = target_file(task)
    prompt_name = custom_file(spec.instruction_field) if spec.instruction_field else "utt2prompt"
    tables: dict[str, dict[str, str]] = {
        n: {} for n in ("wav.scp", "utt2spk", target_name, prompt_name)
    }
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError("jsonl file not found", path) from None
    except UnicodeDecodeError as err:
        raise UserError(f"not valid UTF-8: {err.reason}", path) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"not a JSON line ({err.msg}, column {err.colno})", path, n) from None
        if not isinstance(row, dict):
            raise UserError(f"expected a JSON object, got {type(row).__name__}", path, n)
        key = _string(row, "key")
        audio = _string(row, "audio", "source")
        target = _string(row, "target", "gt")
        named = (("key", key), ("source (the audio)", audio), ("target", target))
        missing = [what for what, value in named if value is None]
        if missing:
            raise UserError(f"no {' and no '.join(missing)}", path, n)
        if _WS.search(key):
            raise UserError(f"key {key!r} contains whitespace (not a Kaldi id)", path, n)
        if key in tables["wav.scp"]:
            raise UserError(f"duplicate key {key!r}", path, n)
        wav = Path(audio).expanduser().absolute()
        if _WS.search(str(wav)):
            raise UserError(f"audio path '{wav}' contains whitespace (not in wav.scp)", path, n)
        if not wav.is_file():
            raise UserError(f"audio file not found: {wav}", path, n)
        tables["wav.scp"][key] = str(wav)
        tables["utt2spk"][key] = key
        tables[target_name][key] = _one_line(target)
        prompt = _string(row, "prompt")
        if prompt is not None:
            tables[prompt_name][key] = _one_line(prompt)
        elif spec.instruction_field:
            raise UserError(f"--task {task} asks each utterance's prompt: no prompt", path, n)
    if not tables["wav.scp"]:
        raise UserError("holds no utterance", path)
    return DataDir({n: t for n, t in tables.items() if t}).sort()


def import_jsonl(jsonl: str | os.PathLike, out: str | os.PathLike, task: str = "asr") -> int:
    """Write the data dir of ``jsonl`` to ``out`` (whole or not at all); the utterance count."""
    d = read_jsonl(jsonl, task)
    d.save(out)
    return len(d.utt2spk)
