"""What the workspace was last synced to, per tracked output.

`add`, `commit`, `checkout`, `pull` and `repro` record, for each output they leave matching
its pointer (or dvx.lock entry), the oid the workspace then held; for a directory checked out
only in part (`dvx pull data/images/cat.png`), also which parts were placed. With that, a
pointer that moved in Git since (`git pull`, `git checkout`) is told apart from a change made
in the workspace: the workspace still holding the synced data means "the data must be
fetched", not "record this data", so no command writes the old data over a teammate's new
pointer. And entries of a directory that were never placed here (all of them, with no record)
are "not pulled", not deleted, so a partial pull, or none, never shrinks a directory when it
is committed (`placed_here`).

For a file, the record keeps its executable bit too: a pointer whose bit alone changed in Git is
outdated, like one whose data changed.

A directory placed in part at a newer version than the rest of it (`git pull`, then `dvx pull
data/images/cat.png`), or whose checkout stopped half-way (Ctrl-C, objects missing), keeps the
record of what it was synced to before as its `base`: files outside the newly placed parts are
still compared with that older version, so the data a teammate changed is never taken for a
change made here (ops/sync_layers.py).

Stored in `.dvx/tmp/synced.json` (this clone's own state, never tracked), rewritten
atomically under the repository lock. Losing it loses little: a path with no record is
compared with the versions HEAD's recent commits recorded for it (ops/status.py,
history.py `recorded_lately`) until a command records it again (below). A record of another
format version (a newer dvx's) counts as none and is never written over (`flush`).

A clone's own pointer write must never look like a change from Git, even when dvx dies right
after it: before `add` or `commit` writes pointers, it records each one's new record as
pending, with a digest of the pointer bytes it is about to write (`expect`). A pending record
counts once its pointer file holds exactly those bytes (the write happened); else the record
before it stands (the write never happened, or Git moved the pointer since). A pipeline
output's record (`repro`, `commit` of a stage output) is pending in the same way until
dvx.lock records that output as the data the record names (`expect_in_lock`): each output is
checked against its own entry, so later writes of dvx.lock by other stages leave it settled.
Before a run deletes a stage's outputs, each recorded one with no record is recorded as synced
to what dvx.lock records: what a run stopped or failed half-way leaves there is dvx's, never
data of the user's own (pipeline/staleness.py `_own_data`).

A workspace that no dvx of this version synced (last synced by a dvx that kept no record, or
whose record was deleted) is recorded as it is seen: a command that finds a path holding what
its pointer records, with no record for it, notes that (`note_in_sync`), and the next `flush`
(under the lock) records it, marked `found` (dvx did not place it), if there is still no
record for it and its pointer file (or dvx.lock entry) still records that data.

`dvx remove` marks each path it is about to stop tracking as being removed, before it deletes
anything, and clears the mark when done: a remove killed half-way is told by that mark alone,
never by a `.gitignore` line that may be the user's own (ops/manage.py).

`dvx move` marks the move it is about to make (from, to) before it writes anything, and
clears the mark when done: only a move so marked is finished by running it again, never one
onto another tracked path that holds the same data (ops/manage.py). A mark counts only while
the move is half-done (both pointer files there): one read after the old pointer went is kept
as a move done, for its rerun to say so and end it, and one with no new pointer is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dvx import fsutil
from dvx.errors import DvxError, FormatError
from dvx.hashing import is_valid_oid
from dvx.lockfile import read_lock
from dvx.logs import get_logger
from dvx.paths import POINTER_SUFFIX, check_relpath
from dvx.pointer import MAX_POINTER_BYTES, parse_pointer

log = get_logger(__name__)

FORMAT_VERSION = 1
MAX_BYTES = 64 << 20
MAX_LAYERS = 8  # records of older versions kept under a directory's newer parts


@dataclass(frozen=True)
class Synced:
    oid: str  # of the file, or of the directory's manifest
    placed: tuple[str, ...] | None = None  # a directory placed in part: its placed subpaths
    # What the files outside `placed` were synced to before (an older version of the
    # directory); None: they were never placed here.
    base: Synced | None = None
    # The data was already there, matching, when a checkout first synced it (a file `dvx
    # remove` kept, say): dvx did not place it, so it never takes it away as data left
    # behind (ops/left_behind.py).
    found: bool = False
    # A file's executable bit as placed or recorded, so that a pointer whose bit alone changed
    # in Git is told apart from a chmod here; None for a directory (its manifest has the
    # bits), and in a record written before the bit was kept (the mode then compares as
    # workspace against pointer).
    executable: bool | None = None
    # The commit HEAD was at when a command wrote this record (None: unknown, no commit
    # yet): for a version of the user's own that Git's undo took back, what HEAD's pointer
    # then was tells a pointer Git brought since from the one the user's was written over
    # (ops/status.py `written_over`). Not part of what the workspace holds: never compared.
    head: str | None = field(default=None, compare=False)
    # The path `dvx move` moved this record from (the first, of moves one after another):
    # where Git's history tells what the pointer moved along came from, until the new path
    # has one of its own. Not part of what the workspace holds: never compared.
    moved_from: str | None = field(default=None, compare=False)

    @classmethod
    def whole(cls, oid: str, is_dir: bool, executable: bool) -> Synced:
        """The record of a file or directory synced whole, as its pointer records it."""
        return cls(oid, executable=None if is_dir else executable)

    def covers(self, relpath: str) -> bool:
        """Was `relpath` (inside the directory) placed in this workspace at this version?"""
        return self.placed is None or any(
            relpath == p or relpath.startswith(p + "/") for p in self.placed)

    def layers(self, down_to: str | None = None) -> list[Synced]:
        """This record and those under it, newest first; with `down_to` (a relpath), only
        down to the first that placed it."""
        found: list[Synced] = []
        layer: Synced | None = self
        while layer is not None:
            found.append(layer)
            if down_to is not None and layer.covers(down_to):
                break
            layer = layer.base
        return found

    def layer_for(self, relpath: str) -> Synced | None:
        """The record of the version `relpath` was last placed at (None: never placed)."""
        last = self.layers(down_to=relpath)[-1]
        return last if last.covers(relpath) else None

    @property
    def unfinished(self) -> bool:
        """Is this a version a checkout began to place and never finished (its record
        written ahead, kept by a checkout killed or short of objects): placed in no part,
        though any of its files may be in place?"""
        return self.placed == ()

    @property
    def placed_nothing(self) -> bool:
        """Did no checkout finish placing any part of the directory at any of these versions
        (each record written ahead by one killed, or short of objects, maybe before it
        reached the directory)? Then none of its files is known to be placed here: one
        absent is not pulled yet, never deleted."""
        return all(layer.unfinished for layer in self.layers())

    def layers_placing(self, relpath: str) -> list[Synced]:
        """The layers whose version of `relpath` a checkout may have placed there: those
        down to the one that placed it (an interrupted checkout above it may have placed a
        newer version); where none did, those of checkouts that did not finish, which may
        have placed any of their files (a first `dvx pull` of the directory killed
        half-way)."""
        layers = self.layers(down_to=relpath)
        if layers[-1].covers(relpath):
            return layers
        return [layer for layer in layers if layer.unfinished]

    def may_have_placed(self, relpath: str) -> bool:
        """Might a checkout have placed `relpath` (inside the directory) at one of these
        versions (`layers_placing`)?"""
        return bool(self.layers_placing(relpath))

    @property
    def depth(self) -> int:
        return 1 if self.base is None else 1 + self.base.depth

    def with_part(self, subpath: str) -> Synced:
        """This record after `subpath` (of the same directory version) was placed too."""
        if self.placed is None or self.covers(subpath):
            return self
        return Synced(self.oid, (*self.placed, subpath), self.base)

    def moved_to(self, oid: str, placed: tuple[str, ...]) -> Synced | None:
        """The record after `placed` parts of another version `oid` were placed over this one
        (None when that would keep more than MAX_LAYERS versions: the caller then keeps this
        record, under which the moved pointer is a change to refuse, never to record)."""
        base: Synced | None = self
        if not placed:  # nothing placed yet: an older record of that version, which placed
            base = self._without_empty(oid)  # nothing either, adds nothing (branch switches)
        if base is not None and base.depth >= MAX_LAYERS:
            return None
        return Synced(oid, placed, base)

    def _without_empty(self, oid: str) -> Synced | None:
        """This record without its layers of `oid` that placed nothing."""
        base = self.base._without_empty(oid) if self.base is not None else None
        if self.oid == oid and self.placed == ():
            return base
        return self if base is self.base else Synced(self.oid, self.placed, base)


def placed_here(synced: Synced | None, relpath: str) -> bool:
    """Was `relpath`, inside the directory whose record is `synced`, placed in this
    workspace? With no record, nothing of it was as far as this clone knows (a clone that
    never pulled the directory, where files were then put by hand), as a whole output with
    no record is not pulled (ops/status.py `never_placed`): its absent files are a
    teammate's, not deletions a commit would record."""
    return synced is not None and synced.covers(relpath)


