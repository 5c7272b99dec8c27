"""Cluster config files in Kaldi's slurm.pl / queue.pl format.

    command sbatch --export=ALL          # the submit command and its fixed options
    option mem=* --mem=$0                # --mem VALUE adds these words, $0 = VALUE
    option mem=0                         # --mem 0 adds nothing (an exact value wins over *)
    option gpu=* -p gpu --gres=gpu:$0
    default gpu=0                        # used when the option is not given

A runner option given on the command line (``--num-threads 4`` is ``num_threads``) must
have a rule in the config; an option the config does not know is an error, as in Kaldi.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from soundwave.errors import UserError

DEFAULT_SLURM_CONFIG = """\
command sbatch --export=ALL
option mem=* --mem=$0
option mem=0
option num_threads=* --cpus-per-task=$0
option num_threads=1
option gpu=* --gres=gpu:$0
option gpu=0
option time=* --time=$0
option partition=* --partition=$0
option nodes=* --nodes=$0 --ntasks-per-node=1
"""

# Where Kaldi's slurm.pl looks when --config is not given.
DEFAULT_SLURM_CONFIG_PATH = "conf/slurm.conf"

_OPTION = re.compile(r"^option\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)(?:\s+(.*))?$")
_DEFAULT = re.compile(r"^default\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)$")


@dataclass
class ClusterConfig:
    """The submit command, option rules (name -> value or ``*`` -> words) and defaults."""

    command: list[str]
    rules: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    source: str = "the built-in slurm config"

    def option_words(self, options: dict[str, str]) -> list[str]:
        """The submit-command words for ``options`` (plus the config's defaults)."""
        words: list[str] = []
        for name, value in {**self.defaults, **options}.items():
            rule = self.rules.get(name)
            flag = "--" + name.replace("_", "-")
            if rule is None:
                raise UserError(f"option {flag} is not defined in {self.source}")
            if value in rule:
                words += rule[value]
            elif "*" in rule:
                words += [w.replace("$0", value) for w in rule["*"]]
            else:
                raise UserError(f"{flag} {value} is not allowed by {self.source}")
        return words


def parse_cluster_config(text: str, source: str) -> ClusterConfig:
    """Parse the config ``text`` (``source`` names it in error messages)."""
    command: list[str] | None = None
    rules: dict[str, dict[str, list[str]]] = {}
    defaults: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            if line.startswith("command ") or line == "command":
                command = shlex.split(line[len("command") :])
                if not command:
                    raise UserError("'command' needs the submit program", source, lineno)
            elif m := _OPTION.match(line):
                rules.setdefault(m.group(1), {})[m.group(2)] = shlex.split(m.group(3) or "")
            elif m := _DEFAULT.match(line):
                defaults[m.group(1)] = m.group(2)
            else:
                raise UserError(
                    f"cannot parse '{line}' (expected 'command ...', 'option NAME=VALUE ...' "
                    "or 'default NAME=VALUE')",
                    source,
                    lineno,
                )
        except ValueError as err:  # shlex: unbalanced quotes
            raise UserError(f"{err} in '{line}'", source, lineno) from None
    if command is None:
        raise UserError("no 'command' line (e.g. 'command sbatch --export=ALL')", source)
    return ClusterConfig(command=command, rules=rules, defaults=defaults, source=source)


def load_slurm_config(path: str | os.PathLike | None) -> ClusterConfig:
    """Read ``path``; without one, ``conf/slurm.conf`` if present, else the built-in config."""
    if path is None:
        if not Path(DEFAULT_SLURM_CONFIG_PATH).is_file():
            return parse_cluster_config(DEFAULT_SLURM_CONFIG, "the built-in slurm config")
        path = DEFAULT_SLURM_CONFIG_PATH
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot read the cluster config: {err.strerror}", path) from None
    return parse_cluster_config(text, str(path))
