"""Run one job of an array: shell command -> log file with Kaldi's header and footer.

The local runner calls :func:`run_task` in a thread per job; on a cluster each array task
runs ``python -m soundwave.jobs.task`` (see :mod:`soundwave.jobs.slurm`), which also
records the exit status in a file the submitting process waits for.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from soundwave.errors import UserError
from soundwave.fileio import atomic_write


def _now() -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y")


def exit_code(returncode: int) -> int:
    """A Popen return code as the shell reports it (killed by signal N -> 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def _open_log(log: Path) -> TextIO:
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        return open(log, "w", encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write the job's log: {err.strerror}", log) from None


def run_task(
    command: str,
    log: str | os.PathLike,
    *,
    threads: int = 1,
    on_start: Callable[[subprocess.Popen], None] | None = None,
) -> int:
    """Run ``bash -o pipefail -c command`` with stdout and stderr in ``log``; return its exit code.

    The log starts with the command, host and start time and ends with
    ``# Accounting: time=S threads=N`` and ``# Ended (code RC) at DATE, elapsed time S
    seconds`` like Kaldi's queue.pl.  The command runs in its own process group so that a
    whole pipeline can be stopped, under :mod:`soundwave.jobs.guard` (``on_start`` receives
    the guard's process: a signal to its group reaches the command's), which also stops the
    command and writes the footer if this process is killed outright (SIGKILL).  It sees
    ``OMP_NUM_THREADS`` (and MKL's) = ``threads`` unless the caller's environment sets it:
    PyTorch otherwise starts one thread per core in every job, and N jobs on N cores then
    fight over them (several times slower than one thread each).
    """
    log = Path(log)
    header = "".join(f"# {line}\n" for line in command.splitlines() or [""])
    start = time.monotonic()
    with _open_log(log) as f:
        f.write(f"{header}# Running on {socket.gethostname()}\n# Started at {_now()}\n#\n")
        f.flush()
        proc = subprocess.Popen(
            [*guard_command(threads), "bash", "-o", "pipefail", "-c", command],
            env=thread_env(threads),
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if on_start is not None:
            on_start(proc)
        rc = exit_code(proc.wait())
        elapsed = round(time.monotonic() - start)
        f.write(f"# Accounting: time={elapsed} threads={threads}\n")
        f.write(f"# Ended (code {rc}) at {_now()}, elapsed time {elapsed} seconds\n")
    return rc


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
GUARD = Path(__file__).with_name("guard.py")


def guard_command(threads: int) -> list[str]:
    """The words that run a command under :mod:`soundwave.jobs.guard` for this process
    (``-I -S``: the guard needs neither the environment's paths nor site-packages)."""
    return [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), str(threads)]


def thread_env(threads: int) -> dict[str, str]:
    """This process's environment with the thread variables set to ``threads`` (where the
    environment does not set OMP_NUM_THREADS itself)."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env.update(dict.fromkeys(THREAD_VARS, str(max(1, threads))))
    return env


def kill_group(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    """Signal the process group of a command started by :func:`run_task` (if still there)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def write_status(status_dir: str | os.PathLike, job_id: int, rc: int) -> None:
    """Record a finished job's exit code as ``<status_dir>/<job_id>`` (atomically)."""
    with atomic_write(Path(status_dir) / str(job_id)) as f:
        f.write(f"{rc}\n")


def read_statuses(status_dir: str | os.PathLike) -> dict[int, int]:
    """Exit codes recorded by :func:`write_status` so far, by job id."""
    out = {}
    for p in Path(status_dir).iterdir():
        if p.name.isdigit():
            text = p.read_text().strip()
            if text.lstrip("-").isdigit():
                out[int(p.name)] = int(text)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry of one cluster array task (internal; the job id comes from the environment)."""
    p = argparse.ArgumentParser(prog="soundwave.jobs.task", description=main.__doc__)
    p.add_argument("--id-var", default="SLURM_ARRAY_TASK_ID", help="variable holding the job id")
    p.add_argument("--name", default=None, help="placeholder replaced by the job id")
    p.add_argument("--log", required=True, help="log file name (may contain the placeholder)")
    p.add_argument("--status-dir", required=True, help="where the exit code is recorded")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("command", help="shell command (may contain the placeholder)")
    args = p.parse_args(argv)
    job_id = int(os.environ[args.id_var])

    def fill(text: str) -> str:
        return text if not args.name else text.replace(args.name, str(job_id))

    procs: list[subprocess.Popen] = []

    def forward(signum: int, _frame: object) -> None:
        # Cancelled or out of time: stop the command, still write the footer and status.
        for proc in procs:
            kill_group(proc, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        rc = run_task(
            fill(args.command), fill(args.log), threads=args.threads, on_start=procs.append
        )
    except UserError as err:  # e.g. the log directory is not writable on this node
        print(f"soundwave.jobs.task: error: {err.one_line()}", file=sys.stderr)
        rc = 1
    write_status(args.status_dir, job_id, rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
