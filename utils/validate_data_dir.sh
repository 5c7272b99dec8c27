#!/usr/bin/env bash
# Kaldi-compatible validate_data_dir: see `utils/validate_data_dir.sh --help`.
# The logic is in soundwave/bin/validate_data_dir.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.validate_data_dir "$@"
