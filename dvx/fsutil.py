"""Filesystem primitives: the one atomic-write helper and the link/copy strategies.

Every write of repository state (pointers, manifests, config, .gitignore, objects) goes
through a temporary file in the destination's own directory followed by a rename, so a
reader, or a process killed half-way, only ever sees the old or the new complete file.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass

from dvx import faults

BytesLike = bytes | bytearray | memoryview  # data to write: bytes, or a view of a buffer

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
_FICLONE = 0x40049409  # ioctl number from <linux/fs.h>


NAME_MAX = 255  # bytes in one file name, on every filesystem dvx supports
PATH_MAX = 4096  # bytes in a whole path the system takes (Linux), its final NUL included
_TEMP_MARK = "dvx-"  # before the digits: no file of a user's is taken for one of dvx's
_TEMP_EXTRA = 22  # what a temporary's name adds: ".", ".dvx-", 12 hex digits, ".tmp"
STALE_TEMP_SECONDS = 3600  # temporaries this old, and held by no process, belong to no command


def temp_name_for(path: str) -> str:
    """A unique, hidden name beside `path` (same directory, so rename is atomic): `dvx-` and
    12 hex digits, this process's random prefix and a counter (no system call per name). It
    never exceeds NAME_MAX: a long name is cut, and marked so with `~` before `dvx-`."""
    head, tail = os.path.split(path)
    unique = f"{_TEMP_MARK}{_temp_prefix}{next(_temp_counter) & 0xFFFFFF:06x}"
    encoded = os.fsencode(tail)
    if len(encoded) + _TEMP_EXTRA <= NAME_MAX:
        return os.path.join(head, f".{tail}.{unique}.tmp")
    cut = os.fsdecode(encoded[:NAME_MAX - _TEMP_EXTRA])
    return os.path.join(head, f".{cut}~{unique}.tmp")


def spellings_of_one_file(folder: str, name: str, others: Sequence[str]) -> list[str]:
    """Those of `others` (names that differ from `name` in letter case or Unicode
    normalisation only) that the filesystem holding `folder` takes for `name`: one of them
    would overwrite the other there. Probed with a temporary named after `name`, looked up by
    each other spelling, then deleted (one a killed process leaves stands in for `name`, and
    the next checkout removes it). Names too long for that are probed by letter case."""
    probe = temp_name_for(os.path.join(folder, name))
    tail = os.path.basename(probe)
    if any(len(os.fsencode(n)) + _TEMP_EXTRA > NAME_MAX for n in (name, *others)):
        spelled = [tail.swapcase() for _ in others]
    else:
        unique = tail[len(name) + 2:]  # after ".NAME.": "dvx-<12 hex digits>.tmp"
        spelled = [f".{other}.{unique}" for other in others]
    with open(probe, "xb"):
        pass
    try:
        return [other for other, lookup in zip(others, spelled, strict=True)
                if os.path.lexists(os.path.join(folder, lookup))]
    finally:
        remove_quietly(probe)


def _new_temp_prefix() -> None:
    global _temp_prefix, _temp_counter
    _temp_prefix, _temp_counter = os.urandom(3).hex(), itertools.count()


_temp_prefix, _temp_counter = "", itertools.count()
_new_temp_prefix()
if hasattr(os, "register_at_fork"):  # workers (dvx/processes.py) must not repeat the parent's
    os.register_at_fork(after_in_child=_new_temp_prefix)


# The names `temp_name_for` gives: only these are dvx's temporaries, never data.
_TEMP_NAME = re.compile(r"\.(.+)([.~])dvx-[0-9a-f]{12}\.tmp", re.DOTALL)
# The names dvx versions before the mark gave theirs. A file of a user's may be named so: in
# the workspace it is data like any other, and only in a cache's tmp/ (dvx's alone) is one a
# leftover.
_OLD_TEMP_NAME = re.compile(r"\.(.+)[.~][0-9a-f]{12}\.tmp", re.DOTALL)


def temp_target(name: str) -> str | None:
    """If `name` is a temporary made by `temp_name_for`, the name of the file it stands in
    for (for a cut name, the part that was kept). A process killed mid-write leaves such a
    file behind; it is never data."""
    match = _TEMP_NAME.fullmatch(name)
    return match.group(1) if match else None


def is_old_temp_name(name: str) -> bool:
    """Is `name` of the form dvx versions before the `dvx-` mark gave their temporaries?"""
    return _OLD_TEMP_NAME.fullmatch(name) is not None


def is_temp_for(name: str, target: str) -> bool:
    """Is `name` a temporary that `temp_name_for` made for a file named `target`?"""
    match = _TEMP_NAME.fullmatch(name)
    if match is None:
        return False
    kept, mark = match.groups()
    if mark == ".":
        return kept == target
    encoded = os.fsencode(target)
    return len(encoded) + _TEMP_EXTRA > NAME_MAX and encoded.startswith(os.fsencode(kept))


def is_leftover(path: str, older_than: float = 0) -> bool:
    """May the temporary at `path` be deleted as what a killed process left: a file or
    symlink at least `older_than` seconds old that no live process holds (see `hold`)?"""
    import time

    try:
        st = os.lstat(path)
    except OSError:
        return False
    if older_than and st.st_mtime >= time.time() - older_than:
        return False
    if stat.S_ISLNK(st.st_mode):  # made whole by symlink(2): never being written
        return True
    return stat.S_ISREG(st.st_mode) and not is_held(path)


def temporaries_for(directory: str, names: Collection[str]) -> list[str]:
    """The paths of the temporaries (files and symlinks, never folders) `directory` holds
    for a file named one of `names` (`is_temp_for`), a write at it or one a killed write left;
    none for a directory that cannot be listed. One scan of `directory`."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return [entry.path for entry in entries
            if any(is_temp_for(entry.name, name) for name in names)
            and not entry.is_dir(follow_symlinks=False)]


