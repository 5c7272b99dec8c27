#!/usr/bin/env bash
# Kaldi-compatible combine_data: see `utils/combine_data.sh --help`.
# The logic is in soundwave/bin/combine_data.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.combine_data "$@"
