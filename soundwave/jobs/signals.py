"""Turn SIGINT/SIGTERM into an exception so a runner can stop its jobs before exiting."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived; ``exit_status`` is what a shell would report (128 + N)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_status = 128 + signum


@contextlib.contextmanager
def raise_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers; there is nothing to do
        return

    def handler(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