def remove_leftover_temporaries(directory: str, names: Collection[str]) -> None:
    """Delete the temporaries a killed write of a file named one of `names` left in
    `directory`: none a live write holds. A directory that cannot be listed is left alone."""
    for path in temporaries_for(directory, names):
        if is_leftover(path):
            remove_quietly(path)


# Large temporaries this process is writing (downloads, copies into the cache, uploads to a
# directory remote): on Ctrl-C the CLI removes them before it exits, rather than waiting for
# the threads writing them.
_in_flight: set[str] = set()


def track_temporary(path: str) -> str:
    _in_flight.add(path)
    return path


def drop_temporary(path: str) -> None:
    """Remove a tracked temporary (if it is still there) and forget it."""
    remove_quietly(path)
    _in_flight.discard(path)


def remove_temporaries_in_flight() -> None:
    for path in list(_in_flight):
        drop_temporary(path)


def hold(fd: int) -> None:
    """Mark the temporary open at `fd` as this process's while it stays open (an flock the
    kernel drops when the process ends, however it ends): see `is_held`."""
    import fcntl

    with contextlib.suppress(OSError):  # a filesystem without locks: the age rule remains
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def is_held(path: str) -> bool:
    """Is a live process writing the temporary at `path` (see `hold`)?"""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return True  # cannot tell: leave it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def fsync_dir(directory: str) -> None:
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(os.path.dirname(path))


@contextlib.contextmanager
def _held_new_file(path: str, mode: int = 0o666) -> Iterator[int]:
    """Create `path` (it must not exist) with `mode` (less the umask) and hold it (see `hold`)
    until the block ends: a descriptor of its own keeps the hold while a duplicate is written
    and closed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        hold(fd)
        yield fd
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, fsync: bool = True, mode: int | None = None,
                 before_rename: Callable[[], None] = lambda: None) -> None:
    """Replace `path` by a file holding `data`, with the permissions `mode` if given. The
    temporary is written, flushed and closed (and fsynced if `fsync`) before it is renamed: a
    write that fails (full disk, quota, file size limit) leaves the old `path` whole. It is
    created with `mode`, so a private file's content is never readable by others, not even
    for a moment. `before_rename` runs last before the rename: what it raises leaves `path`
    as it is. The rename is the moment `path` is replaced: what raises after it (a Ctrl-C, a
    failed fsync of the folder) leaves `path` holding `data` (`holds` tells)."""
    tmp = temp_name_for(path)
    try:
        with writing(path), _held_new_file(tmp, 0o666 if mode is None else mode) as held:
            with open(os.dup(held), "wb") as f:
                f.write(data)
                faults.point("atomic_write.after_temp_write")
                f.flush()
                if fsync:
                    os.fsync(f.fileno())
            if mode is not None:  # exactly `mode`, whatever the umask took away
                os.chmod(tmp, mode)
            faults.point("atomic_write.before_rename")
            before_rename()
            os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    faults.point("atomic_write.after_rename")
    if fsync:
        fsync_dir(os.path.dirname(path))


def rewrite(path: str, data: bytes, *, fsync: bool = True, mode: int | None = None,
            before_rename: Callable[[], None] = lambda: None) -> None:
    """`atomic_write` for a file of the user's that dvx edits (params, dvx.yaml, dvx.lock,
    .gitignore): it keeps the permissions `path` has (`mode`, taken earlier, if given), so
    an executable or private file stays so and Git records no mode change. A new file gets
    the default mode (0666 less the umask)."""
    if mode is None:
        mode = regular_file_mode(path)
    atomic_write(path, data, fsync=fsync, mode=mode, before_rename=before_rename)


def regular_file_mode(path: str) -> int | None:
    """The read, write and execute bits of the regular file at `path`, for the file that
    replaces it; never setuid, setgid or sticky, which would pass its owner's or group's
    rights to new bytes. None if there is none (a link is replaced by a file of its own,
    which gets the default mode)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) & 0o777 if stat.S_ISREG(st.st_mode) else None


def holds(path: str, data: bytes) -> bool:
    """Does the file at `path` hold exactly `data`? False if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(len(data) + 1) == data
    except OSError:
        return False


def write_all(fd: int, data: BytesLike) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def pwrite_all(fd: int, data: BytesLike, offset: int) -> None:
    """All of `data` at `offset`, leaving the file position alone (threads may share `fd`)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


# --- new files that appear whole ------------------------------------------------------------


