"""User-facing errors: one clear line, no traceback, non-zero exit.

Library code raises :class:`UserError` for anything a user can cause (a bad data dir,
a wrong path, a bad config key).  Entry points wrap their ``main`` with :func:`cli_main`,
which prints ``<prog>: error: <file>:<line>: <message>`` and exits with status 1.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn


class UserError(Exception):
    """An error caused by user input, reported as a single line.

    ``path`` and ``line`` (1-based) locate the problem when it is in a file.
    """

    def __init__(
        self, message: str, path: str | os.PathLike | None = None, line: int | None = None
    ):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return (where + self.message).replace("\n", " ")


def die(message: str, path: str | os.PathLike | None = None, line: int | None = None) -> NoReturn:
    raise UserError(message, path, line)


def cli_main(main: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an entry point so that a :class:`UserError` becomes one line and exit 1."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return main(*args, **kwargs)
        except UserError as err:
            prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
            prog = (
                prog.removesuffix(".py") if prog not in ("", "-c", "__main__.py") else "soundwave"
            )
            print(f"{prog}: error: {err.one_line()}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper
