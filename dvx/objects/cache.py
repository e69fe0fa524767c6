"""The local cache: an ObjectStore on the local disk, plus ingestion and linking.

Ingestion costs one read of the data and the cheapest placement the configured link types
allow: a reflink is cloned first and then hashed (the clone is a private snapshot), a hard link
is made of the very file hashed, held open from before it is read (and refused if it changed or
was replaced meanwhile, or another process has it open for writing), and a copy is hashed from the
copy itself as it is made (small files: read once, hashed, written). Objects are published with
link(2), which never replaces an existing object, and are made read-only.

Read-only stops neither root nor a program that changes permissions, and a write through a
link to an object changes the object. So an object is trusted without reading it only while
its stat is the one it had when dvx last knew its bytes hash to its oid (`known_intact`): when
it stored them, hashed them, or changed nothing but the object's inode (marked it used, linked
or chmodded it) right after finding it so. Any change of the inode since moves its ctime, which
no program can set: a write in place, even one that sets the mtime back as `cp -p` and
`rsync -t` do, and a chmod or a new link too; push and checkout hash such an object before
they send or place it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

from dvx import faults, fsutil
from dvx.errors import CorruptObjectError, DvxError
from dvx.hashing import (
    CHUNK_SIZE,
    OnBytes,
    check_oid,
    get_algorithm,
    hash_bytes,
    hash_copy,
    hash_file,
    hash_open_file,
    is_valid_oid,
)
from dvx.logs import get_logger
from dvx.objects.blobs import DirectoryBlobs
from dvx.objects.odb import ObjectStore
from dvx.objects.statcache import StatKey, stat_key

log = get_logger(__name__)

DELETED, YOUNG, GONE = "deleted", "young", "gone"  # what `remove_unused` did


@dataclass(frozen=True)
class Ingested:
    oid: str
    size: int
    link_type: str  # what the workspace file now is to the object: reflink, hardlink, copy
    # Stored as a copy, to become a symlink to the object (`replace_by_symlink`) once what
    # names the object is recorded.
    to_symlink: bool = False
    # Left a copy, not linked as configured: another process had it open for writing.
    open_for_writing: bool = False


class KnownStats(Protocol):
    """Where a cache keeps, by oid, the stat each object had when dvx last knew its bytes hash
    to its oid (`LocalCache.known_intact`). A repository's stat cache keeps them between
    commands (dvx/objects/statcache.py)."""

    def object_stat(self, oid: str) -> StatKey | None: ...

    def put_object(self, oid: str, key: StatKey) -> None: ...

    def new_object_stat(self, oid: str) -> StatKey | None:
        """The record this process made of the object and has not kept yet."""

    def read_objects(self, oids: Iterable[str]) -> None:
        """Read ahead what is kept of these objects: they are asked about next."""


class KnownHere:
    """KnownStats of this process alone (a cache no repository keeps records for)."""

    def __init__(self) -> None:
        self._stats: dict[str, StatKey] = {}

    def object_stat(self, oid: str) -> StatKey | None:
        return self._stats.get(oid)

    def put_object(self, oid: str, key: StatKey) -> None:
        self._stats[oid] = key

    new_object_stat = object_stat

    def read_objects(self, oids: Iterable[str]) -> None:
        pass


class OpenForWriting(Exception):
    """Another process has the file open for writing: it must stay the file it writes to."""


_UNPROTECTED_BITS = fsutil.WRITE_BITS | 0o111  # never an object's: executables are copies


def _file_stat(path: str) -> os.stat_result | None:
    """The stat of the regular file at `path`; None if there is none. A folder on the way this
    user may not enter is an error: what it holds is unknown, not missing."""
    try:
        st = os.stat(path)
    except PermissionError as exc:
        raise folder_refused(path, exc) from None
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _is_folder(path: str) -> bool:
    """Is there a folder at `path`? As `_file_size`, one this user may not reach is an error."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except PermissionError as exc:
        raise folder_refused(path, exc) from None
    except OSError:
        return False


def folder_refused(path: str, exc: PermissionError) -> DvxError:
    """The error of a cache object (or folder) at `path` that a folder on the way, which this
    user may not enter, hides: another user's, in a cache they share, made with a private
    umask."""
    folder = fsutil.unsearchable_folder(path)
    return DvxError(
        f"The cache folder '{folder}'{_owned_by(folder)} may not be entered "
        f"({exc.strerror or 'permission denied'}): whether it holds the objects asked for "
        "cannot be told.",
        "Its owner can open it, and the folders in it, to the others sharing the cache "
        f"(`find {folder} -type d -exec chmod 2775 {{}} +`); "
        "`dvx config cache.shared group` makes every folder dvx creates there so.")


def _owned_by(path: str) -> str:
    """' (owned by NAME)', or nothing when that cannot be told."""
    import pwd

    try:
        uid = os.stat(path).st_uid
        return f" (owned by {pwd.getpwuid(uid).pw_name})"
    except (OSError, KeyError):
        return ""


def _move_mtime(target: str | int, st: os.stat_result | None = None) -> None:
    """Set the mtime of the file or folder `target` (a path or an open fd; `st`: its stat)
    later than it was, and at least a tick of the coarsest filesystem clock (FAT's 2 s)
    later, so that it surely reads as another time."""
    import time

    st = st or os.stat(target)
    moved = max(time.time_ns(), st.st_mtime_ns + 2_000_000_000)
    os.utime(target, ns=(moved, moved))