class SyncState:
    def __init__(self, path: str, algo: str, root: str,
                 head: Callable[[], str | None] = lambda: None) -> None:
        self.path = path
        self.algo = algo
        self.root = root  # of the workspace, whose pointer files settle pending records
        self._head = head  # the commit HEAD is at now, which each record written names
        self._head_now: tuple[str | None] | None = None  # read once, again after `reload`
        self._records: dict[str, Synced] | None = None
        # path -> record, and the digest of its pointer's bytes (None: recorded in dvx.lock)
        self._pending: dict[str, tuple[Synced, str | None]] = {}
        self._removing: set[str] = set()  # paths a `dvx remove` began to stop tracking
        self._moving: set[tuple[str, str]] = set()  # (from, to) of moves `dvx move` began
        # Moves found done but for their mark (the old pointer gone, the new one there): no
        # evidence of a move to finish, kept for a rerun to say it is done (`_sort_moves`)
        self._moved: set[tuple[str, str]] = set()
        # path -> (what the workspace was found to hold, matching its pointer, with no record;
        # whether dvx.lock records it): recorded by `flush` if still true (`note_in_sync`)
        self._in_sync: dict[str, tuple[Synced, bool]] = {}
        self._changed = False  # by this process: record, expect, forget, move
        self._settled = False  # pending records read and settled: the next flush writes them
        # The format version of a record this dvx does not know (a newer dvx's), which it
        # reads as no record and never overwrites (`flush`); None: its own, or no record
        self._foreign_version: object = None
        self._foreign_told = False

    def _load(self) -> dict[str, Synced]:
        if self._records is None:
            self._records = self._read()
        return self._records

    def _read(self) -> dict[str, Synced]:
        self._removing, self._moving, self._moved = set(), set(), set()
        self._foreign_version = None
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read(MAX_BYTES + 1))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("Ignoring the unreadable record of what was checked out (%s): %s",
                        self.path, exc)
            return {}
        records: dict[str, Synced] = {}
        if isinstance(doc, dict) and doc.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            self._foreign_version = doc["version"]
            return records
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION \
                or doc.get("algo") != self.algo or not isinstance(doc.get("outputs"), dict):
            return records
        for path, entry in doc["outputs"].items():
            record = _parse(path, entry, self.algo)
            if record is not None:
                records[path] = record
        removing = doc.get("removing")
        self._removing = {path for path in (removing if isinstance(removing, list) else ())
                          if _is_relpath(path)}
        self._sort_moves(_moves(doc.get("moving")), _moves(doc.get("moved")))
        pending = doc.get("pending")
        locked: dict[str, Synced] | None = None
        for path, entry in (pending.items() if isinstance(pending, dict) else ()):
            if isinstance(entry, dict) and entry.get("in_lock") is True:
                locked = self._locked_outputs() if locked is None else locked
                record = _parse(path, entry.get("record"), self.algo)
                record = record if record is not None and locked.get(path) == record else None
            else:
                record = self._written(path, entry)
            if record is not None:
                records[path] = record
            self._settled = True  # either way: the next flush writes what holds
        return records

    def _sort_moves(self, marked: set[tuple[str, str]], moved: set[tuple[str, str]]) -> None:
        """Keep as begun (`_moving`) the `marked` moves left half-done: both pointer files
        there, the new one written and the old one not yet deleted. Only then is a mark
        evidence of a move to finish. A move whose old pointer is gone and new one there did
        its work: it is kept as done (`_moved`, as are the `moved` ones still so), for a rerun
        to say so; one with no new pointer wrote nothing to finish, and its mark goes. What
        changes is written by the next flush."""
        for old, new in marked | moved:
            written = os.path.isfile(os.path.join(self.root, new + POINTER_SUFFIX))
            still = os.path.lexists(os.path.join(self.root, old + POINTER_SUFFIX))
            if (old, new) in marked and written and still:
                self._moving.add((old, new))
            elif written and not still:
                self._moved.add((old, new))
        if self._moving != marked or self._moved != moved:
            self._settled = True

    def _locked_outputs(self) -> dict[str, Synced]:
        """The record each cached pipeline output would have as dvx.lock names it now. It
        reads dvx.lock with lockfile.read_lock itself, the one reader of it not going through
        Repo.read_lock: this module is below Repo, which it cannot see, and any DvxError,
        another algorithm's dvx.lock included, means only that no pending record counts."""
        try:
            stages = read_lock(self.root, self.algo)
        except DvxError:  # unreadable (a merge conflict): no pending record counts
            return {}
        return {out.path: Synced.whole(out.oid, out.is_dir, out.executable)
                for lock in stages.values() for out in lock.outs if out.cache}

    def _written(self, path: str, entry: object) -> Synced | None:
        """The pending record `entry` if its pointer file now holds the bytes it expected."""
        if not isinstance(entry, dict) or not isinstance(entry.get("pointer"), str):
            return None
        record = _parse(path, entry.get("record"), self.algo)
        if record is None:
            return None
        try:
            data = fsutil.read_small_file(os.path.join(self.root, path + POINTER_SUFFIX),
                                          MAX_BYTES, follow_links=False)
        except OSError:
            return None
        return record if data is not None and _digest(data) == entry["pointer"] else None

    def reload(self) -> None:
        """Read the records again when next asked (the caller now holds the repository lock;
        they were read before it, and another command may have changed them since), unless
        this process has changed them itself."""
        self._head_now = None
        if not self._changed:
            self._records, self._settled = None, False

    def paths(self) -> list[str]:
        return list(self._load())

    def get(self, output_path: str) -> Synced | None:
        return self._load().get(output_path)

    def _stamped(self, synced: Synced) -> Synced:
        """`synced` naming the commit HEAD is at, as it is written."""
        if self._head_now is None:
            self._head_now = (self._head(),)
        return replace(synced, head=self._head_now[0])

    def record(self, output_path: str, synced: Synced) -> None:
        self._put(output_path, self._stamped(synced))

    def restore(self, output_path: str, synced: Synced) -> None:
        """Put back `synced`, the record read before a command that then placed nothing, as
        it was: naming the commit HEAD was at when it was first written, never the one HEAD
        is at now. What HEAD's pointer was then tells a version Git brought since from the
        user's own undone (ops/status.py `written_over`)."""
        self._put(output_path, synced)

    def _put(self, output_path: str, synced: Synced) -> None:
        records = self._load()
        self._in_sync.pop(output_path, None)
        if self._pending.pop(output_path, None) is not None:
            self._changed = True
        self.end_removal(output_path)  # tracked again
        was = records.get(output_path)
        if was != synced or (was is not None and was.head != synced.head):
            records[output_path] = synced
            self._changed = True

    def expect(self, output_path: str, synced: Synced, pointer: bytes) -> None:
        """`synced` is to be recorded once the pointer file of `output_path` holds `pointer`:
        pending until `record` (or until those bytes are found there, if dvx dies first).
        The caller flushes before it writes the pointer."""
        self._load()
        self._pending[output_path] = (self._stamped(synced), _digest(pointer))
        self._changed = True

    def drop_expected(self, output_path: str) -> None:
        """The pointer (or dvx.lock entry) `expect` was told of is not written after all (a
        refusal): the record before it stands."""
        if self._pending.pop(output_path, None) is not None:
            self._changed = True

    def expect_in_lock(self, output_path: str, synced: Synced) -> None:
        """`synced`, the record of a pipeline output, is to be recorded once dvx.lock records
        that output as the data it names: pending until `record` (or until dvx.lock is found
        to name it, if dvx dies first). The caller flushes before it writes dvx.lock."""
        self._load()
        self._pending[output_path] = (self._stamped(synced), None)
        self._changed = True

    def note_in_sync(self, output_path: str, synced: Synced, in_lock: bool) -> None:
        """The workspace was found holding `synced`, the data the pointer of `output_path`
        (with `in_lock`, its dvx.lock entry) records, and there is no record for it: the next
        `flush` records it, as data dvx found there, if there is still none and the pointer
        still records that data. Any command may note, lock held or not."""
        self._in_sync[output_path] = (synced, in_lock)

    @property
    def noted_in_sync(self) -> bool:
        """Has a path been noted in sync that `flush` would record?"""
        return bool(self._in_sync) and self._foreign_version is None

    def forget(self, output_path: str) -> None:
        self._in_sync.pop(output_path, None)
        if self._load().pop(output_path, None) is not None:
            self._changed = True

    def begin_removal(self, output_path: str) -> None:
        """`dvx remove` is about to stop tracking `output_path` (the caller flushes before it
        deletes anything, and calls `end_removal` once done)."""
        self._load()
        if output_path not in self._removing:
            self._removing.add(output_path)
            self._changed = True

    def removal_begun(self, output_path: str) -> bool:
        """Did a `dvx remove` of `output_path` begin and not end (killed half-way)?"""
        self._load()
        return output_path in self._removing

    def end_removal(self, output_path: str) -> None:
        self._load()
        if output_path in self._removing:
            self._removing.discard(output_path)
            self._changed = True

    def begin_move(self, old: str, new: str) -> None:
        """`dvx move` is about to move `old` to `new` (the caller flushes before it writes
        anything, and calls `end_move` once done)."""
        self._load()
        if (old, new) not in self._moving:
            self._moving.add((old, new))
            self._changed = True

    def move_begun(self, old: str, new: str) -> bool:
        """Did a `dvx move` of `old` to `new` begin and not end (killed half-way)?"""
        self._load()
        return (old, new) in self._moving

    def move_done(self, old: str, new: str) -> bool:
        """Did a `dvx move` of `old` to `new` do its work, and stop before it ended (its old
        pointer gone, the new one there)?"""
        self._load()
        return (old, new) in self._moved

    def end_move(self, old: str, new: str) -> None:
        self._load()
        if (old, new) in self._moving | self._moved:
            self._moving.discard((old, new))
            self._moved.discard((old, new))
            self._changed = True

    def move(self, old: str, new: str) -> None:
        records = self._load()
        self._in_sync.pop(old, None)
        if old in records:
            moved = records.pop(old)
            records[new] = replace(moved, moved_from=moved.moved_from or old)
            self._changed = True

    def flush(self, *, required: bool = False) -> None:
        """Write the records if they changed (the caller holds the repository lock). A write
        that fails is warned about, or raised if `required` (the caller goes on only once
        the records are on disk). A record of a format this dvx does not know is left as it
        is, said once if there was anything to record (`_leave_foreign_record`)."""
        if self._foreign_version is not None:
            self._leave_foreign_record()
            return
        self._record_in_sync()
        if not (self._changed or self._settled) or self._records is None:
            return
        outputs = {path: _entry(synced) for path, synced in sorted(self._records.items())}
        doc: dict[str, object] = {"version": FORMAT_VERSION, "algo": self.algo,
                                  "outputs": outputs}
        if self._removing:
            doc["removing"] = sorted(self._removing)
        if self._moving:
            doc["moving"] = sorted([old, new] for old, new in self._moving)
        if self._moved:
            doc["moved"] = sorted([old, new] for old, new in self._moved)
        if self._pending:
            doc["pending"] = {path: {"record": _entry(synced), **(
                {"pointer": digest} if digest is not None else {"in_lock": True})}
                for path, (synced, digest) in sorted(self._pending.items())}
        try:
            fsutil.makedirs(os.path.dirname(self.path))
            fsutil.atomic_write(self.path, json.dumps(doc, sort_keys=True).encode(),
                                fsync=False)
        except OSError as exc:
            if required:
                raise
            log.warning("Could not record what was checked out: %s",
                        fsutil.describe(exc))
            return
        self._changed = self._settled = False

    def _leave_foreign_record(self) -> None:
        """Keep a record written by a newer dvx (another format version) as it is: written
        over in this version's format, it would lose what that dvx keeps in it. Nothing is
        recorded meanwhile; paths with no record are compared with what HEAD's recent
        commits recorded (ops/status.py), as in a workspace with no record."""
        if (self._changed or self._in_sync) and not self._foreign_told:
            log.warning(
                "'%s' (the record of what this workspace was synced to) was written by a "
                "newer dvx (format version %s), so this dvx leaves it as it is and records "
                "nothing in it; upgrade dvx to keep it up to date, or delete the file to "
                "have this dvx start a record of its own.",
                os.path.relpath(self.path, self.root), self._foreign_version)
            self._foreign_told = True
        self._in_sync = {}

    def _record_in_sync(self) -> None:
        """Record each path noted in sync (`note_in_sync`) that still has no record, is not
        pending nor being removed, and whose pointer (or dvx.lock entry) still records what
        was found: the caller holds the lock, so only Git can move it from here on, and the
        record stays true of what the workspace held."""
        noted, self._in_sync = self._in_sync, {}
        if not noted:
            return
        records = self._load()
        locked: dict[str, Synced] | None = None
        for path, (synced, in_lock) in noted.items():
            if path in records or path in self._pending or path in self._removing:
                continue
            if in_lock:
                locked = self._locked_outputs() if locked is None else locked
                still = locked.get(path) == synced
            else:
                still = self._pointer_records(path) == synced
            if still:
                records[path] = replace(synced, found=True)
                self._changed = True

    def _pointer_records(self, path: str) -> Synced | None:
        """The record the pointer file of `path` names now (None: none, or unreadable)."""
        where = path + POINTER_SUFFIX
        try:
            data = fsutil.read_small_file(os.path.join(self.root, where), MAX_POINTER_BYTES + 1,
                                          follow_links=False)
            pointer = None if data is None else parse_pointer(data, where)
        except (OSError, DvxError):
            return None
        if pointer is None or pointer.algo != self.algo:
            return None
        return Synced.whole(pointer.oid, pointer.is_dir, pointer.executable)


