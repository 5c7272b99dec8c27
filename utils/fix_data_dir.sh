#!/usr/bin/env bash
# Kaldi-compatible fix_data_dir: see `utils/fix_data_dir.sh --help`.
# The logic is in soundwave/bin/fix_data_dir.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.fix_data_dir "$@"