def write_whole(path: str, data: BytesLike, mode: int, *, replace: bool,
                exact_mode: bool = False, temp_dir: str | None = None,
                before_name: Callable[[], None] = lambda: None,
                mtime_before_ctime: bool = False) -> bool:
    """Make `path` a file holding `data` with permissions `mode`, never seen half-written;
    whether this call gave it that name (False: an existing file was kept).

    Written as an unnamed file (O_TMPFILE) and then linked to `path`: no temporary name to
    create and remove, and nothing left behind if the process dies. Where the filesystem has
    no unnamed files, written at a temporary name (in `temp_dir`, default beside `path`) that
    is then renamed or linked. An existing `path` is replaced if `replace`, else kept as it
    is (objects are never replaced). A missing parent directory is created. `exact_mode`:
    `mode` exactly, whatever the umask; `before_name` runs between writing and naming;
    `mtime_before_ctime`: see `set_mtime_before_ctime`.
    """
    def fill(fd: int) -> None:
        write_all(fd, data)
        if mtime_before_ctime:
            set_mtime_before_ctime(fd)

    with writing(path):
        return _create_whole(path, fill, mode, replace, exact_mode, temp_dir, before_name)


# A second: more than the kernel's file clock (one tick) lags the clock `time` reads.
_BEFORE_NOW_NS = 1_000_000_000


def set_mtime_before_ctime(target: int | str) -> int:
    """Set the file's modification time (and access time) to a second before now, and
    return it: the change of its inode time the kernel records for it becomes now, later,
    while a write to the file since, in place, sets both to the same time. So a file whose
    mtime is not before its ctime was written after this, or by something else (`target`:
    an open descriptor or a path)."""
    then = time.time_ns() - _BEFORE_NOW_NS
    os.utime(target, ns=(then, then))
    return then


def copy_small_file(src: str, dst: str, mode: int, *, replace: bool, exact_mode: bool = False,
                    before_name: Callable[[], None] = lambda: None) -> bool:
    """Make `dst` a copy of the file `src`, never seen half-written (as `write_whole` does),
    if `src` is smaller than SMALL_FILE; False, and nothing written, if it is not.

    The kernel copies the bytes (`copy_range`): one memory copy instead of a read into Python
    and a write out of it, which took 11-16 % off each file of a checkout of W2's 10,000
    files of 4-64 KiB (docs/performance.md)."""
    fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size >= SMALL_FILE:
            return False
        with writing(dst):
            _create_whole(dst, lambda out: _copy_exactly(fd, out, size), mode, replace,
                          exact_mode, None, before_name)
        return True
    finally:
        os.close(fd)


def _copy_exactly(src_fd: int, dst_fd: int, size: int) -> None:
    if copy_range(src_fd, dst_fd, size) < size:
        raise changed_while_read()


def copy_range(src_fd: int, dst_fd: int, length: int) -> int:
    """Copy up to `length` bytes from the current offset of `src_fd` to that of `dst_fd`
    (fewer only at the end of the file); return how many. In the kernel where it can
    (copy_file_range: no bytes through Python, and a shared-block clone on filesystems that
    offer one), else through a buffer (another filesystem, an old kernel)."""
    copied = 0
    kernel = True  # once refused, the rest of this copy goes through the buffer
    while copied < length:
        n = 0
        if kernel:
            try:
                n = _kernel_copy(src_fd, dst_fd, length - copied)
            except OSError:
                kernel = False
        if not kernel:
            chunk = os.read(src_fd, min(COPY_CHUNK, length - copied))
            n = len(chunk)
            write_all(dst_fd, chunk)
        if not n:
            break
        copied += n
    return copied


def _no_kernel_copy(_src_fd: int, _dst_fd: int, _count: int) -> int:
    raise OSError(errno.ENOSYS, "no copy_file_range on this system")


COPY_CHUNK = 1 << 20  # the buffer of a copy the kernel cannot make itself
_kernel_copy = getattr(os, "copy_file_range", _no_kernel_copy)  # Linux only


def _create_whole(path: str, fill: Callable[[int], None], mode: int, replace: bool,
                  exact_mode: bool, temp_dir: str | None, before_name: Callable[[], None]
                  ) -> bool:
    """`write_whole`, with the content written by `fill(fd)`."""
    fd = _open_unnamed(os.path.dirname(path), mode)
    if fd is None:
        return _write_named(path, fill, mode, replace, exact_mode, temp_dir, before_name)
    try:
        if exact_mode and mode & process_umask():
            os.fchmod(fd, mode)
        fill(fd)
        before_name()
        try:
            _link_unnamed(fd, path)
            return True
        except FileExistsError:
            if not replace:
                _check_is_file(path)
                return False  # an object is there already: identical by construction
        # Named until renamed: tracked, so Ctrl-C, which does not wait for this thread,
        # removes it.
        tmp = track_temporary(temp_name_for(path))
        try:
            _link_unnamed(fd, tmp)
        except BaseException:
            drop_temporary(tmp)
            raise
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        drop_temporary(tmp)
        raise
    _in_flight.discard(tmp)  # renamed: no longer there to remove
    return True


# Directories whose filesystem cannot make unnamed files (tried once each, then skipped).
_NO_UNNAMED: set[str] = set()
_UNNAMED_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL})


def _open_unnamed(directory: str, mode: int) -> int | None:
    directory = directory or "."
    if directory in _NO_UNNAMED or not _unnamed_supported():
        return None
    flags = os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC
    try:
        try:
            return os.open(directory, flags, mode)
        except FileNotFoundError:
            makedirs(directory)
            return os.open(directory, flags, mode)
    except OSError as exc:
        if exc.errno not in _UNNAMED_ERRNOS:
            raise
        _NO_UNNAMED.add(directory)
        return None


def _unnamed_supported() -> bool:
    global _unnamed_ok
    if _unnamed_ok is None:  # linking an unnamed file goes through /proc/self/fd
        _unnamed_ok = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
    return _unnamed_ok


