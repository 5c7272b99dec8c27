"""Run a job array on this machine, at most ``max_jobs_run`` jobs at a time (Kaldi's run.pl)."""

from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from soundwave.jobs.signals import Interrupted, raise_on_signals
from soundwave.jobs.spec import JobArray
from soundwave.jobs.task import kill_group, run_task


def default_max_jobs() -> int:
    """The number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_local(
    array: JobArray, *, max_jobs_run: int | None = None, threads: int | None = None
) -> dict[int, int]:
    """Run every job of ``array``; return the exit code of each job id.

    Each job gets ``threads`` threads (default: the CPUs shared out between the jobs
    that run at the same time: one job, e.g. a training, gets them all).  On
    SIGINT/SIGTERM the running jobs' process groups are terminated, jobs not yet
    started are dropped, and :class:`Interrupted` is raised once the running ones ended.
    """
    workers = max(1, min(max_jobs_run or default_max_jobs(), len(array.ids)))
    if threads is None:
        threads = max(1, default_max_jobs() // workers)
    running: dict[int, subprocess.Popen] = {}
    lock = threading.Lock()
    stopping = threading.Event()

    def one(job_id: int) -> int:
        def started(proc: subprocess.Popen) -> None:
            with lock:
                running[job_id] = proc
            if stopping.is_set():  # interrupted between the check below and the start
                kill_group(proc)

        if stopping.is_set():
            return 130
        try:
            return run_task(
                array.command_for(job_id), array.log(job_id), threads=threads, on_start=started
            )
        finally:
            with lock:
                running.pop(job_id, None)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
    try:
        with raise_on_signals():
            futures: dict[Future, int] = {pool.submit(one, i): i for i in array.ids}
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            return {futures[f]: f.result() for f in futures}
    except Interrupted:
        stopping.set()
        pool.shutdown(wait=False, cancel_futures=True)
        with lock:
            procs = list(running.values())
        for proc in procs:
            kill_group(proc)
        raise
    finally:
        pool.shutdown(wait=True)
