#!/usr/bin/env bash
# Run a command as a job array on this machine (Kaldi's run.pl contract):
#   utils/run_local.sh [options] [JOB=1:N] LOG-FILE COMMAND...
# See `utils/run_local.sh --help`; the logic is in soundwave/bin/run_local.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.run_local "$@"
