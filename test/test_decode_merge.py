"""``decode --merge N`` after ``--shard J/N`` jobs, for N = 1 too (a stage script run with
``--nj 1``: the one shard decodes into the output dir itself)."""

from __future__ import annotations

import json

import pytest

from soundwave.decode.outputs import merge_shards
from soundwave.errors import UserError


def _decoded(out, shard: str):
    out.mkdir(parents=True)
    (out / "hyp.txt").write_text("u1 hello\n")
    (out / "decode.json").write_text(json.dumps({"shard": shard, "utts": 1}))


def test_merge_of_one_shard_keeps_its_output(tmp_path):
    _decoded(tmp_path / "dec", "1/1")
    merge_shards(tmp_path / "dec", 1)
    assert (tmp_path / "dec" / "hyp.txt").read_text() == "u1 hello\n"
    assert json.loads((tmp_path / "dec" / "decode.json").read_text())["utts"] == 1


def test_merge_of_one_shard_checks_its_identity(tmp_path):
    _decoded(tmp_path / "dec", "1/2")
    with pytest.raises(UserError, match=r"is shard 1/2, not 1/1"):
        merge_shards(tmp_path / "dec", 1)
    with pytest.raises(UserError, match=r"no decode.json"):
        merge_shards(tmp_path / "none", 1)