def _directories(path: str) -> list[os.DirEntry[str]]:
    """The directories in `path` (none if it is gone)."""
    try:
        with os.scandir(path) as entries:
            return [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


class LocalCache(ObjectStore):
    def __init__(self, root: str, algo: str, shared: bool = False) -> None:
        # `shared` (cache.shared group): used by the users of a group, so every folder made
        # here is the group's to write in and every object readable by all, whatever the
        # umask or the mode of the file an object was stored from.
        self.dir_blobs = DirectoryBlobs(os.path.abspath(root), shared)
        self.shared = shared
        super().__init__(self.dir_blobs, algo)
        # Link types that failed here, with why: not retried.
        self.unsupported_links: dict[str, str] = {}
        # Objects found changed through a link to them, whose bytes were stored anew from a
        # file linked to them: set aside once that file's content is stored (`set_aside_damaged`).
        self.damaged: set[str] = set()
        # Called with {oid: where its bytes went} once objects changed through a link to them
        # are set aside: the workspace's symlinks to them must keep showing those bytes (an
        # edit made through one has no other copy). Returns the paths so kept.
        self.on_set_aside: Callable[[dict[str, str]], list[str]] | None = None
        self.known_stats: KnownStats = KnownHere()  # see `known_intact`
        self.tmp_dir = os.path.join(self.root, "tmp")  # temporaries, on the cache's filesystem
        self._set_aside_files: dict[str, list[str]] | None = None  # oid -> in quarantine/
        self.named_set_aside: set[str] = set()  # those of them a warning named: once is enough
        self._tmp_dir_made = False  # dvx never removes it: made once per cache object

    # -- queries (direct os calls: these sit on hot paths) ---------------------------------------

    def exists(self, oid: str) -> bool:
        return _file_stat(self.oid_path(oid)) is not None

    def existing(self, oids: Iterable[str]) -> set[str]:
        return {oid for oid, size in self.sizes(oids) if size is not None}

    def missing(self, oids: Iterable[str]) -> list[str]:
        """Those of `oids` the cache lacks, in their order (only these are kept)."""
        return [oid for oid, size in self.sizes(oids) if size is None]

    def sizes(self, oids: Iterable[str]) -> Iterator[tuple[str, int | None]]:
        """Each of `oids` with the size of its file in the cache, None if the cache lacks it:
        one stat each."""
        for oid, st in self.stats(oids):
            yield oid, None if st is None else st.st_size

    def stats(self, oids: Iterable[str]) -> Iterator[tuple[str, os.stat_result | None]]:
        """Each of `oids` with the stat of its file in the cache, None if the cache lacks it."""
        shards: dict[str, bool] = {}  # shard directory -> does it exist
        for oid in oids:
            path = self.oid_path(oid)
            shard = path.rpartition("/")[0]
            there = shards.get(shard)
            if there is None:
                # One stat per missing shard instead of one per object: a fresh clone's pull
                # asks about every object of a dataset while the cache has almost none.
                there = shards[shard] = _is_folder(shard)
            yield oid, _file_stat(path) if there else None

    def size(self, oid: str) -> int:
        return os.path.getsize(self.oid_path(oid))

    def read_into(self, oid: str, view: memoryview) -> bool:
        """Read object `oid` into `view`; False if it is not `len(view)` bytes long."""
        return fsutil.read_file_into(self.oid_path(oid), view)

    # The generation changes whenever objects may have been taken out of the cache (gc,
    # fsck), before any is. Facts remembered about the cache's contents are valid for one
    # generation only.
    def generation(self) -> str:
        found = self._written_generation()
        return found if found is not None else self._first_generation()

    def _written_generation(self) -> str | None:
        try:
            with open(self._generation_path(), "rb") as f:
                value = f.read(64).strip()
                if value:
                    return value.decode("ascii", "replace")
                # Emptied on a full disk (_new_generation_in_place): its mtime tells them apart.
                return f"0.{os.fstat(f.fileno()).st_mtime_ns}"
        except FileNotFoundError:
            return None

    def _first_generation(self) -> str:
        """The generation of a cache with none written yet, written now: facts about a cache
        deleted and made again (`rm -rf .dvx/cache`) are never taken for facts about it,
        even where its folder gets the inode number the old one freed. Where none can be
        written (a cache this user may only read, a full disk), its folder tells one cache
        from another, with its mtime, which a new generation moves where it can make no file
        (`_new_generation_in_place`); a read never moves it."""
        import uuid

        try:
            st = os.stat(self.root)
        except FileNotFoundError:
            return "0"  # no cache, no facts
        with contextlib.suppress(OSError):
            fsutil.write_whole(self._generation_path(), uuid.uuid4().hex.encode("ascii"),
                               self._generation_mode or 0o666, replace=False,
                               exact_mode=self.shared)
        found = self._written_generation()
        return found if found is not None else f"0.{st.st_dev}.{st.st_ino}.{st.st_mtime_ns}"

    def keep_a_generation(self) -> None:
        """Write the cache's first generation if it has none, while there is room (a cache
        just made, or made by a dvx that wrote none until its first gc): a new generation
        then only rewrites the file in place, which a full disk allows."""
        if not os.path.lexists(self._generation_path()):
            self.generation()

    def new_generation(self) -> None:
        import uuid

        value = uuid.uuid4().hex.encode("ascii")
        self.make_folder(self.root)
        try:
            faults.point("cache.generation.before_write")
            fsutil.atomic_write(self._generation_path(), value, fsync=False,
                                mode=self._generation_mode)
        except OSError as exc:
            if exc.errno not in fsutil.FULL_DISK_ERRNOS:
                raise
            self._new_generation_in_place(value)

    def _new_generation_in_place(self, value: bytes) -> None:
        """On a full disk, where a new file cannot be written, change the one there without
        taking space, so that gc can still free some: its bytes overwritten with as many, or
        (too short) it is emptied and its mtime moved on. Where there is none and none can be
        made (a new inode takes space on XFS), the cache folder's mtime is moved on, which
        the generation of a cache without the file includes."""
        try:
            fd = os.open(self._generation_path(), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC,
                         self._generation_mode or 0o644)
        except OSError as exc:
            if exc.errno not in fsutil.FULL_DISK_ERRNOS:
                raise
            _move_mtime(self.root)
            return
        try:
            st = os.fstat(fd)
            if st.st_size >= len(value):
                fsutil.pwrite_all(fd, value, 0)
                os.ftruncate(fd, len(value))
            else:
                os.ftruncate(fd, 0)
                _move_mtime(fd, st)
        finally:
            os.close(fd)

    def _generation_path(self) -> str:
        return os.path.join(self.root, "generation")

    @property
    def _generation_mode(self) -> int | None:
        """Exactly this, in a shared cache: every user rewrites it (in place on a full disk)."""
        return fsutil.SHARED_REWRITTEN_MODE if self.shared else None

    @property
    def record_mode(self) -> int | None:
        """The exact mode of a record dvx writes in the cache (a run record), None: as the
        umask makes it. Readable by all in a shared cache; replaced by renaming, never in
        place, so written by no one."""
        return fsutil.SHARED_FILE_MODE if self.shared else None

    def refuse_unwritable(self, oids: Iterable[str]) -> None:
        """Before the objects `oids` are stored here (a fetch): PermissionError naming the
        first folder one of them goes in (its shard, or the nearest folder there is) that
        this user may not write in or enter, said as any refused write is, with its chmod;
        every one of them would otherwise fail alone, each for that same folder."""
        for shard in sorted({os.path.dirname(self.oid_path(oid)) for oid in oids}):
            fix = fsutil.access_fix(os.path.join(shard, "object"))
            if fix is not None:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), fix.path)

    def make_folder(self, path: str) -> None:
        """Make the folder `path` in the cache (and those above it that are missing): the
        group's to write in, in a shared cache."""
        self.dir_blobs.make_folder(path)

    def _ready_to_store(self, oid: str) -> None:
        """In a shared cache, make the folder of object `oid` and the temporaries' folder
        first, the group's to write in (else they are made as the object is written, with
        the umask's mode)."""
        if self.shared:
            self._make_tmp_dir()
            self.make_folder(self.oid_path(oid).rpartition("/")[0])

    def _share(self, path: str) -> None:
        """Give the object (or its temporary) at `path` the mode of a shared cache's objects,
        whatever mode the file it was stored from had (a private 0600 one, in hardlink mode)."""
        if self.shared and stat.S_IMODE(os.stat(path).st_mode) != fsutil.SHARED_FILE_MODE:
            os.chmod(path, fsutil.SHARED_FILE_MODE)

    def remove_stale_temporaries(self, older_than: float = fsutil.STALE_TEMP_SECONDS) -> None:
        """Delete what killed dvx processes left in `<cache>/tmp`: only names of dvx's own
        temporary pattern (or that of versions before its mark), at least `older_than`
        seconds old, that no live process holds. The directory may be shared (cache.dir), or
        named by a cloned repository's config: anything else there is never touched."""
        try:
            entries = list(os.scandir(self.tmp_dir))
        except OSError:
            return
        for entry in entries:
            ours = fsutil.temp_target(entry.name) is not None or fsutil.is_old_temp_name(entry.name)
            if ours and fsutil.is_leftover(entry.path, older_than):
                with contextlib.suppress(OSError):  # gone already, or not ours to remove
                    os.unlink(entry.path)

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside, out of the object layout; never delete it."""
        import time

        target_dir = self._quarantine_dir
        self.make_folder(target_dir)
        target = os.path.join(target_dir, f"{oid}.{time.time_ns()}")
        os.rename(self.oid_path(oid), target)
        self._set_aside_files = None
        return target

    @property
    def _quarantine_dir(self) -> str:
        return os.path.join(self.root, "quarantine")

    def set_aside_copies(self, oid: str) -> list[str]:
        """The files in quarantine/ that were the object `oid` until it was moved aside as
        changed or damaged (`dvx fsck`, a transfer, an add), oldest first: the cache lost it
        there, not for want of a push."""
        return sorted(self._set_aside_by_oid().get(oid, ()))

    def _set_aside_by_oid(self) -> dict[str, list[str]]:
        if self._set_aside_files is None:
            found: dict[str, list[str]] = {}
            with contextlib.suppress(OSError), os.scandir(self._quarantine_dir) as entries:
                for entry in entries:
                    found.setdefault(entry.name.partition(".")[0], []).append(entry.path)
            self._set_aside_files = found
        return self._set_aside_files

    def set_aside_inode(self, oid: str, ino: int) -> str | None:
        """The file in quarantine/ that is the inode `ino`, which was the object `oid` (a
        rename keeps the inode) until it was moved aside as changed or damaged, maybe by
        another repository sharing the cache; None if there is none. A workspace link that
        led to that inode showed the bytes it holds."""
        for path in self._set_aside_by_oid().get(oid, ()):
            with contextlib.suppress(OSError):
                if os.lstat(path).st_ino == ino:
                    return path
        return None

    def directories_with_object_names(self) -> dict[str, str]:
        """{oid: path} of each directory that has an object's name (made by hand, not by dvx):
        no object is there, and `list_oids` sees none."""
        found: dict[str, str] = {}
        for shard in _directories(self.files_root):
            if len(shard.name) != 2:
                continue
            for entry in _directories(shard.path):
                if is_valid_oid(shard.name + entry.name, self.algo):
                    found[shard.name + entry.name] = entry.path
        return found

    def objects_of_other_algorithms(self) -> dict[str, int]:
        """{algorithm: how many objects} of the algorithms other than this cache's that have
        objects here (a repository whose core.hash was changed): what `fsck` does not check."""
        from dvx.hashing import ALGORITHMS

        found = {}
        for algo in sorted(ALGORITHMS.keys() - {self.algo}):
            count = sum(1 for _ in LocalCache(self.root, algo).list_oids())
            if count:
                found[algo] = count
        return found

    def verify(self, oid: str) -> bool:
        """Re-hash an object, whatever its file mode; True if its bytes match its oid."""
        return hash_file(self.oid_path(oid), self.algo, changed_is_error=False)[0] == oid

    # -- what is known of the objects' bytes (see the module's docstring) ----------------------

    def known_intact(self, oid: str, st: os.stat_result) -> bool:
        """Is `st`, the object's stat now, the one it had when dvx last knew its bytes hash to
        `oid`? Then nothing changed its inode since, so no byte: it is trusted unread."""
        return self.known_stats.object_stat(oid) == stat_key(st)

    def intact(self, oid: str, st: os.stat_result) -> bool:
        """Do the bytes of the object, whose stat is now `st`, hash to `oid`? One look when it
        is `known_intact`; else it is hashed, and known intact with `st` if they do (a write
        while it is hashed moves its stat from `st`)."""
        if self.known_intact(oid, st):
            return True
        if not self.verify(oid):
            return False
        self._remember(oid, st)
        return True

    def changed_since_stored(self, oid: str) -> bool:
        """Is the object there, and its bytes no longer hashing to `oid` (written in place
        through a link to it, say)? What is checked before an object is placed in the
        workspace again. An object whose size is not the one a pointer records may still be
        intact: that size was recorded wrong (a pointer edited by hand or mis-merged), and
        the object is placed all the same."""
        try:
            st = os.stat(self.oid_path(oid))
        except FileNotFoundError:
            return False
        return not self.intact(oid, st)

    def _remember(self, oid: str, st: os.stat_result) -> None:
        self.known_stats.put_object(oid, stat_key(st))

    def new_record(self, oid: str) -> StatKey | None:
        """The stat this process has just found the object intact with (`known_intact`), for
        a worker process to hand to the one that keeps the records (`add_record`)."""
        return self.known_stats.new_object_stat(oid)

    def add_record(self, oid: str, key: StatKey) -> None:
        """Keep what a worker process found (`new_record`)."""
        self.known_stats.put_object(oid, key)

    def _remember_stored(self, oid: str) -> None:
        """Know intact the object dvx has just written and named: its mtime, which dvx set a
        second before the time its ctime got as it was named (`fsutil.set_mtime_before_ctime`),
        says nothing wrote it since: a write sets both to the same time, and one that sets the
        mtime back (`cp -p`) leaves it anywhere but a second or so before the ctime."""
        st = os.stat(self.oid_path(oid))
        if 0 < st.st_ctime_ns - st.st_mtime_ns <= _STORED_CTIME_LAG_NS:
            self._remember(oid, st)

    def remember_fetched(self, oids: Iterable[str]) -> None:
        """Know intact the objects a download has just stored, as `_remember_stored` does
        (worker processes stored many, and their records died with them), by their times."""
        for oid in oids:
            if self.new_record(oid) is None:
                with contextlib.suppress(FileNotFoundError):
                    self._remember_stored(oid)

    def _keep_known(self, oid: str, before: os.stat_result, after: os.stat_result,
                    mtime_ns: int | None = None) -> None:
        """The object's stat was `before`, then dvx changed its inode alone (a link or chmod,
        which keep its mtime; marking it used, which set its mtime to `mtime_ns`), and now
        it is `after`: if it was known intact before, it still is. A write since `before`
        would have moved its mtime elsewhere, unless it came in the moment between `before`
        and dvx's own change (a utime overwrites the mtime it set): a limit guarantees.md §1
        states, which `dvx fsck` covers."""
        mtime = before.st_mtime_ns if mtime_ns is None else mtime_ns
        if (after.st_ino, after.st_size, after.st_mtime_ns) == (
                before.st_ino, before.st_size, mtime) and self.known_intact(oid, before):
            self._remember(oid, after)

    def unshare(self, path: str, oid: str) -> bool:
        """If the file at `path` is the object's own inode, or a symlink to it (a link since made
        executable, which made the object executable too): give the file a copy of its own and
        the object its read-only mode back. Whether it was."""
        final = self.oid_path(oid)
        try:
            if not os.path.samestat(os.stat(final), os.stat(path)):
                return False
        except FileNotFoundError:
            return False
        fsutil.place(final, path, ("copy",), exec_bit=True)
        os.chmod(final, 0o444)
        return True

    def _set_aside_damaged(self, oid: str, path: str | None, stored_again: bool = True
                           ) -> None:
        """Move aside the object `oid`, found changed through a link to it. The file at `path`
        (repo-relative, for the message; None: not known here) stores the bytes `oid` names
        again (`stored_again`), or holds the changed bytes, stored under their own oid."""
        moved, kept = self.set_aside(oid)
        if stored_again:
            after = (f"'{path}' stored the bytes its oid names again." if path is not None
                     else "The bytes its oid names were stored again.")
        else:
            after = (f"'{path}' was stored under the oid of the changed bytes, and the object "
                     "is no longer in the cache (`dvx pull` fetches it again).")
        log.warning("The cached object %s no longer held its bytes (changed through a link to "
                    "it?): moved to %s, which holds the changed bytes. %s%s", oid, moved, after,
                    kept_message(kept))

    def set_aside(self, oid: str) -> tuple[str, list[str]]:
        """Move aside the object `oid`, found changed through a link to it: the file that now
        holds its bytes, and the workspace files that keep those bytes (`on_set_aside`)."""
        try:
            self.new_generation()  # an object leaves the cache: facts remembered about it expire
            moved = self.quarantine(oid)
        except PermissionError as exc:
            raise CorruptObjectError(
                f"The cached object {oid} no longer holds the bytes its oid names (it was "
                "changed after it was stored: written through a link to it, say), and this "
                f"user may not move it aside: {exc.filename or self.oid_path(oid)} may not "
                "be changed "
                f"({exc.strerror}).", "Have the cache's owner run `dvx fsck` (which moves "
                "damaged objects aside), or use a cache of your own (`dvx config --local "
                "cache.dir PATH`).") from None
        return moved, self.on_set_aside({oid: moved}) if self.on_set_aside is not None else []

    def set_aside_damaged(self, path: str) -> None:
        """Move aside the objects noted in `damaged`, whose changed bytes were stored anew from
        the file at `path` (repo-relative, for the message)."""
        while self.damaged:
            oid = self.damaged.pop()
            with contextlib.suppress(FileNotFoundError):  # another process's add was first
                if not self.verify(oid):
                    self._set_aside_damaged(oid, path, stored_again=False)

    def kept_if_intact(self, oid: str) -> bool:
        """An object is there already under `oid`, about to be used as the bytes being
        stored: does it still hold the bytes its oid names (one stat when `known_intact`, else
        hashed)? One that does not (written through a link to it) is moved aside, and the
        caller stores the bytes again; so it does when the object is gone (gc took it out).
        One this user may not read (a teammate's, kept private, in a shared cache) is kept."""
        try:
            if self.intact(oid, self._protected_stat(oid)):
                return True
        except FileNotFoundError:
            return False
        except PermissionError:
            return True
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            self._set_aside_damaged(oid, None)
        return False

    def _holds(self, oid: str, size: int) -> bool:
        """Does the object hold the `size` bytes that hash to `oid`? (Its size first: the
        usual damage, an append, shows there without reading it; then `intact`.)"""
        try:
            st = self._protected_stat(oid)
            return st.st_size == size and self.intact(oid, st)
        except FileNotFoundError:
            return False

    def _protected_stat(self, oid: str) -> os.stat_result:
        """The stat of the object `oid`, about to be linked to or used again, made read-only
        first if it is not (an add in hardlink mode stopped by an older dvx, a chmod through
        a link to it): from then on no link to it can change it, and the chmod moves its
        ctime, so `intact` hashes it before it is trusted, for a link may have changed it
        already. One this user may not chmod (another's, or one on a read-only mount, such
        as a cache a CI job restored) is left as it is, and hashed all the same if it changed
        since it was known intact. FileNotFoundError if it is not there."""
        path = self.oid_path(oid)
        st = os.stat(path)
        if st.st_mode & _UNPROTECTED_BITS:
            try:
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~_UNPROTECTED_BITS)
            except OSError as exc:
                if not isinstance(exc, PermissionError) and exc.errno != errno.EROFS:
                    raise
            else:
                st = os.stat(path)
        return st

    # -- ingestion ------------------------------------------------------------------------------

    def _publish(self, tmp: str, oid: str) -> None:
        """Move a verified temporary file into place as `oid`, never replacing an object. The
        caller removes `tmp` afterwards (it may already be gone: renamed into place, or
        removed here)."""
        final = self.oid_path(oid)
        fsutil.set_mtime_before_ctime(tmp)  # see `_remember_stored`
        fsutil.make_readonly(tmp)
        self._share(tmp)
        self._ready_to_store(oid)
        faults.point("cache.before_publish")
        while True:
            if fsutil.publish(tmp, final):
                fsutil.remove_quietly(tmp)  # first: taking a link away moves the ctime too
                self._remember_stored(oid)
                return
            if self.kept_if_intact(oid) and self.refresh(oid):
                return
            # taken out by gc between the two, or damaged and moved aside: published again

    # Repositories sharing a cache take no lock between them, yet an object one of them has
    # just started to use survives another's gc. The user marks it used by path: `refresh`
    # moves its mtime, a hard link to it raises its link count; either fails once the path is
    # empty, and the user then stores the object again. gc (`remove_unused`) looks at the
    # object, renames it aside (atomic: from then on no use reaches it by path), and looks
    # again: a use between the two looks changed its mtime or link count, and the object goes
    # back to its name (unless stored again meanwhile, which is as good). So a use that
    # succeeded either came before gc's first look (the object is young: kept), between the
    # looks (put back), or never reached the object gc deletes (it failed: stored again), in
    # hardlink, symlink and copy mode alike. The name may be empty for a moment while gc
    # decides: a reader then sees the object missing, as before it was stored.

    def refresh(self, oid: str) -> bool:
        """Mark a cached object as just used (its mtime): content added again is as new as
        content added for the first time, for gc's grace period, so another repository
        sharing this cache does not collect what this one has just started to use. False if
        the object is not there (gc took it out): the caller stores it again."""
        path = self.oid_path(oid)
        try:
            before = os.stat(path)
            moved = fsutil.set_mtime_before_ctime(path)
            self._keep_known(oid, before, os.stat(path), moved)
        except FileNotFoundError:
            return False
        except OSError:
            pass  # not ours to touch (a shared cache): it stays
        return True

    def remove_unused(self, oid: str, cutoff: float) -> tuple[str, int]:
        """Delete the object `oid` unless it was used after `cutoff` (its mtime or ctime) or
        is being used now (see above): what happened ("deleted", "young", or "gone": not
        there) and its size."""
        path = self.oid_path(oid)
        try:
            before = os.lstat(path)
        except FileNotFoundError:
            return GONE, 0
        if max(before.st_mtime, before.st_ctime) > cutoff:  # (renaming moves the ctime: only here)
            return YOUNG, before.st_size
        faults.point("gc.before_delete")
        try:
            held = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return GONE, 0
        try:
            # Held while aside: in tmp/ with its old mtime, it must not look like a killed
            # process's leftover to another repository's cleanup of stale temporaries.
            fsutil.hold(held)
            aside = self._set_aside_for_deletion(path)
            if aside is None:
                return GONE, 0
            faults.point("gc.after_set_aside")
            after = os.lstat(aside)
            if (after.st_mtime_ns, after.st_nlink) != (before.st_mtime_ns, before.st_nlink):
                fsutil.publish(aside, path)  # used meanwhile: back (or stored again already)
                fsutil.remove_quietly(aside)
                return YOUNG, before.st_size
            os.unlink(aside)
            return DELETED, before.st_size
        finally:
            os.close(held)

    def _set_aside_for_deletion(self, path: str) -> str | None:
        """Rename the object at `path` to a temporary name in `tmp/` (left there by a killed gc,
        it goes as any stale temporary does); None if it is gone."""
        aside = fsutil.temp_name_for(os.path.join(self.tmp_dir, "gc"))
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            if not os.path.lexists(path):
                return None
            self.make_folder(self.tmp_dir)
            os.rename(path, aside)
        return aside

    def scratch_file(self) -> IO[bytes]:
        """An unnamed file on the cache's filesystem for bytes on their way into the cache:
        no name reaches it, and it vanishes when closed or when the process dies."""
        import tempfile

        self._make_tmp_dir()
        return tempfile.TemporaryFile(dir=self.tmp_dir, buffering=0)

    def _make_tmp_dir(self) -> None:
        if not self._tmp_dir_made:
            self.make_folder(self.tmp_dir)
            self._tmp_dir_made = True

    def temporary(self, name: str) -> str:
        """A new name in the cache's tmp/ for a file on its way in (a download), tracked so
        Ctrl-C removes it; one a killed process leaves is removed by
        `remove_stale_temporaries`, as long as no process holds it (`fsutil.hold`)."""
        return self._temp_for(name)

    def _temp_for(self, oid_hint: str | None = None) -> str:
        # Once per large file or download: small ones have no temporary.
        self._make_tmp_dir()
        return fsutil.track_temporary(fsutil.temp_name_for(os.path.join(self.tmp_dir,
                                                                     oid_hint or "object")))

    def _store_bytes(self, data: bytes, oid: str, fault: str = "cache.bytes.before_publish",
                     may_exist: bool = True) -> None:
        if may_exist and self.exists(oid) and self.kept_if_intact(oid) and self.refresh(oid):
            return

        def before_name() -> None:
            faults.point(fault)
            faults.point("cache.before_publish")

        # Created read-only (the object's final mode, no chmod), unnamed until complete.
        self._ready_to_store(oid)
        if fsutil.write_whole(self.oid_path(oid), data, 0o444, replace=False,
                              exact_mode=self.shared, temp_dir=self.tmp_dir,
                              before_name=before_name, mtime_before_ctime=True):
            self._remember_stored(oid)

    def add_bytes(self, data: bytes) -> str:
        oid = hash_bytes(data, self.algo)
        self._store_bytes(data, oid)
        return oid

    def add_file(self, path: str, link_types: tuple[str, ...],
                 on_bytes: OnBytes | None = None) -> Ingested:
        """Store the content of the regular file at `path`, then make `path` the first link
        type in `link_types` that works. The content never changes; only a hard link replaces
        the file here, and only once the object is safely in the cache. A file to become a
        symlink is only stored (`to_symlink`): a link into the cache that nothing names yet
        would be all that is left of the file, and gc would delete its object, so the caller
        links it with `replace_by_symlink` once a pointer (or dvx.lock) names the object."""
        with fsutil.writing(self.root):  # a full disk: the cache's, whatever the temporary
            return self._add_file(path, link_types, on_bytes)

    def _add_file(self, path: str, link_types: tuple[str, ...], on_bytes: OnBytes | None
                  ) -> Ingested:
        for link_type in link_types:
            if link_type == "reflink":
                oid_size = self._add_by_reflink(path, on_bytes)
            elif link_type == "hardlink":
                try:
                    oid_size = self._add_by_hardlink(path, on_bytes)
                except OpenForWriting:
                    return Ingested(*self._add_by_copy(path, on_bytes), "copy",
                                    open_for_writing=True)
            else:  # symlink and copy both need an independent copy in the cache
                oid_size = self._add_by_copy(path, on_bytes)
            if oid_size is None:
                continue
            oid, size = oid_size
            if link_type == "symlink":  # left a copy then if another program writes to it
                return Ingested(oid, size, "copy", to_symlink=True)
            return Ingested(oid, size, link_type)
        oid, size = self._add_by_copy(path, on_bytes)
        return Ingested(oid, size, "copy")

    def replace_by_symlink(self, path: str, oid: str, size: int) -> bool:
        """Replace the file at `path`, whose bytes were stored as `oid` (`size` bytes), by a
        symlink to the object; False if it stays as it is (symlinks unsupported here, or the
        file no longer holds those bytes). OpenForWriting, the file untouched, if another
        process has it open for writing: what it writes next would go to no file."""
        # The object must hold the file's bytes (it may have been there before, and changed
        # through a link since) and survive even a power cut first, not just a crash of this
        # process.
        if not self._holds(oid, size):
            if self.exists(oid):
                self._set_aside_damaged(oid, path)
            if self._add_by_copy(path) != (oid, size):
                return False
        if is_open_for_writing(path):
            raise OpenForWriting(path)
        fsutil.fsync_file(self.oid_path(oid))
        try:
            fsutil.place(self.oid_path(oid), path, ("symlink",))
        except OSError as exc:
            if exc.errno not in fsutil.SYMLINK_UNSUPPORTED_ERRNOS:
                raise
            return False
        return True

    def _add_by_reflink(self, path: str, on_bytes: OnBytes | None) -> tuple[str, int] | None:
        if "reflink" in self.unsupported_links:
            return None
        tmp = self._temp_for()
        try:
            fsutil.reflink(path, tmp)
        except fsutil.NotRegularFileError:
            raise
        except OSError as exc:
            self.unsupported_links["reflink"] = exc.strerror or str(exc)
            return None
        try:
            oid, size = hash_file(tmp, self.algo, on_bytes)
            self._publish(tmp, oid)
        finally:
            fsutil.drop_temporary(tmp)
        return oid, size

    def _add_by_hardlink(self, path: str, on_bytes: OnBytes | None) -> tuple[str, int] | None:
        if "hardlink" in self.unsupported_links:
            return None
        fd, opened = fsutil.open_regular(path)
        try:
            try:
                oid, size = hash_open_file(fd, opened, path, self.algo, on_bytes)
            except fsutil.FileChangedError:
                return None  # fall back to a copy, which hashes what it stores
            return self._link_hashed(path, fd, opened, oid, size)
        finally:
            os.close(fd)

    def _link_hashed(self, path: str, fd: int, opened: os.stat_result, oid: str, size: int
                     ) -> tuple[str, int] | None:
        """Make the file open at `fd` (its fstat when opened: `opened`), just hashed as `oid`,
        the object, and `path` a link to it. The file is linked through the descriptor held
        open (`fsutil.link_open_file`), else by its name to a temporary name first, published
        only if that is the inode held open: either way, a new version renamed over `path`
        meanwhile (as editors save) is never stored under the oid of the bytes hashed, and
        the held descriptor keeps the inode's number from being given to another file. None
        if `path` no longer names those bytes: they are stored as the next link type says.
        OpenForWriting if another process has the file open for writing: sharing or
        replacing its inode would lose what it writes next."""
        if fsutil.open_for_writing_elsewhere(fd):
            raise OpenForWriting(path)
        held = os.fstat(fd)
        if (held.st_size, held.st_mtime_ns) != (opened.st_size, opened.st_mtime_ns):
            return None  # written to since it was hashed
        final = self.oid_path(oid)
        if held.st_nlink > 1 and not self._is_object(final, held):
            return self._add_shared_inode(path, held, oid, size)
        self._ready_to_store(oid)
        faults.point("cache.hardlink.before_link")
        # Read-only before it is the object, not after: an add stopped in between would
        # leave an object any link to it could write, and another repository sharing the
        # cache would link to it and trust it.
        if not self._protect_open_file(fd, held):
            return None
        try:
            faults.point("cache.hardlink.read_only")
            linked = fsutil.link_open_file(fd, final)
            if linked is None:
                return self._link_by_name(path, fd, held, oid, size)
            return self._publish_hashed(path, held, oid, size, linked,
                                        lambda: fsutil.link_open_file(fd, final))
        finally:
            if not self._is_object(final, os.fstat(fd)):  # stays the user's file: its mode
                os.fchmod(fd, stat.S_IMODE(held.st_mode))

    def object_mode(self, mode: int) -> int:
        """The mode a file of mode `mode` takes as it becomes an object here: read-only (the
        shared mode in a shared cache)."""
        return fsutil.SHARED_FILE_MODE if self.shared else mode & ~fsutil.WRITE_BITS

    def _protect_open_file(self, fd: int, held: os.stat_result) -> bool:
        """Give the file open at `fd` (its stat: `held`) the mode of an object about to be
        made of it: read-only (the shared mode in a shared cache). False if this user may
        not change its mode (another's file): it is then stored as a copy."""
        mode = stat.S_IMODE(held.st_mode)
        wanted = self.object_mode(mode)
        if wanted != mode:
            try:
                os.fchmod(fd, wanted)
            except PermissionError:
                return False
        return True

    def _link_by_name(self, path: str, fd: int, held: os.stat_result, oid: str, size: int
                      ) -> tuple[str, int] | None:
        """`_link_hashed` where the file cannot be linked through its descriptor."""
        tmp = self._temp_for()
        try:
            try:
                os.link(path, tmp)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno in fsutil.UNSUPPORTED_ERRNOS:
                    fsutil.note_unsupported(self.unsupported_links, "hardlink", exc)
                    return None
                raise
            now = os.fstat(fd)
            if not os.path.samestat(os.lstat(tmp), held) or (now.st_size, now.st_mtime_ns) != (
                    held.st_size, held.st_mtime_ns):
                return None  # replaced or written to since it was hashed
            final = self.oid_path(oid)
            return self._publish_hashed(path, held, oid, size, fsutil.publish(tmp, final),
                                        lambda: fsutil.publish(tmp, final))
        finally:
            fsutil.drop_temporary(tmp)

    def _publish_hashed(self, path: str, held: os.stat_result, oid: str, size: int,
                        linked: bool | None, link_again: Callable[[], bool | None]
                        ) -> tuple[str, int] | None:
        """`_link_hashed`, once the hashed inode `held` was linked as the object (`linked`) or
        found something already there; `link_again` links it again (False: something is
        there; None: it cannot be linked any more), when the object was taken out
        meanwhile."""
        final = self.oid_path(oid)
        while True:
            if linked is None:
                return None
            if linked:
                faults.point("cache.hardlink.after_link")
                self._remember_linked(oid, held)
                # Linked through its descriptor, the object holds the bytes hashed even if
                # a new version was renamed over `path` since; that one is stored as the
                # next link type says.
                return (oid, size) if _names(path, held) else None
            try:
                cached = os.stat(final)
            except FileNotFoundError:  # taken out by gc since: the file becomes the object
                linked = link_again()
                continue
            if os.path.samestat(cached, held):
                return oid, size
            # The content is cached already under another inode: link the workspace to it,
            # once it is known to hold these bytes (a write through another link may have
            # changed it); a damaged object is moved aside and the file becomes the object.
            if not self._holds(oid, size):
                if self.exists(oid):
                    self._set_aside_damaged(oid, path)
                linked = link_again()
                continue
            if not _names(path, held):
                return None  # replaced since it was hashed: never by the object
            try:
                fsutil.place(final, path, ("hardlink",), unsupported=self.unsupported_links)
            except FileNotFoundError:
                if self.exists(oid):
                    raise
                linked = link_again()
                continue  # taken out by gc meanwhile
            except OSError as exc:
                if exc.errno in fsutil.UNSUPPORTED_ERRNOS:
                    return None
                raise
            return oid, size

    def _remember_linked(self, oid: str, hashed: os.stat_result) -> None:
        """Know intact the inode dvx has just hashed (`hashed`: its stat as the hash began and
        ended) and made the object: a write since would have moved its mtime or size."""
        st = os.stat(self.oid_path(oid))
        if (st.st_ino, st.st_size, st.st_mtime_ns) == (hashed.st_ino, hashed.st_size,
                                                       hashed.st_mtime_ns):
            self._remember(oid, st)

    @staticmethod
    def _is_object(final: str, st: os.stat_result) -> bool:
        try:
            return os.path.samestat(os.stat(final), st)
        except FileNotFoundError:
            return False

    def _add_shared_inode(self, path: str, st: os.stat_result, oid: str, size: int
                          ) -> tuple[str, int] | None:
        """Store a file whose inode has other links (from outside the repository, or a
        cache object it was linked to and has changed through) as a copy, and make the
        workspace file a link to that copy: linking the inode itself would let a write
        through any other link change the object, and would make those links read-only.
        The other links keep their inode, bytes and mode. None if the file changed meanwhile
        (it is then stored as the next link type says)."""
        if not self._holds(oid, size):
            if self.exists(oid):
                self._set_aside_damaged(oid, path)
            stored = self._add_by_copy(path)
            now = os.stat(path)
            if stored != (oid, size) or (now.st_ino, now.st_mtime_ns, now.st_ctime_ns) != (
                    st.st_ino, st.st_mtime_ns, st.st_ctime_ns):
                return None
        try:
            fsutil.place(self.oid_path(oid), path, ("hardlink",),
                         unsupported=self.unsupported_links)
        except FileNotFoundError:
            if self.exists(oid):
                raise
            return self._add_shared_inode(path, st, oid, size)  # taken out by gc meanwhile
        except OSError as exc:
            if exc.errno in fsutil.UNSUPPORTED_ERRNOS:
                return None
            raise
        return oid, size

    def _add_by_copy(self, path: str, on_bytes: OnBytes | None = None) -> tuple[str, int]:
        data = fsutil.read_small_file(path, fsutil.SMALL_FILE, one_version=True)
        if data is not None:
            # Read whole, hashed, and written only if the object is new: no temporary at all
            # for content the cache already has.
            oid = hash_bytes(data, self.algo)
            self._store_bytes(data, oid, fault="cache.copy.after_temp_write")
            return oid, len(data)
        tmp = self._temp_for()
        try:
            # Readable too: the copy is hashed from its own pages (hash_copy).
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            fsutil.hold(fd)
            try:
                oid, size = hash_copy(path, fd, self.algo, on_bytes)
                faults.point("cache.copy.after_temp_write")
            finally:
                os.close(fd)
            self._publish(tmp, oid)
        finally:
            fsutil.drop_temporary(tmp)
        return oid, size

    def add_bytes_verified(self, data: bytes, expected_oid: str) -> int:
        """Store downloaded bytes as `expected_oid`, only if they hash to it."""
        actual = hash_bytes(data, self.algo)
        if actual != expected_oid:
            raise CorruptObjectError(
                f"Object {expected_oid} is corrupt: its {len(data)} bytes hash to {actual}.",
                "It was not stored; fix or re-push it at the source.")
        if _has_zero_block(data):  # written by pieces, so that its runs of zeros stay holes
            with self.verified_writer(expected_oid) as writer:
                view = memoryview(data)
                for start in range(0, len(data), SPARSE_BLOCK):
                    writer.write(view[start:start + SPARSE_BLOCK])
                return writer.commit()
        # Downloads are of objects the cache lacked a moment ago: no need to look again (one
        # lookup per object). Should another process have stored it since, its copy stays.
        self._store_bytes(data, expected_oid, may_exist=False)
        return len(data)

    def add_stream(self, src: IO[bytes], expected_oid: str,
                   on_chunk: Callable[[int], None] | None = None) -> int:
        """Store a downloaded stream as `expected_oid`, only if its bytes hash to it."""
        with self.verified_writer(expected_oid) as writer:
            while chunk := src.read(CHUNK_SIZE):
                writer.write(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
            return writer.commit()

    def verified_writer(self, expected_oid: str, on_bytes: OnBytes | None = None
                        ) -> VerifiedWriter:
        return VerifiedWriter(self, expected_oid, on_bytes)


    # -- checkout -------------------------------------------------------------------------------

    def link_to(self, oid: str, dst: str, link_types: tuple[str, ...], exec_bit: bool,
                on_bytes: OnBytes | None = None) -> tuple[str, os.stat_result]:
        """Place object `oid` at workspace path `dst` (replacing it atomically); return the
        link type used and the stat to record for it in the stat cache (a symlink's: its
        object's). Executable files are never hard or symbolically linked: the mode would be
        shared with the cache object. An object whose bytes no longer hash to its oid
        (`intact`) is never placed: CorruptObjectError, `dst` untouched. An intact one that
        is not the size a pointer records is placed: that size is what is wrong (the stat
        returned tells)."""
        before = self._protected_stat(oid)
        if not self.intact(oid, before):
            raise CorruptObjectError(f"The cached object {oid} no longer hashes to its oid: it "
                                     "was changed after it was stored.")
        if exec_bit:
            link_types = fsutil.link_types_for_executable(link_types)
        if "symlink" in link_types:
            self._check_readable(oid)
        used = fsutil.place(self.oid_path(oid), dst, link_types, exec_bit=exec_bit,
                            unsupported=self.unsupported_links, on_bytes=on_bytes)
        if used == "symlink":
            placed = os.stat(dst)
            self._keep_known(oid, before, placed)
            return used, placed
        placed = os.lstat(dst)
        if used == "hardlink":
            if placed.st_mode & _UNPROTECTED_BITS:
                # The object shares this inode: an edit through the workspace must be refused.
                self._protect(dst)
                placed = os.lstat(dst)
            self._keep_known(oid, before, placed)  # the new link moved its ctime
        return used, placed

    def _check_readable(self, oid: str) -> None:
        """PermissionError, naming the object, if this user may not read it (a teammate's,
        kept private, in a shared cache): a symlink to it would be placed all the same, and
        read as nothing."""
        path = self.oid_path(oid)
        if not os.access(path, os.R_OK) and os.path.exists(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    @staticmethod
    def _protect(path: str) -> None:
        """Make the object at `path` read-only and not executable, as it was stored, again: a
        chmod through a link to it changes the mode of every path linked to it."""
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & _UNPROTECTED_BITS:
            os.chmod(path, mode & ~_UNPROTECTED_BITS)

    def object_for_symlink(self, target: str) -> str | None:
        """If `target` (a symlink's target, as written or resolved) is an object path of this
        cache, return its oid. The cache may be reached through symbolic links (`.dvx/cache`
        itself a link, or `cache.dir` through a linked directory): a target under any path
        that leads to this cache's object directory names its object."""
        head, rest = os.path.split(os.path.normpath(target))
        files_dir, shard = os.path.split(head)
        oid = shard + rest
        if len(shard) != 2 or not is_valid_oid(oid, self.algo):
            return None
        if files_dir in (self.files_root, self._real_files_root):
            return oid
        # Another path to the same directory: resolved only for oid-shaped targets, rare.
        return oid if os.path.realpath(files_dir) == self._real_files_root else None

    @functools.cached_property
    def _real_files_root(self) -> str:
        return os.path.realpath(self.files_root)

    def holds_path(self, path: str) -> bool:
        """Is `path` (absolute and normalized, its folders resolved or not) this cache's
        folder or inside it? Nothing of `path` is resolved: a path to a workspace file that
        is a link into the cache is not inside it."""
        return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep)
                   for root in self._root_spellings)

    @functools.cached_property
    def _root_spellings(self) -> tuple[str, ...]:
        """This cache's folder as cache.dir gives it, with the folders above it resolved, and
        resolved whole (`.dvx/cache` itself a link, or `cache.dir` through a linked folder)."""
        above, name = os.path.split(self.root)
        return self.root, os.path.join(os.path.realpath(above), name), os.path.realpath(self.root)


