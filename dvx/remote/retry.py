"""Bounded retries with jittered exponential backoff, for transient remote errors.

A missing object, a permission problem, a usage error, a full disk (or used-up quota) or a local
file that changed while it was read never gets better by trying again; dropped connections,
timeouts, throttling and server errors often do. A corrupt download is retried too: a truncated
transfer looks exactly like that.
"""

from __future__ import annotations

import contextlib
import errno
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

from dvx.errors import CorruptObjectError, DvxError, RemoteError
from dvx.fsutil import FULL_DISK_ERRNOS, FileChangedError, FileVersion, NotRegularFileError
from dvx.fsutil import describe as describe_os_error
from dvx.logs import get_logger
from dvx.objects.blobs import Blobs, BytesLike, Details, OnBytes
from dvx.remote.backends import certificate_refusal, redact_urls

log = get_logger(__name__)

T = TypeVar("T")

# A local file that changed while it was read (FileChangedError) is another version on the
# next attempt: never the bytes an upload is named for.
PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
             FileExistsError, NotImplementedError, ValueError, TypeError, KeyboardInterrupt,
             FileChangedError)
# Library errors (named, to avoid importing every backend) that no retry can fix.
PERMANENT_NAMES = frozenset({"NoCredentialsError", "PartialCredentialsError",
                             "InvalidConfigError", "ProfileNotFound", "PermissionDenied",
                             "HostKeyNotVerifiable", "KeyImportError", "ParamValidationError"})
BASE_DELAY = 0.1
MAX_DELAY = 2.0


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, CorruptObjectError):
        return True
    if isinstance(exc, NotRegularFileError) or getattr(exc, "errno", None) == errno.ELOOP:
        return False  # a FIFO, a folder or a loop of links where a blob should be stays so
    if getattr(exc, "errno", None) in FULL_DISK_ERRNOS:
        return False  # nothing frees the disk within a command: each try would only fill it
    if getattr(exc, "errno", None) == errno.EMFILE:
        return False  # the objects in flight hold the descriptors: a try meets the same limit
    if any(cls.__name__ in PERMANENT_NAMES for cls in type(exc).__mro__):
        return False
    if certificate_refusal(exc) is not None:  # the same certificate comes back every time
        return False
    return not isinstance(exc, (*PERMANENT, DvxError))


def is_timeout(exc: BaseException) -> bool:
    """A request that got no answer in time (from any client library)."""
    return isinstance(exc, TimeoutError) or any(
        "Timeout" in cls.__name__ for cls in type(exc).__mro__)


TIMEOUT_ATTEMPTS = 2  # a server that let one request wait out the timeout rarely answers later


def check_answering(blobs: Blobs) -> None:
    """Fail at once if a request to this store already waited out its timeout and its
    retries in this command: every later request, of any step, would wait it out again."""
    if blobs.stalled is not None:
        raise RemoteError(f"not attempted: {blobs.stalled}")


class CutOff(TimeoutError):
    """A request that got no answer in time and left something on the store, which its
    message adds (`left`); the store is taken for gone for the request's own reason
    (`cause`), which later requests give."""

    def __init__(self, cause: BaseException, left: str) -> None:
        super().__init__(f"{describe(cause)}; {left}")
        self.cause = cause


def note_if_stalled(blobs: Blobs, exc: BaseException) -> None:
    """Remember a request that failed for want of an answer (check_answering)."""
    if isinstance(exc, CutOff):
        exc = exc.cause
    if blobs.stalled is None and is_timeout(exc):
        why = describe(exc)
        blobs.stalled = why if "stopped answering" in why else \
            f"the remote stopped answering ({why})"


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


# Why an object failed once the process had as many files open as it may: the same for
# every object it strikes (never naming one's file), so a report sums them up in one line.
OUT_OF_OPEN_FILES = ("too many open files, as the objects in flight, with the files and "
                     "connections each holds, reached this process's limit (`ulimit -n`): "
                     "run the command again with a lower -j, or raise that limit first, "
                     "with `ulimit -n 4096` say")


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure, without any credentials the exception may carry: a
    clause without a closing full stop (a DvxError's sentence loses its own), so that the
    message it goes into punctuates it once."""
    if isinstance(exc, DvxError):
        return exc.message.rstrip(".")
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return OUT_OF_OPEN_FILES
    refused = certificate_refusal(exc)
    if refused is not None:
        return refused
    if isinstance(exc, OSError) and exc.strerror and isinstance(exc.filename, str):
        # Which file or folder: a remote's refusing it reads like a local file's otherwise.
        return redact_urls(describe_os_error(exc))
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError) and str(exc):
        return redact_urls(str(exc).splitlines()[0])
    text = redact_urls(str(exc).splitlines()[0]) if str(exc) else ""
    if not text and is_timeout(exc):  # asyncio's and aiohttp's say nothing more
        return "timed out: no answer within the remote's timeout"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Retrying(Blobs):
    """A store whose every request is retried by the policy above: for single requests
    (indexes, packs, logs, run records). Bulk transfers retry whole objects instead
    (workers.py), since a download is only good once its hash is checked."""

    def __init__(self, inner: Blobs, attempts: int) -> None:
        super().__init__(inner.root)
        self.inner, self.attempts = inner, attempts
        self.read_only, self.can_list = inner.read_only, inner.can_list
        self.server, self.on_this_machine = inner.server, inner.on_this_machine
        self.delete_right, self.credentials_from = inner.delete_right, inner.credentials_from

    def wrong_credentials(self, exc: PermissionError) -> str | None:
        return self.inner.wrong_credentials(exc)

    def _retried(self, call: Callable[[], T], what: str) -> T:
        check_answering(self.inner)
        try:
            return with_retries(call, self.attempts, what)
        except Exception as exc:
            note_if_stalled(self.inner, exc)
            raise

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with self.inner.session():
            yield

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        return self._retried(lambda: self.inner.get(name, start, end), name)

    def open(self, name: str, block_size: int | None = None) -> IO[bytes]:
        return self._retried(lambda: self.inner.open(name, block_size), name)

    def put(self, name: str, data: BytesLike) -> None:
        self._retried(lambda: self.inner.put(name, data), name)

    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        self._retried(lambda: self.inner.put_file(name, local_path, on_bytes, version), name)

    def exists(self, name: str) -> bool:
        return self._retried(lambda: self.inner.exists(name), name)

    def existing(self, names: Iterable[str]) -> set[str]:
        asked = list(names)
        return self._retried(lambda: self.inner.existing(asked), "checks")

    def size(self, name: str) -> int:
        return self._retried(lambda: self.inner.size(name), name)

    def names(self, directory: str) -> list[str]:
        return self._retried(lambda: self.inner.names(directory), f"listing {directory}")

    def details(self, directory: str) -> Details:
        return self._retried(lambda: self.inner.details(directory), f"listing {directory}")

    def walk(self, directory: str) -> Iterator[str]:
        return iter(self._retried(lambda: list(self.inner.walk(directory)),
                                  f"listing {directory}"))

    def walk_details(self, directory: str) -> Details:
        return self._retried(lambda: self.inner.walk_details(directory),
                             f"listing {directory}")

    def move(self, name: str, to: str) -> None:
        self._retried(lambda: self.inner.move(name, to), name)

    def delete(self, names: list[str]) -> None:
        self._retried(lambda: self.inner.delete(names), "deleting")
