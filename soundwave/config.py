"""YAML configs mapped onto dataclasses, with ``key.sub=value`` command-line overrides.

Every stage entry point reads one YAML file into a dataclass tree; a file may start from
another (``base: ../shrink.yaml``) and state only what it changes.  Unknown keys and
values of the wrong type are user errors reported in one line that names the file.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from soundwave.errors import UserError

T = TypeVar("T")


BASE_KEY = "base"


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError("config file not found", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise UserError(f"invalid YAML: {getattr(err, 'problem', err)}", path, line) from None
    except UnicodeDecodeError:
        raise UserError("config is not valid UTF-8", path) from None
    if not isinstance(data, dict):
        raise UserError("config must be a mapping of keys to values", path)
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else (lists
    included) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML mapping; ``base: other.yaml`` (relative to this file) puts it on top of
    that config, so that a variant states only what it changes."""
    path = Path(path)
    data = _read_mapping(path)
    if BASE_KEY not in data:
        return data
    base = data.pop(BASE_KEY)
    if not isinstance(base, str) or not base:
        raise UserError(f"'{BASE_KEY}' must be the path of another config", path)
    seen = (*_seen, path.resolve())
    base_path = (path.parent / base).resolve()
    if base_path in seen:
        raise UserError(f"'{BASE_KEY}: {base}' includes itself", path)
    return merge(read_yaml(base_path, seen), data)


class ConfigValueError(ValueError):
    """A config value out of its range, raised by a config dataclass's ``__post_init__``;
    ``key`` is the field's name, so that the error can name the whole key and where it
    was set (the YAML file or a command-line override)."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"'{key}' {message}")


def require(ok: bool, key: str, message: str) -> None:
    """Raise :class:`ConfigValueError` for field ``key`` unless ``ok``."""
    if not ok:
        raise ConfigValueError(key, message)


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where each config value came from: the YAML file, or a command-line override."""

    file: str | None
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> "key=value"

    def of(self, key: str) -> str | None:
        """The source of dotted ``key`` (list indices ignored): the override that set it
        or one of its sections, else the file."""
        parts = re.sub(r"\[\d+\]", "", key).split(".")
        for i in range(len(parts), 0, -1):
            item = self.overrides.get(".".join(parts[:i]))
            if item is not None:
                return f"command-line override '{item}'"
        return self.file


def _as_sources(source: str | Sources | None) -> Sources:
    return source if isinstance(source, Sources) else Sources(source)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"override '{item}' is not of the form key=value")
        key, raw = item.split("=", 1)
        if not key or any(not part for part in key.split(".")):
            raise UserError(f"override '{item}': '{key}' is not a config key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"override '{item}': '{part}' is not a section")
        node[parts[-1]] = value
    return data


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(value: Any, tp: Any, where: str, sources: Sources) -> Any:
    """Check/convert ``value`` to the annotated type ``tp``; raise UserError naming ``where``."""
    source = sources.of(where)
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where, sources)
            except UserError as err:
                errors.append(err)
        raise errors[0]
    if _is_dataclass_type(tp):
        if not isinstance(value, dict):
            raise UserError(f"'{where}' must be a mapping", source)
        return from_dict(tp, value, sources, prefix=where + ".")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise UserError(f"'{where}' must be a list, got {value!r}", source)
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(v, item_tp, f"{where}[{i}]", sources) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"'{where}' must be a mapping", source)
        _, val_tp = typing.get_args(tp) or (Any, Any)
        return {k: _convert(v, val_tp, f"{where}.{k}", sources) for k, v in value.items()}
    if tp is int and isinstance(value, bool):  # YAML's true is an int to Python, not here
        raise UserError(f"'{where}' must be of type int, got {value!r}", source)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise UserError(f"'{where}' must be of type {tp.__name__}, got {value!r}", source)
    return value


def _convert_fields(
    cls: type, data: dict[str, Any], sources: Sources, prefix: str
) -> dict[str, Any]:
    """``data``'s values checked/converted to the types of ``cls``'s fields; an unknown
    key is an error that lists the known ones.  A field whose metadata has ``fields_of``
    (a dataclass) is a partial mapping of that dataclass's fields, checked alike."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(fields), n=1)
        hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
        raise UserError(
            f"unknown config key '{prefix}{unknown[0]}' ({hint}known: {', '.join(sorted(fields))})",
            sources.of(f"{prefix}{unknown[0]}"),
        )
    kwargs = {k: _convert(v, hints[k], prefix + k, sources) for k, v in data.items()}
    for k, v in kwargs.items():
        partial_of = fields[k].metadata.get("fields_of")
        if partial_of is not None:
            kwargs[k] = _convert_fields(partial_of, v, sources, prefix + k + ".")
    return kwargs


def from_dict(
    cls: type[T], data: dict[str, Any], source: str | Sources | None = None, prefix: str = ""
) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys are errors that list the known ones.

    ``source`` names where ``data`` came from (a file name, or :class:`Sources` when
    command-line overrides set some keys); errors name the source of the offending key."""
    sources = _as_sources(source)
    kwargs = _convert_fields(cls, data, sources, prefix)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise UserError(
            f"incomplete config section '{prefix or cls.__name__}': {err}", sources.of(prefix)
        ) from None
    except ConfigValueError as err:
        where = prefix + err.key
        raise UserError(f"'{where}' {err.message}", sources.of(where)) from None
    except ValueError as err:
        raise UserError(str(err), sources.of(prefix.rstrip("."))) from None


def load_config(cls: type[T], path: str | Path | None, overrides: list[str] | None = None) -> T:
    """Read YAML ``path`` (may be None), apply ``overrides`` and build ``cls``."""
    data = read_yaml(path) if path else {}
    apply_overrides(data, overrides or [])
    given = {item.split("=", 1)[0]: item for item in overrides or []}
    return from_dict(cls, data, Sources(str(path) if path else "command line", given))


def to_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def non_default_dict(obj: Any) -> Any:
    """As :func:`to_dict`, less every dataclass field that holds its default (nested ones
    left empty by that go too): what a config says beyond the code's defaults.  A field
    added in a later version at a default that keeps the old behaviour leaves it alone."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            default = _default_of(f)
            if default is not dataclasses.MISSING and to_dict(value) == to_dict(default):
                continue
            pruned = non_default_dict(value)
            if not (dataclasses.is_dataclass(value) and pruned == {}):
                out[f.name] = pruned
        return out
    if isinstance(obj, list | tuple):
        return [non_default_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: non_default_dict(v) for k, v in obj.items()}
    return obj


def config_hash(obj: Any) -> str:
    """A short stable hash of a config (dataclass or dict), recorded with results."""
    text = json.dumps(to_dict(obj), sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:8]