_unnamed_ok: bool | None = None


def _link_unnamed(fd: int, path: str) -> None:
    # linkat(2) following the /proc link to the open file. Python calls linkat (not link,
    # which would link the /proc entry itself) only when given a directory fd; the source
    # path is absolute, so the fd passed is never used.
    with _refusal_names_folder(path):
        os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)


@contextlib.contextmanager
def _refusal_names_folder(target: str) -> Iterator[None]:
    """A link(2) to `target` refused for want of permission (EACCES: its folder may not be
    written, or searched) names that folder: link(2)'s error names the source, a
    /proc/self/fd entry or a temporary, which tells a user nothing."""
    try:
        yield
    except PermissionError as exc:
        if exc.errno != errno.EACCES:
            raise
        raise PermissionError(exc.errno, exc.strerror, os.path.dirname(target)) from exc


def _write_named(path: str, fill: Callable[[int], None], mode: int, replace: bool,
                 exact_mode: bool, temp_dir: str | None, before_name: Callable[[], None]
                 ) -> bool:
    tmp = track_temporary(temp_name_for(os.path.join(temp_dir, os.path.basename(path))
                                        if temp_dir else path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        try:
            fd = os.open(tmp, flags, mode)
        except FileNotFoundError:
            makedirs(os.path.dirname(tmp))
            fd = os.open(tmp, flags, mode)
        hold(fd)
        try:
            if exact_mode and mode & process_umask():
                os.fchmod(fd, mode)
            fill(fd)
        finally:
            os.close(fd)
        before_name()
        if not replace:
            return publish(tmp, path)
        os.replace(tmp, path)
        return True
    finally:
        drop_temporary(tmp)


class NotRegularFileError(OSError):
    """What is at a path opened to be read as a file is not a regular file: a FIFO, socket
    or device (put there, perhaps, since the caller's stat)."""


class FileChangedError(OSError):
    """A file changed (it shrank, grew or was written to) while it was being read or copied:
    what was read is no one version of it, and must never be recorded as one."""


def changed_while_read(path: str | None = None) -> FileChangedError:
    return FileChangedError(errno.EIO, "the file changed while it was being read", path)


def open_regular(path: str, follow_links: bool = True) -> tuple[int, os.stat_result]:
    """A descriptor open for reading the regular file at `path`, and its fstat. Opened
    without blocking, and checked on the descriptor itself: a FIFO put at `path` since the
    caller's stat would otherwise block open(2) forever (O_NONBLOCK changes nothing else
    for a regular file). Anything but a regular file is NotRegularFileError. Without
    `follow_links`, a symbolic link at `path` is an OSError (ELOOP), never read through."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a device file with no device
            raise not_regular_file(path) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise not_regular_file(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_for_writing_elsewhere(fd: int) -> bool:
    """Has some process the file open at `fd` (opened read-only here) open for writing?
    Asked with a read lease, which Linux refuses (EAGAIN) exactly then, released at once. False
    where that cannot be asked (another system, a filesystem without leases, a file of another
    user): then nothing is known. A lease broken while held signals its holder: the signal is
    made one whose default is to be ignored (SIGURG), not SIGIO, which would end the process."""
    import fcntl
    import signal

    set_lease = getattr(fcntl, "F_SETLEASE", None)
    set_sig = getattr(fcntl, "F_SETSIG", None)
    if set_lease is None or set_sig is None:
        return False
    try:
        fcntl.fcntl(fd, set_sig, signal.SIGURG)
        fcntl.fcntl(fd, set_lease, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_lease, fcntl.F_UNLCK)
    return False


def not_regular_file(path: str, mode: int = 0) -> NotRegularFileError:
    """The error for `path`, whose st_mode is `mode` (0: not known), being no regular file."""
    what = "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
    return NotRegularFileError(errno.ENXIO, f"not a regular file ({what})", path)


def check_unchanged(fd: int, before: os.stat_result, read: int, path: str) -> None:
    """Raise FileChangedError unless exactly the `before.st_size` bytes of the file open at
    `fd` were `read` and its size and modification time are still those of `before`, taken
    when it was opened: else what was read may mix versions, or end where the file no longer
    does. Not its ctime: a link(2) or chmod of the same inode (hard-link mode links the files
    it hashes into the cache, on other threads) changes that, and no byte."""
    after = os.fstat(fd)
    if read != before.st_size or (after.st_size, after.st_mtime_ns) != (before.st_size,
                                                                        before.st_mtime_ns):
        raise changed_while_read(path)


@dataclass(frozen=True)
class FileVersion:
    """Which bytes a file holds, as far as a stat tells: a write changes its size or its
    modification time, a new file at its path its inode. Not its ctime (`check_unchanged`).
    Bytes read after a stat gave this version, and before a stat that still gives it, are
    this version's, however often they were read."""
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileVersion:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def check(self, path: str, fd: int | None = None) -> None:
        """FileChangedError unless the file at `path` (the one open at `fd`, if given) is
        still this version."""
        if not self.describes(os.stat(path) if fd is None else os.fstat(fd)):
            raise changed_while_read(path)

    def describes(self, st: os.stat_result) -> bool:
        """Is the file whose stat is `st` this version? (As a subclass tells versions.)"""
        return self.of(st) == self


def read_small_file(path: str, limit: int, follow_links: bool = True,
                    one_version: bool = False) -> bytes | None:
    """The whole content of the regular file at `path` if it is smaller than `limit`, else
    None. Raw syscalls (open, fstat, read, close): this runs once per file of a dataset.
    Without `follow_links`, a symbolic link at `path` is an OSError (ELOOP), never read
    through; anything but a regular file is NotRegularFileError (`open_regular`). A file that
    ends before the size its fstat gave is a FileChangedError; one that grew is read to its
    end, unless `one_version` (data dvx records): then a file written to while it was read
    is a FileChangedError too (`check_unchanged`, one more fstat)."""
    fd, st = open_regular(path, follow_links)
    try:
        size = st.st_size
        if size >= limit:
            return None
        chunks = []
        while chunk := os.read(fd, max(size, 1 << 16)):  # until EOF: the file may have grown
            chunks.append(chunk)
            if len(chunks) == 1 and len(chunk) == size:
                break  # the usual case: one read, no need to ask for EOF
        data = b"".join(chunks)
        if len(data) < size:
            raise changed_while_read(path)
        if one_version:
            check_unchanged(fd, st, len(data), path)
        return data
    finally:
        os.close(fd)


def read_regular(path: str, limit: int = -1, follow_links: bool = True) -> bytes:
    """The first `limit` bytes of the regular file at `path` (all of a smaller one, or of
    any with -1): how a file people write (dvx.yaml, dvx.lock, params, metrics, ignore files)
    is read, a caller asking one byte past the largest it accepts to tell a larger one. A
    FIFO, socket or device there is NotRegularFileError at once, never waited on
    (`open_regular`); without `follow_links`, a symbolic link is an OSError (ELOOP), never
    read through."""
    fd, _ = open_regular(path, follow_links)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def read_file_into(path: str, view: memoryview) -> bool:
    """Fill `view` with the whole content of the file at `path`, in raw syscalls and with no
    buffer of its own; False if the file does not hold exactly `len(view)` bytes (`view` is
    then left partly written)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if os.fstat(fd).st_size != len(view):
            return False
        done = 0
        while done < len(view):
            count = os.readv(fd, [view[done:]])
            if not count:
                return False  # cut short since the fstat
            done += count
        return True
    finally:
        os.close(fd)


FULL_DISK_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT))
# What a write to an open file can fail with, naming no file.
_UNNAMED_WRITE_ERRNOS = FULL_DISK_ERRNOS | {errno.EFBIG}


@contextlib.contextmanager
def writing(path: str) -> Iterator[None]:
    """An OSError raised while writing `path` names `path`: a write to an open file names no
    file, and a temporary written in its place is gone by the time the message is read."""
    try:
        yield
    except OSError as exc:
        named = exc.filename
        if (named is None and exc.errno in _UNNAMED_WRITE_ERRNOS) or (
                isinstance(named, str) and temp_target(os.path.basename(named)) is not None):
            raise OSError(exc.errno, exc.strerror, path) from exc  # of exc's subclass
        raise


def describe(exc: OSError) -> str:
    """An OSError in a user's words, with the file it names; a full disk is named by where
    it is mounted (`write_failure`)."""
    if not isinstance(exc.filename, str):
        return str(exc.strerror or exc)
    if exc.errno in FULL_DISK_ERRNOS:
        return write_failure(exc, exc.filename)
    if path_too_long(exc):
        return f"the full path is longer than the system allows ({PATH_MAX} bytes): {exc.filename}"
    return f"{exc.strerror or exc} ({exc.filename})"


def path_too_long(exc: OSError) -> bool:
    """Was a path refused for its whole length, each of its names fitting? Then it is where
    the repository is that makes it too long: from a shorter place it fits."""
    if exc.errno != errno.ENAMETOOLONG or not isinstance(exc.filename, str):
        return False
    return too_long_here(exc.filename)


def too_long_here(path: str) -> bool:
    """Is `path`, each of its names fitting, longer as a whole than the system takes? Then no
    file can be placed or read there, though from a shorter folder it could."""
    encoded = os.fsencode(os.path.abspath(path))
    return len(encoded) >= PATH_MAX and max(map(len, encoded.split(b"/"))) <= NAME_MAX


def absent(path: str) -> bool:
    """Is nothing at `path`? False when something is, and when it cannot be looked at (a
    path longer than the system allows, a folder that may not be read): os.path.lexists
    answers False to those too, and a file taken for gone would be dropped without a word
    (a pointer counted as deleted, its data never placed), where trying to read it says why
    it cannot be."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def write_failure(exc: OSError, path: str) -> str:
    """Why writing `path` failed, in a user's words: a full disk is named by where it is
    mounted, since that is what the user must free or enlarge."""
    if exc.errno in FULL_DISK_ERRNOS:
        where = "its disk" if exc.errno == errno.ENOSPC else "its quota"
        return (f"{exc.strerror}: {path} could not be written, {where} (mounted at "
                f"{mount_point(path)}) is full")
    return str(exc.strerror or exc)


def mount_point(path: str) -> str:
    """The mount point of the filesystem that holds `path` (or would hold it)."""
    current = os.path.abspath(path)
    while not os.path.exists(current):
        current = os.path.dirname(current)
    device = os.stat(current).st_dev
    while current != os.path.dirname(current):
        parent = os.path.dirname(current)
        if os.stat(parent).st_dev != device:
            break
        current = parent
    return current


def remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def makedirs(path: str, mode: int | None = None) -> None:
    """`os.makedirs(path, exist_ok=True)` without recursion: a directory may be nested deeper
    than Python's recursion limit (a tracked directory 1,000 levels deep). Each directory it
    makes gets exactly `mode` if given, whatever the umask (one another process made
    meanwhile is left as it is)."""
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory)
        except FileExistsError:
            continue
        if mode is not None:
            os.chmod(directory, mode)  # mkdir(2) takes the umask's bits away, and the setgid bit
    if missing and not os.path.isdir(path):  # something other than a directory is in the way
        os.mkdir(path)


def folder_and_parents(path: str) -> Iterator[str]:
    """`path` (made absolute), then each folder above it up to the filesystem's root: the
    walk up that finds a repository's top."""
    current = os.path.abspath(path)
    while True:
        yield current
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def unsearchable_folder(path: str) -> str:
    """The first folder on the way to `path` that this user may not enter (search): the one
    that made a stat of `path` fail with EACCES. `path`'s own folder if none is found."""
    folders = list(folder_and_parents(os.path.dirname(os.path.abspath(path))))
    return next((folder for folder in reversed(folders) if not os.access(folder, os.X_OK)),
                os.path.dirname(os.path.abspath(path)))


@dataclass(frozen=True)
class AccessFix:
    """What lets this user do what a PermissionError refused: `chmod {mode} {path}`, as the
    owner of `path`. `reading`: the refusal was of a read (of `path` itself, or a folder on
    the way that may not be entered), else of a write in the folder `path`."""

    path: str
    mode: str
    reading: bool


def access_fix(path: str) -> AccessFix | None:
    """The chmod that lets this user at `path`, which an operation was refused for want of
    permission, told from the modes as they are now: a folder on the way it may not enter
    (u+x), a file it may not read (u+r) or a folder it may not list (u+rx), else the folder
    it may not write in (u+w): the folder holding `path`, or the nearest one there is
    (`path` not made yet), or `path` itself when it is a folder or a read-only file. None
    when every mode lets it (another cause: an ACL, a mount, a race)."""
    path = os.path.abspath(path)
    folders = list(folder_and_parents(os.path.dirname(path)))
    for folder in reversed(folders):
        if os.path.isdir(folder) and not _may(folder, os.X_OK):
            return AccessFix(folder, "u+x", reading=True)
    holder = next((folder for folder in folders if os.path.isdir(folder)), None)
    if os.path.isdir(path) and not os.path.islink(path):
        if not _may(path, os.R_OK | os.X_OK):
            return AccessFix(path, "u+rx", reading=True)
        if not _may(path, os.W_OK):
            return AccessFix(path, "u+w", reading=False)
    elif os.path.lexists(path) and not os.path.islink(path) and not _may(path, os.R_OK):
        return AccessFix(path, "u+r", reading=True)
    if holder is not None and not _may(holder, os.W_OK):
        return AccessFix(holder, "u+w", reading=False)
    if os.path.isfile(path) and not os.path.islink(path) and not _may(path, os.W_OK):
        return AccessFix(path, "u+w", reading=False)
    return None


def _may(path: str, mode: int) -> bool:
    """May this process (its effective user and capabilities) access `path` so?"""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def rmtree(top: str) -> None:
    """Delete the directory `top` and everything below it, never following a symbolic link
    and without recursion (see `makedirs`)."""
    pending, found = [top], []
    while pending:
        directory = pending.pop()
        found.append(directory)
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    os.unlink(entry.path)
    for directory in reversed(found):  # deepest first
        os.rmdir(directory)


# --- modes in a store several users share (cache.shared, a directory remote's `shared`) -----

# Every user of the group adds and removes entries; new entries take the folder's group.
SHARED_FOLDER_MODE = 0o2775
SHARED_FILE_MODE = 0o444  # objects and records: read by everyone, written by no one
SHARED_REWRITTEN_MODE = 0o664  # a file rewritten in place (the cache's generation)
SHARED_VALUES = ("group",)  # what cache.shared and the `shared` option of a remote take


# --- read-only protection --------------------------------------------------------------------

WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def make_readonly(path: str) -> None:
    mode = os.lstat(path).st_mode
    if not stat.S_ISLNK(mode) and mode & WRITE_BITS:
        os.chmod(path, stat.S_IMODE(mode) & ~WRITE_BITS)


def make_writable(path: str) -> None:
    mode = os.stat(path).st_mode
    os.chmod(path, stat.S_IMODE(mode) | stat.S_IWUSR)


def is_executable(mode: int) -> bool:
    return bool(mode & stat.S_IXUSR)


# --- link strategies: each creates `dst`, which must not exist -----------------------------


def reflink(src: str, dst: str) -> None:
    import fcntl

    src_fd, _ = open_regular(src)
    try:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.ioctl(fd, _FICLONE, src_fd)
        except OSError:
            os.close(fd)
            remove_quietly(dst)
            raise
        os.close(fd)
    finally:
        os.close(src_fd)


def hardlink(src: str, dst: str) -> None:
    os.link(src, dst)


def symlink(src: str, dst: str) -> None:
    os.symlink(os.path.abspath(src), dst)


SMALL_FILE = 1 << 20  # below this a copy is made unnamed, with its mode, and then named


COPY_WINDOW = 64 << 20  # a large file is copied (and its progress told) this much at a time


def copy(src: str, dst: str, mode: int | None = 0o644,
         on_bytes: Callable[[int], None] | None = None) -> None:
    """Copy the large file `src` to the new file `dst` and give it exactly `mode` (None: the
    usual mode of a new file, as the umask makes it), telling `on_bytes` how far it got.
    Holes of a sparse file stay holes. Small files go through `copy_small_file` instead."""
    with open(src, "rb", buffering=0) as source, open(dst, "xb", buffering=0) as target:
        size = os.fstat(source.fileno()).st_size
        for start in range(0, size, COPY_WINDOW):
            end = min(size, start + COPY_WINDOW)
            copy_window(source.fileno(), target.fileno(), start, end)
            if on_bytes is not None:
                on_bytes(end - start)
        os.ftruncate(target.fileno(), size)  # the file ends as the source does, hole or not
    if mode is not None:
        os.chmod(dst, mode)
    faults.point("copy.after_temp_write")


def copy_window(src_fd: int, dst_fd: int, start: int, end: int) -> None:
    """Copy bytes [start, end) of `src_fd` to the same place in `dst_fd`, by the kernel
    (copy_range), skipping the source's holes (SEEK_DATA/SEEK_HOLE) so they stay holes; the
    caller extends the destination to its full size (ftruncate) at the end."""
    for data_start, data_end in _data_ranges(src_fd, start, end):
        os.lseek(src_fd, data_start, os.SEEK_SET)
        os.lseek(dst_fd, data_start, os.SEEK_SET)
        if copy_range(src_fd, dst_fd, data_end - data_start) < data_end - data_start:
            raise changed_while_read()


def _data_ranges(fd: int, start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) that hold data; all of it where the filesystem cannot say.
    A file that now ends before `end` changed since its size was taken (FileChangedError):
    what is missing is no hole, and must never be copied as zeros."""
    if not _SPARSE_SEEKS:
        return [(start, end)]
    ranges = []
    position = start
    try:
        while position < end:
            try:
                data = os.lseek(fd, position, os.SEEK_DATA)
                hole = min(os.lseek(fd, data, os.SEEK_HOLE), end) if data < end else end
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # past the end, or in a hole that ends it
                    raise
                if os.fstat(fd).st_size < end:
                    raise changed_while_read() from None
                break  # the rest is a hole
            if data >= end:
                break
            ranges.append((data, hole))
            position = hole
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
        return [(start, end)]  # a filesystem that cannot tell: copy everything
    return ranges


_SPARSE_SEEKS = hasattr(os, "SEEK_DATA") and hasattr(os, "SEEK_HOLE")


def link_creating_parent(source: str, target: str) -> None:
    """link(2) `source` to `target`, creating the target's directory only when it is missing
    (asking first would cost a syscall per file)."""
    with _refusal_names_folder(target):
        try:
            os.link(source, target)
        except FileNotFoundError:
            if not os.path.exists(source):
                raise
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(source, target)


def _check_is_file(path: str) -> None:
    """What has an object's name must be a file: a directory there (made by hand) is not
    the object, and must not pass for it."""
    if not os.path.isfile(path):
        raise IsADirectoryError(errno.EISDIR, "something that is not a file has the object's "
                                "name", path)


def publish(tmp: str, final: str) -> bool:
    """Give the complete file `tmp` the name `final`, unless something already has it: an
    object is never replaced. False if it was there already. The caller removes `tmp`
    afterwards (it may be gone already)."""
    try:
        link_creating_parent(tmp, final)
    except FileExistsError:
        _check_is_file(final)
        return False  # the object is already there: identical by construction
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if os.path.exists(final):
            _check_is_file(final)
            return False
        os.makedirs(os.path.dirname(final), exist_ok=True)  # a filesystem without hard links
        os.rename(tmp, final)
    return True


def workspace_mode(executable: bool) -> int:
    """The mode of a file dvx writes into the workspace, as Git gives the files it checks
    out: 0666 (0777 if executable) less the umask's bits."""
    return (0o777 if executable else 0o666) & ~process_umask()


def link_open_file(fd: int, final: str) -> bool | None:
    """Give the file open at `fd` the name `final` (creating its directory), as `publish`
    does: False if something has that name already. Linked through the descriptor
    (linkat(2) of /proc/self/fd/N), so it is the very file open, whatever names it has now.
    None where it cannot be linked so (no /proc, another filesystem, no name left to it,
    hard links refused): the caller links it by a name, which tells why."""
    if not sys.platform.startswith("linux"):
        return None

    def link() -> None:
        _link_unnamed(fd, final)  # through /proc/self/fd/N to the very file open

    try:
        try:
            link()
        except FileNotFoundError:
            if os.path.isdir(os.path.dirname(final)):
                return None
            os.makedirs(os.path.dirname(final), exist_ok=True)
            link()
    except FileExistsError:
        _check_is_file(final)
        return False
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in UNSUPPORTED_ERRNOS:
            return None
        raise
    return True


def process_umask() -> int:
    """The umask, read once per process: from /proc, which any thread may read; elsewhere by
    setting it and back, which is done as this module is imported, before any thread of
    dvx's writes a file that could be created meanwhile with the wrong mode."""
    global _umask
    if _umask is None:
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as f:
                line = next((x for x in f if x.startswith("Umask:")), "")
            _umask = int(line.split()[1], 8)
        except (OSError, IndexError, ValueError):
            _umask = os.umask(0o077)
            os.umask(_umask)
    return _umask


_umask: int | None = None
process_umask()

LINKERS: dict[str, Callable[[str, str], None]] = {
    "reflink": reflink,
    "hardlink": hardlink,
    "symlink": symlink,
    "copy": copy,
}
# Links appear whole, so where nothing is in the way they are made at their final name.
DIRECT_LINKS = ("hardlink", "symlink")


def link_types_for_executable(link_types: tuple[str, ...]) -> tuple[str, ...]:
    """The link types an executable file is placed or stored with: never one that shares the
    object's inode (a hard or symbolic link), whose mode the object would then share. Where
    one of those was configured, a copy is the way on after what remains: a file a
    configured link type could have placed is never skipped for want of one."""
    kept = tuple(t for t in link_types if t not in DIRECT_LINKS)
    if len(kept) < len(link_types) and "copy" not in kept:
        kept += ("copy",)
    return kept

# Errors meaning "this link type is not possible here", as opposed to real failures.
UNSUPPORTED_ERRNOS = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM, errno.EINVAL, errno.ENOTTY,
     errno.EMLINK, errno.ENOSYS}
)
# Those that say only that this filesystem makes no symlinks, when a stored file is to become
# one: EPERM there is more often a directory that may not change (chattr +i), worth a warning.
SYMLINK_UNSUPPORTED_ERRNOS = UNSUPPORTED_ERRNOS - {errno.EPERM, errno.EMLINK}


