"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory):
    """A synthesized 56-utterance corpus with log-mel manifests, a tiny Whisper and a tiny Llama."""
    from pipeline_util import tiny_setup

    return tiny_setup(tmp_path_factory.mktemp("pipeline"))
