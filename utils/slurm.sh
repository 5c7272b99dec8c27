#!/usr/bin/env bash
# Run a command as a Slurm job array and wait for it (Kaldi's queue.pl contract):
#   utils/slurm.sh [options] [JOB=1:N] LOG-FILE COMMAND...
# See `utils/slurm.sh --help`; the logic is in soundwave/bin/run_slurm.py.
root=$(cd -P "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
# shellcheck source=utils/lib/python.sh
. "$root/utils/lib/python.sh"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$(sw_python)" -m soundwave.bin.run_slurm "$@"
