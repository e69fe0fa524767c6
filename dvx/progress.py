"""Progress reporting seam: operations report work done; the CLI decides how to show it.

Operations receive a `Progress` and call `progress.task(...)`; the default draws nothing, and
the CLI passes a tqdm-backed one when stderr is a terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol


class Progress(Protocol):
    def task(self, desc: str, total: int | None, unit: str = "file"
             ) -> contextlib.AbstractContextManager[Callable[[int], None]]: ...


class NoProgress:
    @contextlib.contextmanager
    def task(self, desc: str, total: int | None, unit: str = "file"
             ) -> Iterator[Callable[[int], None]]:
        yield lambda n: None


BYTES_BAR_FROM = 32 << 20  # a file this large gets a bar of its own, in bytes


@contextlib.contextmanager
def byte_progress(progress: Progress, desc: str, size: int
                  ) -> Iterator[Callable[[int], None] | None]:
    """A bar in bytes for one large file (smaller files need none): the callback to tell it
    of each step, or None."""
    if size < BYTES_BAR_FROM:
        yield None
        return
    with progress.task(desc, size, "B") as advance:
        yield advance
