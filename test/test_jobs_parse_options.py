"""utils/parse_options.sh: Kaldi's option parsing for recipe scripts."""

from __future__ import annotations

import pytest
from jobs_util import UTILS, sh

SCRIPT = f"""\
#!/usr/bin/env bash
set -euo pipefail
stage=0
stop_stage=100
foo_bar=default
use_gpu=false
help_message="Usage: $0 [options] <dir>\\n  --stage N   first stage"
. {UTILS}/parse_options.sh
echo "stage=$stage stop_stage=$stop_stage foo_bar=$foo_bar use_gpu=$use_gpu"
echo "args=$#:$*"
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.sh"
    path.write_text(SCRIPT)
    path.chmod(0o755)
    return lambda *args: sh([path, *args], cwd=tmp_path)


def test_dash_and_underscore_names_and_positional_args(script):
    res = script("--stage", "3", "--stop_stage", "5", "--foo-bar", "a b", "dir", "--x")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "stage=3 stop_stage=5 foo_bar=a b use_gpu=false",
        "args=2:dir --x",  # parsing stops at the first non-option
    ]


def test_equals_form_and_double_dash(script):
    res = script("--stop-stage=2", "--", "--stage")
    assert res.stdout.splitlines() == [
        "stage=0 stop_stage=2 foo_bar=default use_gpu=false",
        "args=1:--stage",
    ]


def test_config_file_is_sourced_first(script, tmp_path):
    (tmp_path / "opts.conf").write_text("stage=7\nfoo_bar='from config'\n")
    res = script("--stage", "2", "--config", "opts.conf")
    assert res.returncode == 0, res.stderr
    # the command line wins over the config, whatever the order
    assert res.stdout.splitlines()[0] == "stage=2 stop_stage=100 foo_bar=from config use_gpu=false"
    res = script("--config", "missing.conf")
    assert res.returncode == 1 and "missing.conf" in res.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_help_message_and_exits_0(script, flag):
    res = script("--stage", "1", flag, "--stage")
    assert res.returncode == 0
    assert res.stdout.splitlines() == [
        "Usage: " + res.args[0] + " [options] <dir>",
        "  --stage N   first stage",
    ]


def test_unknown_option_is_an_error(script):
    res = script("--stages", "3")
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.strip().endswith("unknown option --stages")


def test_boolean_options(script):
    assert script("--use-gpu", "true").stdout.startswith(
        "stage=0 stop_stage=100 foo_bar=default use_gpu=true"
    )
    res = script("--use-gpu", "yes")
    assert res.returncode == 1 and "true or false" in res.stderr


def test_option_without_value(script):
    res = script("--stage")
    assert res.returncode == 1 and "needs a value" in res.stderr
