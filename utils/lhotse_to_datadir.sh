#!/usr/bin/env bash
# Kaldi-compatible lhotse_to_datadir: see `utils/lhotse_to_datadir.sh --help`.
# The logic is in soundwave/bin/lhotse_to_datadir.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.lhotse_to_datadir "$@"