def _before_copy_is_named() -> None:
    faults.point("copy.after_temp_write")
    faults.point("place.before_rename")


def place(src: str, dst: str, link_types: tuple[str, ...], *, exec_bit: bool = False,
          unsupported: dict[str, str] | None = None,
          on_bytes: Callable[[int], None] | None = None) -> str:
    """Make `dst` hold `src`'s content via the first link type that works; return its name.

    A copy is written unnamed (or at a temporary name beside `dst`) and then given its name,
    so `dst` is never observed half-written and an existing `dst` is replaced atomically; a
    hard or symbolic link is made at `dst` directly when nothing is there (a link appears
    whole), else at a temporary name renamed over `dst`. Link types found not to work here
    are added to `unsupported` (with why) and skipped by later calls that share it: a failed
    attempt costs a file creation, the most expensive step of a small file.
    """
    with writing(dst):
        return _place(src, dst, link_types, exec_bit, unsupported, on_bytes)


def _place(src: str, dst: str, link_types: tuple[str, ...], exec_bit: bool,
           unsupported: dict[str, str] | None, on_bytes: Callable[[int], None] | None) -> str:
    last_error: OSError | str | None = None
    mode = workspace_mode(exec_bit)
    for link_type in link_types:
        if unsupported is not None and link_type in unsupported and link_type != "copy":
            last_error = unsupported[link_type]
            continue
        if link_type == "copy" and copy_small_file(src, dst, mode, replace=True, exact_mode=True,
                                                   before_name=_before_copy_is_named):
            return link_type  # written unnamed and then named: no temporary to rename
        direct = link_type in DIRECT_LINKS
        tmp = dst if direct else temp_name_for(dst)
        try:
            try:
                if link_type == "copy":
                    copy(src, tmp, mode, on_bytes)
                else:
                    LINKERS[link_type](src, tmp)
            except FileExistsError:
                if not direct:
                    raise
                direct, tmp = False, temp_name_for(dst)  # something is there: replace it
                LINKERS[link_type](src, tmp)
        except OSError as exc:
            if not direct:
                remove_quietly(tmp)
            if exc.errno in UNSUPPORTED_ERRNOS or link_type == "reflink":
                if unsupported is not None:
                    note_unsupported(unsupported, link_type, exc)
                last_error = exc
                continue
            raise
        except BaseException:  # Ctrl-C, SIGTERM or SIGHUP while a large file is copied
            if not direct:
                remove_quietly(tmp)
            raise
        if direct:
            return link_type
        try:
            if link_type == "reflink":
                os.chmod(tmp, mode)
            faults.point("place.before_rename")
            os.replace(tmp, dst)
        except BaseException:
            remove_quietly(tmp)
            raise
        if link_type == "hardlink":  # renaming a link over its own inode leaves both names
            remove_quietly(tmp)
        return link_type
    raise _no_usable_link_type(link_types, last_error)


def note_unsupported(unsupported: dict[str, str], link_type: str, exc: OSError) -> None:
    """Remember that `link_type` cannot be made here, and why. Too many links (EMLINK) is the
    limit of one inode, not of the filesystem: others may still be linked, so it is not."""
    if exc.errno != errno.EMLINK:
        unsupported[link_type] = exc.strerror or str(exc)


def _no_usable_link_type(link_types: tuple[str, ...], last_error: OSError | str | None
                         ) -> OSError:
    """The error of a placement no link type could make, naming the types tried (or known
    not to work here) and why the last one failed (as the OS said, when it was known not to
    work from an earlier attempt); its errno is that failure's."""
    message = f"no usable link type among {', '.join(link_types)}"
    if isinstance(last_error, OSError):
        message += f" ({last_error.strerror or last_error})"
    elif last_error is not None:
        message += f" ({last_error})"
    if "copy" not in link_types:
        message += (f"; set cache.type to {','.join(link_types)},copy to copy a file where "
                    "no link can be made")
    code = last_error.errno if isinstance(last_error, OSError) else errno.ENOTSUP
    return OSError(code, message)