# How far past its mtime the ctime of an object dvx has just stored may be: the second
# `fsutil.set_mtime_before_ctime` sets the mtime back, and the moments until it is named.
_STORED_CTIME_LAG_NS = 5_000_000_000


def _names(path: str, st: os.stat_result) -> bool:
    """Is `path` (still) the inode `st` describes?"""
    try:
        return os.path.samestat(os.lstat(path), st)
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class ObjectVersion(fsutil.FileVersion):
    """The version of a cached object a push sends: its stat when its bytes were known to
    hash to its oid (`LocalCache.intact`), its ctime included. Another stat is another
    version unless the bytes still hash to the oid (it is hashed, once): marking the object
    used (`LocalCache.refresh`, which another repository sharing the cache may do at any
    time) moves its times and no byte, while a write in place, even one that sets the mtime
    back (`cp -p`), changes the bytes."""
    ctime_ns: int
    oid: str = field(compare=False)
    cache: LocalCache = field(compare=False, repr=False)

    @classmethod
    def of_object(cls, cache: LocalCache, oid: str, st: os.stat_result) -> ObjectVersion:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, oid, cache)

    def describes(self, st: os.stat_result) -> bool:
        if (st.st_dev, st.st_ino, st.st_size) != (self.dev, self.ino, self.size):
            return False
        return (st.st_mtime_ns, st.st_ctime_ns) == (self.mtime_ns, self.ctime_ns) or (
            self.cache.intact(self.oid, st))


