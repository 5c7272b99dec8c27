"""A real single-node Slurm cluster on loopback, for tests (session fixture ``slurm_cluster``).

Use it from a test module with::

    from slurm_cluster import slurm_cluster  # noqa: F401  (registers the fixture)

    @pytest.mark.slurm
    def test_x(slurm_cluster):
        subprocess.run([...], env={**os.environ, **slurm_cluster})

The fixture yields the environment variables a Slurm client needs (``SLURM_CONF``).

Everything lives in a private temporary directory: a munge key and its own ``munged``
(the socket is named in slurm.conf's ``AuthInfo``), slurm.conf, state, spool, pid and log
files; the ports are free ones picked at start.  So the system's munge and Slurm set-up
are neither needed nor touched, and two test sessions on one machine (other workers,
CI jobs) each get their own cluster.  There is no systemd: the daemons run in the
foreground as children of the test process and are stopped by PID at the end.

Needs root (slurmd runs jobs as their submitter) and the slurm-wlm and munge packages;
if they are missing they are installed with apt when possible, otherwise the tests that
use the fixture are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scancel")
# Held while a fixture picks its ports and brings its daemons up, so that two sessions
# starting at the same moment cannot pick the same ports.
START_LOCK = Path(tempfile.gettempdir()) / "soundwave-slurm-fixture.lock"
START_TIMEOUT_S = 60.0


def _find(name: str) -> str | None:
    return shutil.which(name) or next(
        (
            p
            for d in ("/usr/sbin", "/usr/local/sbin", "/sbin")
            if os.access(p := f"{d}/{name}", os.X_OK)
        ),
        None,
    )


def _missing() -> list[str]:
    return [n for n in (*DAEMONS, *CLIENTS) if _find(n) is None]


def _install_or_skip() -> None:
    """Install slurm-wlm and munge with apt if they are missing; skip when that cannot be done."""
    if not _missing():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            f"Slurm is not installed ({', '.join(_missing())} missing) and cannot be "
            "installed here (needs root and apt-get): apt-get install slurm-wlm munge"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"],
        ):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"Slurm is not installed and 'apt-get install slurm-wlm munge' failed: {err}")
    if _missing():
        pytest.skip(
            f"Slurm still incomplete after apt-get install: {', '.join(_missing())} missing"
        )


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _node_line(host: str) -> str:
    """This machine's hardware as slurmd sees it (so the node is not drained for a mismatch)."""
    res = subprocess.run([_find("slurmd") or "slurmd", "-C"], capture_output=True, text=True)
    first = res.stdout.splitlines()[0] if res.returncode == 0 and res.stdout else ""
    if first.startswith("NodeName="):
        hw = first.split(None, 1)[1]
    else:
        hw = f"CPUs={os.cpu_count() or 1} RealMemory=1000"
    return f"NodeName={host} NodeAddr=127.0.0.1 {hw}"


def write_slurm_conf(root: Path, host: str, ctld_port: int, slurmd_port: int) -> Path:
    """slurm.conf for a one-node cluster whose files all live under ``root``."""
    conf = root / "slurm.conf"
    conf.write_text(
        f"""\
ClusterName=swtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/run/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
# schedule a submitted or freed-up task at once instead of within seconds
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
KillWait=5
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
{_node_line(host)}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )
    return conf


def _die_with_parent() -> None:
    """In a daemon before exec: get SIGTERM if the test process dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):  # slurmd, slurmctld, then munged
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _log_tail(root: Path, lines: int = 15) -> str:
    out = []
    for log in sorted((root / "log").glob("*")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(out)


@contextlib.contextmanager
def local_slurm() -> Iterator[dict[str, str]]:
    """Start the cluster, yield ``{"SLURM_CONF": ...}``, stop it (see the module doc)."""
    _install_or_skip()
    if os.geteuid() != 0:
        pytest.skip("a local Slurm test cluster needs root (slurmd runs the jobs as their user)")
    root = Path(tempfile.mkdtemp(prefix="sw-slurm-"))  # short: the munge socket path is limited
    root.chmod(0o755)  # munged wants a socket path that everyone can traverse
    for sub in ("state", "spool", "run", "log"):
        (root / sub).mkdir(mode=0o755)
    key = root / "run" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    host = socket.gethostname().split(".")[0]  # hostname -s: slurmd looks itself up by it
    procs: list[subprocess.Popen] = []
    env = dict(os.environ)
    try:
        with open(START_LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            conf = write_slurm_conf(root, host, *_free_ports(2))
            env["SLURM_CONF"] = str(conf)
            run = root / "run"
            commands = {
                "munged": [
                    _find("munged"),
                    "-F",
                    f"--socket={run}/munge.socket",
                    f"--key-file={key}",
                    f"--pid-file={run}/munged.pid",
                    f"--seed-file={run}/munged.seed",
                    f"--log-file={root}/log/munged.log",
                ],
                "slurmctld": [_find("slurmctld"), "-D", "-f", str(conf)],
                "slurmd": [_find("slurmd"), "-D", "-f", str(conf)],
            }
            for name, cmd in commands.items():
                with open(root / "log" / f"{name}.out", "w") as out:
                    procs.append(
                        subprocess.Popen(
                            cmd,
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=_die_with_parent,
                        )
                    )
                if name == "munged":
                    _wait_for(
                        lambda: (run / "munge.socket").exists(), procs, root, "munged's socket"
                    )
            _wait_for(lambda: _node_state(host, env) == "idle", procs, root, f"node {host} idle")
        yield {"SLURM_CONF": str(conf)}
    finally:
        if procs and procs[-1].poll() is None:
            subprocess.run(
                [_find("scancel") or "scancel", "--user", str(os.getuid())],
                env=env,
                capture_output=True,
                timeout=30,
                check=False,
            )
        _stop(procs)
        shutil.rmtree(root, ignore_errors=True)


def _node_state(host: str, env: dict[str, str]) -> str:
    res = subprocess.run(
        ["sinfo", "-h", "-n", host, "-o", "%t"], env=env, capture_output=True, text=True, timeout=30
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def _wait_for(ready, procs: list[subprocess.Popen], root: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        dead = [p.args[0] for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            why = (
                f"{', '.join(map(str, dead))} exited"
                if dead
                else f"no {what} after {START_TIMEOUT_S:.0f} s"
            )
            raise RuntimeError(f"local Slurm did not start: {why}\n{_log_tail(root)}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[dict[str, str]]:
    """A running one-node Slurm; yields ``{"SLURM_CONF": path}`` to add to a client's env."""
    with local_slurm() as env:
        yield env
