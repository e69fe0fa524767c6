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