def kept_message(kept: list[str], linked_to: str = "it") -> str:
    """What became of the workspace files linked to objects that were set aside (`linked_to`
    names them)."""
    if not kept:
        return ""
    names = ", ".join(f"'{path}'" for path in sorted(kept))
    one = len(kept) == 1
    return (f" {names} linked to {linked_to} and now {'holds' if one else 'hold'} its bytes as "
            f"{'a file of its own' if one else 'files of their own'}: `dvx status` shows "
            f"{'it' if one else 'them'} modified, `dvx add` records the change, `dvx checkout "
            "--force` puts back what the pointer names (fetched by `dvx pull` first, if the "
            "cache lacks it).")


def unreadable_object(exc: OSError) -> str:
    """Why an object of the cache this user may not read (a teammate's, kept private, in a
    shared cache: `exc` names it) was not placed or uploaded."""
    return (f"its object in the cache may not be read: {fsutil.describe(exc)}; its owner can "
            "make it readable (`chmod a+r`), as `dvx config cache.shared group` makes every "
            "object stored from then on")


def is_open_for_writing(path: str) -> bool:
    """Has another process the regular file at `path` open for writing (as far as this system
    can tell: `fsutil.open_for_writing_elsewhere`)?"""
    fd, _ = fsutil.open_regular(path)
    try:
        return fsutil.open_for_writing_elsewhere(fd)
    finally:
        os.close(fd)


