#!/usr/bin/env bash
# Kaldi-compatible filter_scp: see `utils/filter_scp.sh --help`.
# The logic is in soundwave/bin/filter_scp.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.filter_scp "$@"
