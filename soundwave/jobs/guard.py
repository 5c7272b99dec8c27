"""Run one job's command so that it cannot outlive the runner that started it.

    python -I -S guard.py RUNNER_PID THREADS COMMAND-WORDS...

:func:`soundwave.jobs.task.run_task` starts this (in a session of its own, the job's log
as stdout) instead of the command itself.  The command gets a session and process group
of its own; a SIGTERM, SIGINT or SIGHUP sent to this process is passed on to that whole
group (a pipeline, a training and its data-loader workers).

A runner killed with SIGKILL cannot stop its jobs itself.  So this process asks Linux for
a SIGUSR2 when the runner dies (``PR_SET_PDEATHSIG``; elsewhere it polls the runner's
pid), then sends SIGTERM to the command's group (SIGKILL after a grace period) and writes
the log's ``# Accounting`` and ``# Ended`` lines that the runner would have written.

It imports only the standard library (and runs without ``site``) so that it starts fast;
it exits with the command's status as a shell reports it (128 + N if killed by signal N).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
GRACE_S = 10.0  # after the runner died: SIGTERM, then SIGKILL this much later
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# what the kernel sends us when the runner dies: a signal of its own, so that it is not
# mistaken for a SIGTERM the runner passes on (only then the runner writes the footer)
RUNNER_DIED = signal.SIGUSR2


def _now() -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y")


def _ask_for_signal_on_parent_death() -> bool:
    """PR_SET_PDEATHSIG: RUNNER_DIED to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(RUNNER_DIED), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    runner, threads, command = int(argv[0]), argv[1], argv[2:]
    start = time.monotonic()
    child: subprocess.Popen | None = None
    pending: list[int] = []  # a signal that came before the command started
    orphaned = threading.Event()

    def stop(signum: int) -> None:
        if child is None:
            pending.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    def on_signal(signum: int, _frame: object) -> None:
        stop(signum)

    def on_runner_death(_signum: int, _frame: object) -> None:
        if orphaned.is_set():
            return
        orphaned.set()
        stop(signal.SIGTERM)
        # a command that ignores SIGTERM must still end: nobody is left to stop it
        timer = threading.Timer(GRACE_S, stop, (signal.SIGKILL,))
        timer.daemon = True
        timer.start()

    for s in FORWARDED:
        signal.signal(s, on_signal)
    signal.signal(RUNNER_DIED, on_runner_death)
    if not _ask_for_signal_on_parent_death():

        def poll() -> None:
            while os.getppid() == runner:
                time.sleep(0.5)
            os.kill(os.getpid(), RUNNER_DIED)

        threading.Thread(target=poll, daemon=True).start()
    if os.getppid() != runner:  # the runner died before the request above
        on_runner_death(RUNNER_DIED, None)
    child = subprocess.Popen(command, start_new_session=True)
    for signum in pending:
        stop(signum)
    returncode = child.wait()
    rc = 128 - returncode if returncode < 0 else returncode
    if orphaned.is_set():
        elapsed = round(time.monotonic() - start)
        footer = (
            f"# Accounting: time={elapsed} threads={threads}\n"
            f"# Ended (code {rc}) at {_now()}, elapsed time {elapsed} seconds "
            "(the runner was killed)\n"
        )
        os.write(sys.stdout.fileno(), footer.encode())
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