def is_regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


SPARSE_BLOCK = 64 << 10  # a downloaded piece all zeros, and at least this long, is a hole


@functools.lru_cache(maxsize=8)
def _zeros(length: int) -> bytes:
    return bytes(length)


def _has_zero_block(data: bytes) -> bool:
    """Has `data` a piece VerifiedWriter would leave as a hole? (Cheap for most data: a
    piece is compared whole only if its first and last bytes are zeros.)"""
    return any(data[start] == 0 and data[start + SPARSE_BLOCK - 1] == 0
               and data[start:start + SPARSE_BLOCK] == _zeros(SPARSE_BLOCK)
               for start in range(0, len(data) - SPARSE_BLOCK + 1, SPARSE_BLOCK))


class VerifiedWriter:
    """Receives an object's bytes piece by piece into a temporary file, hashing them on the
    way; `commit` moves the file into the cache only if they hash to the expected oid.
    Leaving the `with` block without a commit removes the temporary file."""

    def __init__(self, cache: LocalCache, expected_oid: str,
                 on_bytes: OnBytes | None = None) -> None:
        check_oid(expected_oid, cache.algo)
        self.on_bytes = on_bytes
        self.cache = cache
        self.expected_oid = expected_oid
        self.tmp = cache._temp_for(expected_oid)
        self.file = open(self.tmp, "xb")  # noqa: SIM115 - closed in commit or __exit__
        fsutil.hold(self.file.fileno())
        self.hasher = get_algorithm(cache.algo).new()
        self.size = 0

    def write(self, chunk: bytes | memoryview) -> None:
        self.hasher.update(chunk)
        if len(chunk) >= SPARSE_BLOCK and chunk == _zeros(len(chunk)):
            self.file.seek(len(chunk), os.SEEK_CUR)  # a run of zeros stays a hole
        else:
            with fsutil.writing(self.cache.root):
                self.file.write(chunk)
        self.size += len(chunk)
        if self.on_bytes is not None:
            self.on_bytes(len(chunk))

    def commit(self) -> int:
        with fsutil.writing(self.cache.root):
            self.file.truncate(self.size)  # a file that ends in a hole ends where it should
            self.file.close()
        actual = self.hasher.hexdigest()
        if actual != self.expected_oid:
            raise CorruptObjectError(
                f"Object {self.expected_oid} is corrupt: its {self.size} bytes hash to {actual}.",
                "It was not stored; fix or re-push it at the source.")
        faults.point("cache.stream.before_publish")
        self.cache._publish(self.tmp, actual)
        fsutil.drop_temporary(self.tmp)
        return self.size

    def __enter__(self) -> VerifiedWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The temporary is discarded: bytes still buffered after a failed write (a full disk)
        # need not reach it, and closing, which tries to write them, must neither keep it nor
        # hide why the write failed.
        try:
            with contextlib.suppress(OSError):
                self.file.close()
        finally:
            fsutil.drop_temporary(self.tmp)