def _digest(pointer: bytes) -> str:
    return hashlib.sha256(pointer).hexdigest()


def _entry(synced: Synced) -> dict[str, object]:
    entry: dict[str, object] = {"oid": synced.oid}
    if synced.placed is not None:
        entry["placed"] = sorted(synced.placed)
    if synced.base is not None:
        entry["base"] = _entry(synced.base)
    if synced.found:
        entry["found"] = True
    if synced.executable is not None:
        entry["exec"] = synced.executable
    if synced.head is not None:
        entry["head"] = synced.head
    if synced.moved_from is not None:
        entry["from"] = synced.moved_from
    return entry


def _is_commit_id(name: str) -> bool:
    return len(name) in (40, 64) and all(c in "0123456789abcdef" for c in name)


def _moves(listed: object) -> set[tuple[str, str]]:
    """The (from, to) pairs of a list of moves as the record keeps them."""
    return {(move[0], move[1]) for move in (listed if isinstance(listed, list) else ())
            if isinstance(move, list) and len(move) == 2 and all(_is_relpath(p) for p in move)}


def _is_relpath(path: object) -> bool:
    if not isinstance(path, str):
        return False
    try:
        check_relpath(path)
    except FormatError:
        return False
    return True


def _parse(path: object, entry: object, algo: str, depth: int = 1) -> Synced | None:
    """A record as written by `flush`, or None if it is not one (never trusted blindly: the
    file is this clone's own, but a damaged record must not name paths outside)."""
    if not isinstance(path, str) or not isinstance(entry, dict) or depth > MAX_LAYERS:
        return None
    oid = entry.get("oid")
    placed = entry.get("placed")
    base = None
    if entry.get("base") is not None:
        base = _parse(path, entry["base"], algo, depth + 1)
        if base is None or placed is None:
            return None  # a layer under a whole version means nothing: damaged
    try:
        check_relpath(path)
        if placed is not None:
            if not isinstance(placed, list):
                return None
            for part in placed:
                check_relpath(part)
    except FormatError:
        return None
    if not isinstance(oid, str) or not is_valid_oid(oid, algo):
        return None
    executable = entry.get("exec")
    head = entry.get("head")
    moved_from = entry.get("from")
    return Synced(oid, None if placed is None else tuple(placed), base,
                  entry.get("found") is True,
                  executable if isinstance(executable, bool) else None,
                  head if isinstance(head, str) and _is_commit_id(head) else None,
                  moved_from if _is_relpath(moved_from) else None)
