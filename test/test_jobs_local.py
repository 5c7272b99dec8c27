"""utils/run_local.sh: Kaldi run.pl-style job arrays on this machine."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from jobs_util import UTILS, max_overlap, sh, stamp_command

from soundwave.errors import UserError
from soundwave.jobs.local import default_max_jobs
from soundwave.jobs.spec import join_command, parse_array

RUN_LOCAL = UTILS / "run_local.sh"


def test_job_id_in_log_name_and_command_with_a_pipe(tmp_path):
    res = sh(
        [
            RUN_LOCAL,
            "JOB=1:4",
            "exp/log/up.JOB.log",
            "echo",
            "part JOB of 4",
            r"|",
            "tr",
            "a-z",
            "A-Z",
        ],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for i in range(1, 5):
        lines = (tmp_path / f"exp/log/up.{i}.log").read_text().splitlines()
        assert lines[0] == f"# echo 'part {i} of 4' | tr a-z A-Z"
        assert lines[2].startswith("# Started at ")
        assert f"PART {i} OF 4" in lines
        threads = max(1, default_max_jobs() // min(default_max_jobs(), 4))  # the CPUs shared
        assert re.fullmatch(rf"# Accounting: time=\d+ threads={threads}", lines[-2])
        assert re.fullmatch(r"# Ended \(code 0\) at .*, elapsed time \d+ seconds", lines[-1])
    assert not (tmp_path / "exp/log/up.5.log").exists()


def test_single_job_and_single_word_script(tmp_path):
    res = sh(
        [RUN_LOCAL, "--num-threads", "3", "log/one.log", "seq 3 | wc -l > n.txt"],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "n.txt").read_text().strip() == "3"
    assert "# Accounting: time=0 threads=3" in (tmp_path / "log/one.log").read_text()


def test_jobs_get_their_share_of_the_cpus_as_torch_threads(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}

    def seen(args: list[str], extra: dict[str, str] | None = None) -> list[str]:
        for f in tmp_path.glob("out.*"):
            f.unlink()
        cmd = [RUN_LOCAL, *args, "echo $OMP_NUM_THREADS $MKL_NUM_THREADS > out.JOB"]
        res = subprocess.run(
            [str(a) for a in cmd], cwd=tmp_path, env={**env, **(extra or {})}, capture_output=True
        )
        assert res.returncode == 0, res.stderr
        return [p.read_text().strip() for p in sorted(tmp_path.glob("out.*"))]

    cpus = default_max_jobs()
    # one job (a training) gets every CPU; N jobs at once share them
    assert seen(["log/a.log"]) == [f"{cpus} {cpus}"]
    share = max(1, cpus // min(cpus, 2))
    assert seen(["JOB=1:2", "log/b.JOB.log"]) == [f"{share} {share}"] * 2
    assert seen(["--num-threads", "3", "log/c.log"]) == ["3 3"]
    # the user's own setting wins
    assert seen(["log/d.log"], {"OMP_NUM_THREADS": "5"}) == ["5"]


def test_cluster_options_are_accepted_and_ignored(tmp_path):
    res = sh(
        [
            RUN_LOCAL,
            "--mem",
            "4G",
            "--num_threads",
            "2",
            "--gpu",
            "1",
            "--time",
            "1:00:00",
            "--partition",
            "gpu",
            "--config",
            "conf/none.conf",
            "--account",
            "x",
            "JOB=2:3",
            "log/x.JOB.log",
            "echo",
            "JOB",
            r">",
            "out.JOB",
        ],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tmp_path.glob("out.*")) == ["out.2", "out.3"]
    assert (tmp_path / "out.3").read_text() == "3\n"


@pytest.mark.parametrize("limit", [1, 2, 4, None])
def test_max_jobs_run_limits_parallel_jobs(tmp_path, limit):
    (tmp_path / "t").mkdir()
    opts = [] if limit is None else ["--max-jobs-run", limit]
    res = sh([RUN_LOCAL, *opts, "JOB=1:4", "log/s.JOB.log", stamp_command()], tmp_path)
    assert res.returncode == 0, res.stderr
    expected = min(4, default_max_jobs()) if limit is None else limit  # default: the CPUs
    assert max_overlap(tmp_path / "t", range(1, 5)) == expected


def test_failed_jobs_are_named_in_one_line(tmp_path):
    res = sh([RUN_LOCAL, "JOB=1:4", "exp/log/x.JOB.log", "test $((JOB % 2)) = 1"], tmp_path)
    assert res.returncode == 1
    assert res.stderr == "run_local: 2 / 4 failed, see exp/log/x.2.log exp/log/x.4.log\n"
    assert (
        (tmp_path / "exp/log/x.2.log").read_text().splitlines()[-1].startswith("# Ended (code 1)")
    )
    # every job ran, also after the first failure
    assert (
        (tmp_path / "exp/log/x.3.log").read_text().splitlines()[-1].startswith("# Ended (code 0)")
    )


def test_pipeline_fails_when_any_part_fails(tmp_path):
    res = sh([RUN_LOCAL, "log/p.log", "false", r"|", "cat"], tmp_path)
    assert res.returncode == 1
    assert res.stderr == "run_local: 1 / 1 failed, see log/p.log\n"


def test_options_after_the_job_range(tmp_path):
    (tmp_path / "t").mkdir()
    res = sh(
        [RUN_LOCAL, "JOB=1:3", "--max-jobs-run", "1", "log/s.JOB.log", stamp_command()], tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert max_overlap(tmp_path / "t", range(1, 4)) == 1


def test_unwritable_log_dir_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    res = sh([RUN_LOCAL, "file/x.log", "true"], tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith("run_local: error: file/x.log: cannot write the job's log")
    assert len(res.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["JOB=1:4", "log/x.log", "true"], "does not contain JOB"),
        (["JOB=3:2", "log/x.JOB.log", "true"], "empty job range"),
        (["JOB=1-4", "log/x.JOB.log", "true"], "bad job range"),
        (["log/x.log"], "expected [JOB=1:N] LOG-FILE COMMAND"),
        (["--max-jobs-run", "0", "log/x.log", "true"], "at least 1"),
        (["--max-jobs-run"], "needs a value"),
        (["-V", "log/x.log", "true"], "unknown option '-V'"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, args, message):
    res = sh([RUN_LOCAL, *args], tmp_path)
    assert res.returncode != 0
    assert len(res.stderr.strip().splitlines()) == 1 and message in res.stderr, res.stderr


def test_help(tmp_path):
    res = sh([RUN_LOCAL, "--help"], tmp_path)
    assert res.returncode == 0 and "--max-jobs-run M" in res.stdout and "JOB=1:N" in res.stdout


def test_join_command_follows_kaldi():
    assert join_command(["a", "ark:b c |", "|", "d"]) == "a 'ark:b c |' | d"
    assert join_command(["a | b"]) == "a | b"  # one word: a script
    array = parse_array(["SPLIT=2:3", "log/x.SPLIT.log", "cmd", "SPLIT/3"])
    assert [array.log(i) for i in array.ids] == ["log/x.2.log", "log/x.3.log"]
    assert array.command_for(3) == "cmd 3/3"
    assert parse_array(["JOB=5", "log/x.JOB.log", "true"]).ids == range(5, 6)
    with pytest.raises(UserError, match="does not contain JOB"):
        parse_array(["JOB=1:2", "log/x.log", "true"])


def test_sigterm_stops_running_jobs(tmp_path):
    proc = subprocess.Popen(
        [RUN_LOCAL, "JOB=1:2", "log/w.JOB.log", "echo $$ > pid.JOB; exec sleep 60"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not all(
        (tmp_path / f"pid.{i}").is_file() and (tmp_path / f"pid.{i}").read_text() for i in (1, 2)
    ):
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.05)
    pids = [int((tmp_path / f"pid.{i}").read_text()) for i in (1, 2)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert "interrupted" in proc.stderr.read()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "# Ended (code 143)" in (tmp_path / "log/w.1.log").read_text()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigkill_of_the_runner_stops_its_jobs_and_ends_their_logs(tmp_path):
    # a runner killed outright cannot stop its jobs: each job's guard notices and does
    body = "echo $$ > pid.JOB; while true; do echo x >> out.JOB; sleep 0.05; done"
    proc = subprocess.Popen([RUN_LOCAL, "JOB=1:2", "log/w.JOB.log", body], cwd=tmp_path)
    deadline = time.monotonic() + 20
    while not all((tmp_path / f"out.{i}").is_file() for i in (1, 2)):
        assert time.monotonic() < deadline, "jobs did not start"
        time.sleep(0.05)
    pids = [int((tmp_path / f"pid.{i}").read_text()) for i in (1, 2)]
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 15
    # each job's shell leads its own process group: all of it ends (the loop's sleep too)
    while any(_group_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "the jobs outlived their runner"
        time.sleep(0.05)
    sizes = [(tmp_path / f"out.{i}").stat().st_size for i in (1, 2)]
    time.sleep(0.3)
    assert sizes == [(tmp_path / f"out.{i}").stat().st_size for i in (1, 2)], "still writing"
    for i in (1, 2):  # the guard writes the footer once its command has ended
        log = tmp_path / f"log/w.{i}.log"
        while not log.read_text().splitlines()[-1].startswith("# Ended"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert log.read_text().splitlines()[-1].startswith("# Ended (code 143)")
