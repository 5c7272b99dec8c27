"""Run a command as a job array on this machine (Kaldi's run.pl contract).

    utils/run_local.sh [options] [JOB=1:N] LOG-FILE COMMAND...

JOB is replaced by 1..N in LOG-FILE and COMMAND; at most --max-jobs-run jobs (default:
the number of CPUs) run at the same time, each with OMP_NUM_THREADS = --num-threads
(default: the CPUs divided by the jobs running at once), unless the environment sets
OMP_NUM_THREADS.  --mem, --gpu, --time, --partition and
--config are accepted and ignored (as are other --name value options), so that a
recipe's cmd.sh can switch between this and utils/slurm.sh.
"""

from __future__ import annotations

import sys

from soundwave.errors import cli_main
from soundwave.jobs.local import run_local
from soundwave.jobs.signals import Interrupted
from soundwave.jobs.spec import option_parser, parse_runner_args, report

PROG = "run_local"


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = option_parser("utils/run_local.sh", __doc__)
    args = parse_runner_args(sys.argv[1:] if argv is None else argv, parser)
    opts = args.options
    try:
        codes = run_local(args.array, max_jobs_run=opts.max_jobs_run, threads=opts.num_threads)
    except Interrupted as sig:
        print(f"{PROG}: interrupted ({sig}), running jobs were stopped", file=sys.stderr)
        return sig.exit_status
    return report(PROG, args.array, codes)


if __name__ == "__main__":
    sys.exit(main())
