"""A reader of CTranslate2's ``model.bin``, without ctranslate2.

Layout (little-endian, what ``ctranslate2.specs.ModelSpec.save`` writes): uint32 version;
string spec name; uint32 revision; uint32 variable count; per variable: string name, uint8
rank, rank x uint32 dims, uint8 dtype id, uint32 byte count, raw data; then uint32 alias
count and (alias, target) string pairs.  A string is a uint16 length (including the
trailing NUL) followed by the bytes.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soundwave.errors import UserError

# CTranslate2's DataType enum.  bfloat16 has no numpy dtype: read as uint16, widened below.
DTYPE_IDS: dict[int, tuple[str, np.dtype]] = {
    0: ("float32", np.dtype("<f4")),
    1: ("int8", np.dtype("i1")),
    2: ("int16", np.dtype("<i2")),
    3: ("int32", np.dtype("<i4")),
    4: ("float16", np.dtype("<f2")),
    5: ("bfloat16", np.dtype("<u2")),
}
# Binary versions whose layout is the one above (ctranslate2 >= 2 writes 6).
SUPPORTED_VERSIONS = (4, 5, 6)


@dataclass
class Ct2Model:
    """The parsed ``model.bin``: float tensors dequantised to float32, aliases resolved."""

    spec: str
    revision: int
    version: int
    variables: dict[str, np.ndarray]
    stored_dtypes: dict[str, str] = field(default_factory=dict)  # name -> dtype in the file
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> target


class _Cursor:
    """Bounds-checked reads over the file's bytes: every shortfall is a one-line UserError."""

    def __init__(self, data: bytes | memoryview, path: Path):
        self.data = memoryview(data)
        self.path = path
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        if n > len(self.data) - self.pos:
            raise UserError(
                f"truncated CTranslate2 model: {what} needs {n} bytes at offset {self.pos}, "
                f"{len(self.data) - self.pos} left",
                self.path,
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.unpack("H", f"length of {what}")
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise UserError(f"bad CTranslate2 model: {what} is not NUL-terminated", self.path)
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"bad CTranslate2 model: {what} is not UTF-8", self.path) from None


def _to_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # bfloat16 is the top half of a float32
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32)


def read_ct2_model(path: str | os.PathLike, expect_spec: str | None = "WhisperSpec") -> Ct2Model:
    """Parse a CTranslate2 ``model.bin``.

    Float tensors (float32/float16/bfloat16) come back as float32; an int8 or int16 tensor
    with a ``<name>_scale`` sibling is dequantised (``q / scale``, one scale per output row
    for int8, one for the tensor for int16) and the scale dropped; other integers (flags,
    head counts) keep their type.  Aliases are resolved after dequantising.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("CTranslate2 model file not found", path)
    # Memory-mapped: a large-v3 model.bin is 3 GB, and every tensor is copied out anyway.
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return _parse(b"", path, expect_spec)
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return _parse(data, path, expect_spec)
    finally:
        with contextlib.suppress(BufferError):  # a view still alive: the GC closes it
            data.close()


def _parse(data: bytes | mmap.mmap, path: Path, expect_spec: str | None) -> Ct2Model:
    cur = _Cursor(data, path)
    version = cur.unpack("I", "binary version")
    if version not in SUPPORTED_VERSIONS:
        raise UserError(
            f"bad magic: binary version {version} is not a CTranslate2 model version this "
            f"reader knows ({', '.join(map(str, SUPPORTED_VERSIONS))})",
            path,
        )
    spec = cur.string("spec name")
    if expect_spec is not None and spec != expect_spec:
        raise UserError(f"bad magic: spec is '{spec}', expected '{expect_spec}'", path)
    revision = cur.unpack("I", "spec revision")
    count = cur.unpack("I", "variable count")
    raw: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    for i in range(count):
        name = cur.string(f"name of variable {i}")
        rank = cur.unpack("B", f"rank of {name}")
        shape = tuple(cur.unpack("I", f"dimension {d} of {name}") for d in range(rank))
        type_id = cur.unpack("B", f"dtype of {name}")
        if type_id not in DTYPE_IDS:
            raise UserError(f"unknown dtype id {type_id} for variable '{name}'", path)
        dtype, np_dtype = DTYPE_IDS[type_id]
        nbytes = cur.unpack("I", f"byte count of {name}")
        expected = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
        if nbytes != expected:
            raise UserError(
                f"bad CTranslate2 model: variable '{name}' {dtype} {list(shape)} declares "
                f"{nbytes} bytes, its shape needs {expected}",
                path,
            )
        if name in raw:
            raise UserError(f"bad CTranslate2 model: variable '{name}' appears twice", path)
        raw[name] = np.frombuffer(cur.take(nbytes, f"data of {name}"), np_dtype).reshape(shape)
        stored[name] = dtype
    aliases = []
    for i in range(cur.unpack("I", "alias count")):
        aliases.append((cur.string(f"alias {i}"), cur.string(f"target of alias {i}")))
    if cur.pos != len(data):
        raise UserError(
            f"bad CTranslate2 model: {len(data) - cur.pos} leftover bytes after the aliases", path
        )

    variables: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        if name.endswith("_scale") and name.removesuffix("_scale") in raw:
            continue
        dtype = stored[name]
        scale = raw.get(name + "_scale")
        if scale is not None:
            if dtype not in ("int8", "int16"):
                raise UserError(f"bad CTranslate2 model: '{name}' is {dtype} but has a scale", path)
            scale = _to_float32(scale, stored[name + "_scale"])
            q = value.astype(np.float32)
            if scale.size == 1:
                value = q / scale.reshape(())
            elif scale.ndim == 1 and scale.shape[0] == q.shape[0]:
                # int8: one scale per output row (a conv weight is flattened to 2D for it)
                value = (q.reshape(q.shape[0], -1) / scale[:, None]).reshape(q.shape)
            else:
                raise UserError(
                    f"bad CTranslate2 model: scale of '{name}' has shape {list(scale.shape)} "
                    f"for a tensor of shape {list(q.shape)}",
                    path,
                )
        elif dtype in ("float32", "float16", "bfloat16"):
            value = _to_float32(value, dtype)
        else:
            value = value.copy()  # detach from the file's bytes
        variables[name] = value
    for alias, target in aliases:
        if target not in variables:
            raise UserError(
                f"bad CTranslate2 model: alias '{alias}' points to missing '{target}'", path
            )
        # a copy: CT2 also aliases merely equal tensors (e.g. zero biases of several
        # layers), which must not become shared storage in the HF checkpoint
        variables[alias] = variables[target].copy()
    return Ct2Model(spec, revision, version, variables, stored, dict(aliases))
