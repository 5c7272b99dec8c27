"""Job runners with Kaldi's run.pl / queue.pl contract: local processes or a Slurm array.

``utils/run_local.sh`` and ``utils/slurm.sh`` (entry points ``soundwave.bin.run_local`` and
``soundwave.bin.run_slurm``) take the same command line, so a recipe's ``cmd.sh`` switches
between them.  Modules: :mod:`~soundwave.jobs.spec` (the command line and failure report),
:mod:`~soundwave.jobs.task` (one job with its log), :mod:`~soundwave.jobs.local`,
:mod:`~soundwave.jobs.slurm` and :mod:`~soundwave.jobs.cluster_config` (Kaldi's
slurm.conf format).  Nothing is imported here: ``python -m soundwave.jobs.task`` runs on
cluster nodes and should start fast.
"""
