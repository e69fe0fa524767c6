"""Bounded retries with jittered exponential backoff, for transient remote errors.

A missing object, a permission problem or a usage error never gets better by trying again;
dropped connections, timeouts, throttling and server errors often do. A corrupt download is
retried too: a truncated transfer looks exactly like that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dvx.errors import CorruptObjectError, DvxError
from dvx.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")

PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
             FileExistsError, NotImplementedError, ValueError, TypeError, KeyboardInterrupt)
# Library errors (named, to avoid importing every backend) that no retry can fix.
PERMANENT_NAMES = frozenset({"NoCredentialsError", "PartialCredentialsError",
                             "InvalidConfigError", "ProfileNotFound", "PermissionDenied",
                             "HostKeyNotVerifiable", "KeyImportError", "ParamValidationError"})
BASE_DELAY = 0.1
MAX_DELAY = 2.0


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, CorruptObjectError):
        return True
    if any(cls.__name__ in PERMANENT_NAMES for cls in type(exc).__mro__):
        return False
    return not isinstance(exc, (*PERMANENT, DvxError))


def is_timeout(exc: BaseException) -> bool:
    """A request that got no answer in time (from any client library)."""
    return isinstance(exc, TimeoutError) or any(
        "Timeout" in cls.__name__ for cls in type(exc).__mro__)


TIMEOUT_ATTEMPTS = 2  # a server that let one request wait out the timeout rarely answers later


def _delay_before_retry(exc: Exception, attempt: int, attempts: int, what: str) -> float:
    """Seconds to wait before the next attempt; re-raises `exc` when there is none."""
    if attempt >= attempts or not is_transient(exc):
        raise exc
    if is_timeout(exc) and attempt >= TIMEOUT_ATTEMPTS:
        raise exc
    delay = min(BASE_DELAY * 2 ** (attempt - 1), MAX_DELAY) * (0.5 + random.random())
    log.info("Retrying %s in %.1fs after: %s (attempt %d of %d)", what, delay, describe(exc),
             attempt, attempts)
    return delay


def with_retries(call: Callable[[], T], attempts: int, what: str,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            sleep(_delay_before_retry(exc, attempt, attempts, what))
    raise AssertionError("unreachable")


async def with_retries_async(call: Callable[[], Awaitable[T]], attempts: int, what: str) -> T:
    """`with_retries` for coroutines: the same policy, sleeping without blocking the loop."""
    import asyncio

    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            await asyncio.sleep(_delay_before_retry(exc, attempt, attempts, what))
    raise AssertionError("unreachable")


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure, without any credentials the exception may carry."""
    if isinstance(exc, DvxError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError) and str(exc):
        return str(exc).splitlines()[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
