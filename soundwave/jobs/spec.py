"""The command line shared by the job runners (Kaldi's run.pl / queue.pl contract).

    <runner> [--opt value ...] [JOB=1:N] <log-file> <command...>

Options come first (or right after ``JOB=1:N``), as ``--name value`` (or ``--name=value``; ``-tc N`` is Kaldi's alias
of ``--max-jobs-run N``).  ``JOB=1:N`` (any identifier, e.g. ``SPLIT=3:5``; ``JOB=3`` is
a single job) makes an array: the identifier is replaced by the job id in the log file
name and in the command.  The command words are joined the way Kaldi joins them: a word
without white space is used as is, so ``\\|`` or ``'>'`` act as shell operators, and a
word with white space is quoted.  A command given as one single word is used verbatim as
a shell script, so ``"a | b"`` works too.  The command runs under ``bash -o pipefail -c``:
a pipeline fails when any of its commands fails (Kaldi's runners would hide that).
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from soundwave.errors import UserError

_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")
_OPTION_NAME = re.compile(r"^--([A-Za-z][A-Za-z0-9_-]*)$")

USAGE_EPILOG = """\
examples:
  %(prog)s JOB=1:4 exp/log/split.JOB.log my_tool --part JOB data/x exp/x.JOB
  %(prog)s exp/log/one.log "gunzip -c a.gz | wc -l"
  %(prog)s --max-jobs-run 2 JOB=1:8 exp/log/x.JOB.log echo JOB \\> exp/x.JOB.txt

A job's log starts with the command and the start time and ends with
'# Accounting: time=SECONDS threads=N' and '# Ended (code RC) at DATE, ...'.
If any job fails, one line names the failed jobs' logs and the exit status is 1.
"""


@dataclass(frozen=True)
class JobArray:
    """One command run once per job id, each run writing its own log file."""

    name: str | None  # the placeholder (``JOB``); None for a single job
    start: int
    end: int
    log_template: str
    command: str  # shell text that still contains the placeholder

    @property
    def ids(self) -> range:
        return range(self.start, self.end + 1)

    def _fill(self, text: str, job_id: int) -> str:
        # A plain substring replacement, exactly as Kaldi's run.pl does it.
        return text if self.name is None else text.replace(self.name, str(job_id))

    def log(self, job_id: int) -> str:
        return self._fill(self.log_template, job_id)

    def command_for(self, job_id: int) -> str:
        return self._fill(self.command, job_id)


@dataclass(frozen=True)
class RunnerArgs:
    """Parsed runner command line: known options, any other ``--name value`` pairs, the array."""

    options: argparse.Namespace
    extra: dict[str, str]  # options the runner does not know, names with underscores
    array: JobArray


def join_command(words: Sequence[str]) -> str:
    """Join command words into shell text the way Kaldi's run.pl does (see module doc)."""
    if len(words) == 1:
        return words[0]
    return " ".join(w if w and not re.search(r"\s", w) else shlex.quote(w) for w in words)


