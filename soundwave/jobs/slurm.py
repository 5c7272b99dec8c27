"""Run a job array on Slurm: one ``sbatch --array`` submission, then wait for every task.

Like Kaldi's queue.pl, the runner writes a batch script under ``<log dir>/q/``; each array
task runs :mod:`soundwave.jobs.task`, which writes the job's own log (the placeholder
replaced by ``$SLURM_ARRAY_TASK_ID``) and its exit code into ``q/<name>.status/<id>``.
Completion is read from those files, with ``squeue`` telling whether tasks are still
queued or running; ``sacct`` is not used (accounting is often off).  A task that ended
without writing its status (killed, out of memory or time) counts as failed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import soundwave
from soundwave.errors import UserError
from soundwave.fileio import atomic_write
from soundwave.jobs.cluster_config import ClusterConfig
from soundwave.jobs.signals import Interrupted, raise_on_signals
from soundwave.jobs.spec import JobArray
from soundwave.jobs.task import read_statuses

# After squeue stops listing the job, how long to wait for status files still missing
# (a shared file system may show them late).
GRACE_ENV = "SOUNDWAVE_SLURM_GRACE_S"
DEFAULT_GRACE_S = 15.0


@dataclass(frozen=True)
class Submission:
    """Where one array submission keeps its files (all under ``<log dir>/q``)."""

    qdir: Path
    name: str

    @classmethod
    def for_array(cls, array: JobArray) -> Submission:
        log = Path(array.log_template)
        name = log.name
        if array.name is not None:
            name = name.replace(f".{array.name}", "").replace(array.name, "")
        name = name.removesuffix(".log").strip(".") or "job"
        return cls(qdir=log.parent / "q", name=name)

    @property
    def script(self) -> Path:
        return self.qdir / f"{self.name}.sh"

    @property
    def status_dir(self) -> Path:
        return self.qdir / f"{self.name}.status"

    def output(self, task: str | int) -> Path:
        """Slurm's own stdout/stderr of a task (``%a`` in the sbatch pattern)."""
        return self.qdir / f"{self.name}.{task}.log"


def sbatch_command(
    config: ClusterConfig,
    array: JobArray,
    sub: Submission,
    options: dict[str, str],
    *,
    max_jobs_run: int | None = None,
) -> list[str]:
    """The full submit command for ``array`` (``options`` go through the config's rules)."""
    spec = f"{array.start}-{array.end}" + (f"%{max_jobs_run}" if max_jobs_run else "")
    return [
        *config.command,
        f"--job-name={sub.name}",
        f"--output={sub.output('%a').resolve()}",
        *config.option_words(options),
        f"--array={spec}",
        "--parsable",
        str(sub.script.resolve()),
    ]


def batch_script(array: JobArray, sub: Submission, command: list[str], *, threads: int = 1) -> str:
    """The script each array task runs: cd to the submit directory, run the task wrapper."""
    package_root = Path(soundwave.__file__).resolve().parent.parent
    task = [
        sys.executable,
        "-m",
        "soundwave.jobs.task",
        "--log",
        array.log_template,
        "--status-dir",
        str(sub.status_dir.resolve()),
        "--threads",
        str(threads),
    ]
    if array.name is not None:
        task += ["--name", array.name]
    task += ["--", array.command]
    q = shlex.quote
    return (
        "#!/usr/bin/env bash\n"
        "# Written by soundwave's Slurm runner (utils/slurm.sh); submitted with\n"
        f"#   {shlex.join(command)}\n"
        f"# Each task logs to {array.log_template} ({array.name or 'no job id'} -> task id).\n"
        f"cd {q(os.getcwd())} || exit 1\n"
        f"export PYTHONPATH={q(str(package_root))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        f"exec {shlex.join(task)}\n"
    )


def submit(command: list[str]) -> str:
    """Run the submit command; return the Slurm job id."""
    if shutil.which(command[0]) is None:
        raise UserError(
            f"{command[0]} not found on PATH: Slurm is not installed here "
            "(run the jobs locally with utils/run_local.sh, i.e. cmd_backend=local)"
        )
    res = subprocess.run(command, capture_output=True, text=True)
    if res.returncode != 0:
        detail = (res.stderr.strip() or res.stdout.strip()).splitlines()
        raise UserError(
            f"{command[0]} failed: {detail[-1] if detail else f'exit {res.returncode}'}"
        )
    job_id = res.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise UserError(f"{command[0]} printed no job id: {res.stdout.strip()!r}")
    return job_id


def job_listed(job_id: str) -> bool | None:
    """Whether squeue still lists any task of the job; None when squeue cannot tell."""
    try:
        res = subprocess.run(
            ["squeue", "-h", "-j", job_id, "-o", "%i"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode == 0:
        return bool(res.stdout.strip())
    # Slurm forgets finished jobs after MinJobAge and then calls the id invalid.
    return False if "Invalid job id" in res.stderr else None


def cancel(job_id: str) -> None:
    subprocess.run(["scancel", job_id], capture_output=True, timeout=60, check=False)


def wait_for_tasks(
    job_id: str, ids: range, status_dir: Path, grace_s: float
) -> dict[int, int | None]:
    """Exit codes of every task by id, None for a task that ended without one."""
    found: dict[int, int] = {}
    next_check, interval = time.monotonic() + 1.0, 1.0
    gone_since: float | None = None
    while True:
        found.update(read_statuses(status_dir))
        if all(i in found for i in ids):
            return {i: found[i] for i in ids}
        now = time.monotonic()
        if gone_since is not None and now - gone_since > grace_s:
            return {i: found.get(i) for i in ids}
        if now >= next_check:
            listed = job_listed(job_id)
            if listed is False:
                gone_since = gone_since or now
                interval = 1.0  # the end is near: look often
            elif listed:
                gone_since = None
                interval = min(interval * 1.5, 30.0)
            next_check = now + interval
        time.sleep(0.25)


def run_slurm(
    array: JobArray,
    config: ClusterConfig,
    options: dict[str, str],
    *,
    max_jobs_run: int | None = None,
    threads: int = 1,
) -> tuple[dict[int, int | None], dict[int, str]]:
    """Submit ``array`` and wait for it; on SIGINT/SIGTERM cancel it and re-raise.

    Returns the exit code of each job id (None: the task ended without recording one) and,
    for tasks that never wrote their own log, Slurm's output file to look at instead.
    """
    sub = Submission.for_array(array)
    command = sbatch_command(config, array, sub, options, max_jobs_run=max_jobs_run)
    try:
        sub.qdir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(sub.status_dir, ignore_errors=True)  # statuses of an earlier run
        sub.status_dir.mkdir()
    except OSError as err:
        raise UserError(f"cannot create the job directory: {err.strerror}", sub.qdir) from None
    with atomic_write(sub.script) as f:
        f.write(batch_script(array, sub, command, threads=threads))
    grace = float(os.environ.get(GRACE_ENV, DEFAULT_GRACE_S))
    submitted = time.time() - 1.0  # file times may be coarse
    with raise_on_signals():
        job_id = submit(command)
        try:
            codes = wait_for_tasks(job_id, array.ids, sub.status_dir, grace)
        except Interrupted:
            cancel(job_id)
            print(f"run_slurm: interrupted, cancelled job {job_id}", file=sys.stderr)
            raise
    unlogged = {
        i: str(sub.output(i))
        for i, c in codes.items()
        if c is None and not _written_since(array.log(i), submitted)
    }
    return codes, unlogged


def _written_since(path: str, since: float) -> bool:
    try:
        return os.stat(path).st_mtime >= since
    except OSError:
        return False
