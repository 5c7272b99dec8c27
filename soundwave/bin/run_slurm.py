"""Run a command as a Slurm job array and wait for it (Kaldi's queue.pl/slurm.pl contract).

    utils/slurm.sh [options] [JOB=1:N] LOG-FILE COMMAND...

One `sbatch --array=1-N[%M]` submission; the batch script and Slurm's own output go to
<log dir>/q/.  Each task writes LOG-FILE with JOB replaced by its task id.  Options map
to sbatch through a cluster config in Kaldi's slurm.conf format (--config FILE, else
conf/slurm.conf if present, else built in: --mem 4G -> --mem=4G, --num-threads N ->
--cpus-per-task=N, --gpu N -> --gres=gpu:N, --time T, --partition P);
--max-jobs-run M throttles the array (%M).  Waits for all tasks and exits 1 naming the
failed ones' logs; SIGINT/SIGTERM cancel the array.
"""

from __future__ import annotations

import sys

from soundwave.errors import cli_main
from soundwave.jobs.cluster_config import load_slurm_config
from soundwave.jobs.signals import Interrupted
from soundwave.jobs.slurm import run_slurm
from soundwave.jobs.spec import option_parser, parse_runner_args, report

PROG = "run_slurm"
# Runner options that go through the cluster config (the others are the runner's own).
CONFIG_OPTIONS = ("mem", "num_threads", "gpu", "time", "partition")


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = option_parser("utils/slurm.sh", __doc__)
    args = parse_runner_args(sys.argv[1:] if argv is None else argv, parser)
    opts = args.options
    config = load_slurm_config(opts.config)
    given = {k: str(getattr(opts, k)) for k in CONFIG_OPTIONS if getattr(opts, k) is not None}
    try:
        codes, logs = run_slurm(
            args.array,
            config,
            {**given, **args.extra},
            max_jobs_run=opts.max_jobs_run,
            threads=opts.num_threads or 1,
        )
    except Interrupted as sig:
        return sig.exit_status
    return report(PROG, args.array, codes, logs)


if __name__ == "__main__":
    sys.exit(main())