def option_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every runner accepts (each runner decides which it uses)."""
    # the entry points' docstrings show the usage line indented; argparse prints its own
    description = "\n\n".join(
        part for part in description.strip().split("\n\n") if not part.startswith("    ")
    )
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        usage="%(prog)s [options] [JOB=1:N] LOG-FILE COMMAND...",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # an unknown --part must not become --partition
    )
    p.add_argument(
        "--max-jobs-run",
        type=int,
        default=None,
        metavar="M",
        help="run at most M jobs at the same time",
    )
    p.add_argument(
        "--num-threads", type=int, default=None, metavar="N", help="threads (CPUs) each job uses"
    )
    p.add_argument("--mem", default=None, metavar="SIZE", help="memory per job, e.g. 4G")
    p.add_argument("--gpu", type=int, default=None, metavar="N", help="GPUs per job")
    p.add_argument("--time", default=None, metavar="T", help="time limit per job, e.g. 4:00:00")
    p.add_argument("--partition", default=None, metavar="P", help="queue / partition")
    p.add_argument(
        "--config", default=None, metavar="FILE", help="cluster config file (Kaldi slurm.pl format)"
    )
    return p


def _split_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split leading ``--name value`` pairs (normalised to ``--name-with-dashes=value``)."""
    opts: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-h", "--help"):
            opts.append(word)
            i += 1
            continue
        if word == "-tc":  # Kaldi's spelling of --max-jobs-run
            word = "--max-jobs-run"
        if not word.startswith("--"):
            break
        name, eq, value = word.partition("=")
        if not _OPTION_NAME.match(name):
            raise UserError(f"bad option '{word}' (options are --name value)")
        if not eq:
            if i + 1 >= len(argv):
                raise UserError(f"option {name} needs a value")
            value = argv[i + 1]
            i += 1
        opts.append(f"{name.replace('_', '-')}={value}")
        i += 1
    return opts, list(argv[i:])


def parse_runner_args(argv: Sequence[str], parser: argparse.ArgumentParser) -> RunnerArgs:
    """Parse a runner command line; ``--help`` prints usage and exits 0."""
    opt_words, rest = _split_options(argv)
    if rest and _RANGE.match(rest[0]):  # Kaldi also takes options after JOB=1:N
        more, after = _split_options(rest[1:])
        opt_words, rest = opt_words + more, [rest[0], *after]
    options, unknown = parser.parse_known_args(opt_words)
    extra = {}
    for word in unknown:
        name, _, value = word.partition("=")
        extra[name[2:].replace("-", "_")] = value
    if options.max_jobs_run is not None and options.max_jobs_run < 1:
        raise UserError(f"--max-jobs-run must be at least 1, got {options.max_jobs_run}")
    return RunnerArgs(options=options, extra=extra, array=parse_array(rest))


def parse_array(words: Sequence[str]) -> JobArray:
    """Parse ``[JOB=a:b] LOG COMMAND...``."""
    words = list(words)
    name, start, end = None, 1, 1
    if words and (m := _RANGE.match(words[0])):
        name, start = m.group(1), int(m.group(2))
        end = int(m.group(3)) if m.group(3) is not None else start
        words = words[1:]
        if end < start:
            raise UserError(f"empty job range '{name}={start}:{end}'")
    elif words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        raise UserError(f"bad job range '{words[0]}' (expected e.g. JOB=1:4)")
    if len(words) < 2:
        raise UserError("expected [JOB=1:N] LOG-FILE COMMAND... (see --help)")
    log, command = words[0], join_command(words[1:])
    if log.startswith("-"):
        raise UserError(f"unknown option '{log}' (options are --name value, before the log file)")
    if name is not None and end > start and name not in log:
        raise UserError(
            f"running {end - start + 1} jobs but the log file '{log}' does not contain {name}"
        )
    if not command.strip():
        raise UserError("empty command")
    return JobArray(name=name, start=start, end=end, log_template=log, command=command)


def failure_line(
    prog: str,
    array: JobArray,
    failed: Sequence[int],
    logs: dict[int, str] | None = None,
    limit: int = 20,
) -> str:
    """``prog: 2 / 4 failed, see LOG LOG`` (at most ``limit`` logs are named)."""
    logs = logs or {}
    names = [logs.get(i, array.log(i)) for i in failed[:limit]]
    more = f" (and {len(failed) - limit} more)" if len(failed) > limit else ""
    return f"{prog}: {len(failed)} / {len(array.ids)} failed, see {' '.join(names)}{more}"


def report(
    prog: str, array: JobArray, codes: dict[int, int | None], logs: dict[int, str] | None = None
) -> int:
    """Print the failure line if any job failed (code non-zero or None); return 1 or 0."""
    failed = [i for i in array.ids if codes.get(i) != 0]
    if not failed:
        return 0
    print(failure_line(prog, array, failed, logs), file=sys.stderr)
    return 1
