"""A remote's inventory: what its pack indexes say it holds.

Indexes are immutable and named by their hash, so each is downloaded once, checked whole
(packs.read_index) and kept in a local directory; learning what a remote holds costs one
listing of its `indexes/` prefix plus the indexes not seen before, never a listing of every
object. An index that fails its checks is refused: nothing it names is used, and the
commands that must see every index (gc --remote) stop with its error. So is one the listing
names but that cannot be read (a folder, a link to nothing): it is damaged, not gone. So is
one written by a newer dvx (a higher format number), which is not damaged: only upgrading dvx
reads it. A local copy is trusted as the remote's own bytes; only `recheck` (fsck --remote,
push --repair) downloads every index again, to find one damaged on the remote after this
repository kept its copy. Copies are kept per store (store.index_dir_for), and a listing
deletes those of indexes its remote no longer lists: a command that listed one before reads
it from the remote again, or stops if it is gone there too (sections). A remote holding packs
but nothing in `indexes/`, not even the mark the first push of packs writes there, lost its
indexes (a copy that missed the folder): every command stops, as gc would take its packs for
left over and a pull its data for never pushed.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from dvx import faults, fsutil
from dvx.errors import (
    CorruptObjectError,
    DvxError,
    FormatError,
    LostConnection,
    NewerFormatError,
    RemoteError,
)
from dvx.logs import get_logger
from dvx.objects.layout import INDEXES_DIR, INDEXES_MARK, PACKS_DIR, is_index_name, is_pack_name
from dvx.remote.backends import access_refused, network_failure
from dvx.remote.blobs import Blobs
from dvx.remote.packs import Section, index_name, read_index
from dvx.remote.retry import Retrying, describe, with_retries

log = get_logger(__name__)

_PUT_BACK = (f"Put back the remote's {INDEXES_DIR}/ folder as it was (every index in it names "
             "packs the data is in).")
INDEX_DOWNLOADS = 8  # new indexes fetched at once
RELISTS = 5  # listings of the indexes, while some vanish before they are downloaded
MISSES = 2  # reads of a listed index that find nothing before it is taken for damaged


class Inventory:
    def __init__(self, blobs: Blobs, algo: str, cache_dir: str, retries: int = 5) -> None:
        self.blobs = blobs
        self.retries = retries  # attempts for each request
        self.algo = algo
        self.cache_dir = cache_dir  # the checked indexes, by name
        self._names: list[str] | None = None
        self.refused: dict[str, str] = {}  # index name -> why it was not used
        self.newer: set[str] = set()  # those of `refused` written by a newer dvx
        self.marked = False  # whether the last listing found the mark of a remote given packs

    def index_names(self, refresh: bool = False) -> list[str]:
        """The usable indexes on the remote (listed once per command unless `refresh`)."""
        if self._names is None or refresh:
            with self.blobs.session():
                self._names = self._refresh()
            faults.point("inventory.listed")  # the copies of these are read from here on
        return self._names

    def listed(self) -> bool:
        """Whether the indexes were listed already (they may have changed since)."""
        return self._names is not None

    def recheck(self) -> list[str]:
        """The usable indexes, each downloaded and checked again however it was kept: one
        damaged on the remote is refused, and its local copy deleted, as if never seen."""
        with self.blobs.session():
            self._names = self._refresh(again=True)
        return self._names

    def forget(self) -> None:
        """Ask the remote again next time (after it changed: a gc, a consolidation)."""
        self._names = None

    def _listed(self) -> list[str]:
        """The names in the remote's indexes folder; a connection that failed is one error
        naming the remote and what was being done, and a folder lost while packs are there
        (`_lost_indexes`) one saying so."""
        faults.point("inventory.before_listing")
        retried = Retrying(self.blobs, self.retries)
        try:
            names = retried.names(INDEXES_DIR)
            # Listed again once packs are found: a first push may have marked the folder
            # and sent its first pack in between.
            if self._bare(names) and self._holds_packs(retried):
                names = retried.names(INDEXES_DIR)
                if self._bare(names):
                    raise self._lost_indexes()
            self.marked = INDEXES_MARK in names
            return names
        except PermissionError as exc:  # the store's, not a local file's
            raise access_refused(self.blobs, exc) from None
        except LostConnection:  # and not made again: says so itself, as elsewhere
            raise
        except (ConnectionError, TimeoutError) as exc:
            raise RemoteError(f"Could not list the pack indexes on the {self.blobs.shown}: "
                              f"{network_failure(exc, self.blobs.root, self.blobs.server)}.",
                              "Check the network and the server, then run the command "
                              "again.") from exc
        except (FileNotFoundError, NotADirectoryError) as exc:  # a file, a link to nothing
            raise RemoteError(f"Could not list the pack indexes on the {self.blobs.shown}: "
                              f"{describe(exc)} ({INDEXES_DIR}/).",
                              _PUT_BACK) from None

    def _bare(self, names: list[str]) -> bool:
        """Whether the listing `names` of indexes/ holds neither an index nor the mark."""
        return INDEXES_MARK not in names and not any(is_index_name(n, self.algo) for n in names)

    def _holds_packs(self, retried: Retrying) -> bool:
        try:
            listed = retried.names(PACKS_DIR)
        except (FileNotFoundError, NotADirectoryError):  # no packs/ to read: none to lose
            return False
        return any(is_pack_name(name, self.algo) for name in listed)

    def _lost_indexes(self) -> RemoteError:
        return RemoteError(
            f"The {self.blobs.shown} holds packs, but its {INDEXES_DIR}/ folder is missing or "
            "empty: only the indexes in it say which object lies in which pack, so no object "
            "in those packs can be found (and gc would take the packs for left over).",
            f"{_PUT_BACK} If it never held an index (a first push by an older dvx, stopped "
            f"before writing one), move {PACKS_DIR}/ out of the remote and run `dvx push` "
            "again.")

    def _refresh(self, again: bool = False) -> list[str]:
        # An index deleted between the listing and its download was merged into one
        # published before it went (gc, consolidation): listing again finds that one. One
        # the listings still name after two reads found nothing is no index gone but one
        # that cannot be read (a link to nothing): damaged, never taken for gone, which
        # would leave its packs to gc as left over.
        # `again`: every index listed is downloaded, not only those without a local copy.
        fetched: set[str] = set()
        misses: Counter[str] = Counter()  # reads that found nothing, by index
        for _ in range(RELISTS):
            names = self._listed()
            listed = [n for n in names if is_index_name(n, self.algo)]
            for name in listed:
                if misses[name] >= MISSES and name not in self.refused:
                    self._refuse(name, CorruptObjectError(
                        f"The pack index {name} is damaged: the remote lists it, yet reading "
                        "it finds nothing there (a link to nothing?)."))
            have = set(os.listdir(self.cache_dir)) if os.path.isdir(self.cache_dir) else set()
            new = [name for name in listed if (again or name not in have)
                   and name not in self.refused and name not in fetched]
            if not new:
                break
            with ThreadPoolExecutor(min(INDEX_DOWNLOADS, len(new))) as pool:
                found = dict(zip(new, pool.map(self._download, new), strict=True))
            fetched.update(name for name, there in found.items() if there)
            misses.update(name for name, there in found.items() if not there)
            if all(found.values()):
                break
        for gone in have - set(listed):  # deleted on the remote (merged into another)
            if is_index_name(gone, self.algo):
                fsutil.remove_quietly(os.path.join(self.cache_dir, gone))
        return [name for name in listed if name not in self.refused
                and os.path.exists(os.path.join(self.cache_dir, name))]

    def _download(self, name: str) -> bool:
        """Download and check the index `name`: False if it is gone from the remote."""
        def whole() -> bytes:
            data = self.blobs.get(f"{INDEXES_DIR}/{name}")
            if index_name(data, self.algo) != name:  # damaged on the way, or at rest
                raise CorruptObjectError(f"The pack index {name} is damaged: its bytes do "
                                         "not hash to its name.")
            return data

        try:
            data = with_retries(whole, self.retries, f"index {name}")
            for _ in read_index(data.splitlines(keepends=True), self.algo, name):
                pass
        except FileNotFoundError:
            return False
        except (FormatError, CorruptObjectError) as exc:
            self._refuse(name, exc)
            return True
        except DvxError:
            raise
        except PermissionError as exc:
            raise access_refused(self.blobs, exc) from None
        except OSError as exc:
            if not _unreadable(exc):
                raise self._unread(name, exc) from None
            self._refuse(name, CorruptObjectError(
                f"The pack index {name} is damaged: the remote lists it, but it cannot be "
                f"read: {describe(exc)}."))
            return True
        except Exception as exc:  # the server's error, a cut-off answer, a timeout
            raise self._unread(name, exc) from None
        self.keep_copy(name, data, replace=True)  # over a copy damaged here (fsck's recheck)
        return True

    @staticmethod
    def _unread(name: str, exc: Exception) -> RemoteError:
        # Going on without it would take what it names for missing.
        return RemoteError(f"The pack index {INDEXES_DIR}/{name} could not be read from the "
                           f"remote: {describe(exc)}.",
                           "Check the server and the network, then run the command again.")

    def _refuse(self, name: str, exc: FormatError | CorruptObjectError) -> None:
        """Use nothing the index `name` names, and say so."""
        self.refused[name] = exc.message
        fsutil.remove_quietly(os.path.join(self.cache_dir, name))  # a copy kept earlier
        if isinstance(exc, NewerFormatError):
            self.newer.add(name)
            log.warning("%s Nothing it names is used: upgrade dvx to read it.", exc.message)
        else:
            log.warning("%s Nothing it names is used.", exc.message)

    def keep_copy(self, name: str, data: bytes, replace: bool = False) -> None:
        """Keep the local copy of a checked index (one this process wrote needs no download);
        `replace`: also over a copy already kept."""
        os.makedirs(self.cache_dir, exist_ok=True)
        fsutil.write_whole(os.path.join(self.cache_dir, name), data, 0o644, replace=replace)

    def sections(self, names: list[str] | None = None) -> Iterator[tuple[str, Section]]:
        """(index name, section) for every section of every usable index, read a line at a
        time from the local copies."""
        for name in self.index_names() if names is None else names:
            with self._open_copy(name) as f:
                for section in read_index(f, self.algo, name):
                    yield name, section

    def _open_copy(self, name: str) -> IO[bytes]:
        """The local copy of the listed index `name`. One gone since the listing (deleted by
        another command's refresh, its remote no longer listing it then, or by hand) is
        downloaded again: going on without it would take what it names for missing, and gc
        the packs it names for packs no index names. One the remote lost too was merged into
        another index since the listing, which this command has not read: it stops."""
        path = os.path.join(self.cache_dir, name)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            pass
        with self.blobs.session():
            there = self._download(name)
        if name in self.refused:  # damaged on the remote since this command listed it
            raise RemoteError(self.refused[name], "Look at it with `dvx fsck --remote`.")
        if there:
            try:
                return open(path, "rb")
            except FileNotFoundError:  # deleted again: by a refresh that no longer listed it
                pass
        raise RemoteError(f"The pack index {INDEXES_DIR}/{name} is gone from the "
                          f"{self.blobs.shown}: a gc or a push merged it into another index "
                          "while this command read them.",
                          "Run the command again: it then reads the indexes the remote has "
                          "now.")

    def absent(self, oids: Collection[str]) -> set[str]:
        """Those of `oids` that no index names."""
        remaining = set(oids)
        for _, section in self.sections():
            if not remaining:
                break
            for entry in section.entries:
                remaining.discard(entry[0])
        return remaining


def _unreadable(exc: OSError) -> bool:
    """Whether what stands under a listed name can never be read as a blob, however often it
    is asked: a folder, a FIFO or device, a loop of links (on a directory remote)."""
    return (isinstance(exc, (IsADirectoryError, fsutil.NotRegularFileError))
            or exc.errno == errno.ELOOP)
