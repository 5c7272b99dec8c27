#!/usr/bin/env bash
# Kaldi-compatible datadir_to_lhotse: see `utils/datadir_to_lhotse.sh --help`.
# The logic is in soundwave/bin/datadir_to_lhotse.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.datadir_to_lhotse "$@"
