"""dvx diff: which tracked files were added, deleted, modified or renamed between two states
of the repository, each a revision or the workspace, down to the files inside tracked
directories.

A revision's pointers and dvx.lock are read from Git's objects (history.py), never by checking
it out. A directory's files come from its manifest, from the cache or else the default remote
(only the manifest is downloaded, never the data). A directory whose pointer is the same on
both sides is not opened at all, so comparing two versions of a large dataset costs the
manifests of the directories that changed. The workspace side is what is on disk, as `dvx
status` reads it against the sync record: missing data is deleted, except data never placed
here (not pulled yet), the files of a directory that a partial pull never placed, and data
still holding what the workspace was synced to after Git moved its pointer (a teammate's
change pulled, not checked out), which count as what the pointer records; data whose pointer
a sparse checkout leaves out counts as what Git's index records.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from dvx import experiment_refs, get_scratch
from dvx.errors import DvxError, Interrupted, PathError, UsageError
from dvx.history import History, no_revision_to_compare
from dvx.lockfile import LOCK_FILE
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.remote import default_remote, open_remote, settings_for
from dvx.ops.status import OUTDATED, OutputStatus, never_placed, output_status
from dvx.outputs import Broken, Output, load_tree, may_hold_part, scan_outputs
from dvx.paths import at_or_below_any, fingerprint_directory, overlaps
from dvx.pointer import data_path_of
from dvx.remote import transfer
from dvx.repo import Repo
from dvx.workspace import file_state, reads_named, scan_directory

WORKSPACE = "workspace"

Files = dict[str, tuple[str, int]]  # path -> (oid, size) of every file of one side


@dataclass(frozen=True)
class Renamed:
    old: str
    new: str
    oid: str
    size: int


@dataclass(frozen=True)
class Modified:
    path: str
    old: tuple[str, int]  # (oid, size)
    new: tuple[str, int]


@dataclass
class DiffResult:
    a: str  # what each side is: "workspace", or the revision as the user named it
    b: str
    added: list[tuple[str, str, int]] = field(default_factory=list)  # (path, oid, size)
    deleted: list[tuple[str, str, int]] = field(default_factory=list)
    modified: list[Modified] = field(default_factory=list)
    renamed: list[Renamed] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # directories that could not be listed
    # Missing from the workspace (`b`) as a killed `dvx get --force` moved them aside into
    # its folder's `old` (get_scratch.moved_aside): not deleted, and no rename's old path
    moved_aside: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.deleted or self.modified or self.renamed
                    or self.moved_aside)

    def to_json(self) -> dict[str, object]:
        def file(path: str, oid: str, size: int) -> dict[str, object]:
            return {"path": path, "oid": oid, "size": size}

        return {
            "a": self.a, "b": self.b,
            "added": [file(*row) for row in self.added],
            "deleted": [file(*row) for row in self.deleted],
            "modified": [{"path": m.path, "old": {"oid": m.old[0], "size": m.old[1]},
                          "new": {"oid": m.new[0], "size": m.new[1]}} for m in self.modified],
            "renamed": [{"path": {"old": r.old, "new": r.new}, "oid": r.oid, "size": r.size}
                        for r in self.renamed],
            "moved_aside": [file(*row) for row in self.moved_aside],
            "problems": self.problems,
        }


def diff(repo: Repo, a: str | None = None, b: str | None = None,
         targets: list[str] | None = None) -> DiffResult:
    """Compare `a` (default HEAD) with `b` (default the workspace), limited to the files at or
    below `targets` (repository-relative paths) if given."""
    a = "HEAD" if a is None else a
    b = WORKSPACE if b is None else b
    result = DiffResult(a, b)
    sides = _Sides(repo, result.problems)
    changes = _Changes()
    try:
        outputs_a, outputs_b = sides.outputs(a), sides.outputs(b)
        # What an unreadable pointer (or dvx.lock) records is not known: like a manifest
        # that cannot be had, it is a problem, and left out on both sides.
        outputs_a = [o for o in outputs_a if not sides.unreadable(o)]
        outputs_b = [o for o in outputs_b if not sides.unreadable(o)]
        if targets is not None:
            outputs_a = [o for o in outputs_a if any(overlaps(o.path, t) for t in targets)]
            outputs_b = [o for o in outputs_b if any(overlaps(o.path, t) for t in targets)]
            result.problems += [f"'{t}' names nothing dvx tracks in {a} or {b}." for t in targets
                                if not sides.may_hold(t, outputs_a, a)
                                and not sides.may_hold(t, outputs_b, b)]
        # An output whose content is the same on both sides needs no listing of its files.
        ids_a = {o.path: sides.content_id(o, a) for o in outputs_a}
        ids_b = {o.path: sides.content_id(o, b) for o in outputs_b}
        same = {path for path, cid in ids_a.items() if cid is not None and ids_b.get(path) == cid}
        # A directory whose files are what its pointer records (a revision's, or one not
        # pulled yet) and whose manifest cannot be had (a problem is noted) is left out on
        # both sides: its files are not known, so they are neither added nor deleted.
        unknown = {o.path for side, outputs in ((a, outputs_a), (b, outputs_b))
                   for o in outputs
                   if o.path not in same and o.pointer.is_dir and sides.as_recorded(o, side)
                   and sides.known_tree(o, side) is None}
        settled = same | unknown  # built once: per output, the union made diff quadratic
        outputs_a = [o for o in outputs_a if o.path not in settled]
        outputs_b = [o for o in outputs_b if o.path not in settled]
        # A directory whose manifest is known on both sides: its two sorted runs of entries
        # are merged, with no table of its files.
        trees_a = {o.path: t for o in outputs_a if (t := sides.known_tree(o, a)) is not None}
        trees_b = {o.path: t for o in outputs_b if (t := sides.known_tree(o, b)) is not None}
        for path in sorted(trees_a.keys() & trees_b.keys()):
            _merge_trees(path, trees_a[path], trees_b[path], changes)
        merged = trees_a.keys() & trees_b.keys()
        files_a = sides.files([o for o in outputs_a if o.path not in merged], a)
        files_b = sides.files([o for o in outputs_b if o.path not in merged], b)
    finally:
        sides.close()
    if sides.left_out:  # on both sides, with every file below a directory left out
        for files in (files_a, files_b):
            for path in [p for p in files if at_or_below_any(p, sides.left_out)]:
                del files[path]
    _compare(files_a, files_b, changes)
    if targets is not None:
        changes.keep_only(lambda path: any(_below(path, t) for t in targets))
    if b == WORKSPACE:
        result.moved_aside = changes.take_moved_aside(repo.root)
    changes.report(result)
    return result


Row = tuple[str, str, int]  # (path, oid, size)


class _Changes:
    """Added, deleted and modified files as found; `report` pairs renames and sorts."""

    def __init__(self) -> None:
        self.added: list[Row] = []
        self.deleted: list[Row] = []
        self.modified: list[Modified] = []

    def keep_only(self, wanted: Callable[[str], bool]) -> None:
        self.added = [r for r in self.added if wanted(r[0])]
        self.deleted = [r for r in self.deleted if wanted(r[0])]
        self.modified = [m for m in self.modified if wanted(m.path)]

    def take_moved_aside(self, root: str) -> list[Row]:
        """Take out of the deleted files those a killed `dvx get --force` moved aside in the
        workspace (the repository at `root`), and return them."""
        aside = get_scratch.moved_aside(root, [row[0] for row in self.deleted])
        taken = sorted(row for row in self.deleted if row[0] in aside)
        self.deleted = [row for row in self.deleted if row[0] not in aside]
        return taken

    def report(self, result: DiffResult) -> None:
        # A rename: the same content deleted at one path and added at another (paired in
        # path order when several files share it).
        added, deleted = sorted(self.added), sorted(self.deleted)
        added_by_oid: dict[str, list[Row]] = {}
        for row in added:
            added_by_oid.setdefault(row[1], []).append(row)
        renamed_to: set[str] = set()
        for path, oid, size in deleted:
            candidates = added_by_oid.get(oid)
            if candidates:
                new = candidates.pop(0)[0]
                renamed_to.add(new)
                result.renamed.append(Renamed(path, new, oid, size))
        was_renamed = {r.old for r in result.renamed}
        result.added = [r for r in added if r[0] not in renamed_to]
        result.deleted = [r for r in deleted if r[0] not in was_renamed]
        result.modified = sorted(self.modified, key=lambda m: m.path)


def _merge_trees(top: str, tree_a: Tree, tree_b: Tree, changes: _Changes) -> None:
    entries_a, entries_b = tree_a.rows(), tree_b.rows()
    entry_a, entry_b = next(entries_a, None), next(entries_b, None)
    while entry_a is not None or entry_b is not None:
        if entry_b is None or (entry_a is not None and entry_a[0] < entry_b[0]):
            assert entry_a is not None
            changes.deleted.append((f"{top}/{entry_a[0]}", entry_a[1], entry_a[2]))
            entry_a = next(entries_a, None)
        elif entry_a is None or entry_b[0] < entry_a[0]:
            changes.added.append((f"{top}/{entry_b[0]}", entry_b[1], entry_b[2]))
            entry_b = next(entries_b, None)
        else:
            if entry_a[1] != entry_b[1]:
                changes.modified.append(Modified(f"{top}/{entry_a[0]}", entry_a[1:],
                                                 entry_b[1:]))
            entry_a, entry_b = next(entries_a, None), next(entries_b, None)


def _compare(files_a: Files, files_b: Files, changes: _Changes) -> None:
    changes.added += [(p, *v) for p, v in files_b.items() if p not in files_a]
    changes.deleted += [(p, *v) for p, v in files_a.items() if p not in files_b]
    changes.modified += [Modified(p, v, files_b[p]) for p, v in files_a.items()
                         if p in files_b and v[0] != files_b[p][0]]


def _below(path: str, target: str) -> bool:
    return path == target or path.startswith(target + "/")


class _Sides:
    """Reads the outputs and files of the workspace and of revisions."""

    def __init__(self, repo: Repo, problems: list[str]) -> None:
        self.repo, self.problems = repo, problems
        self.left_out: set[str] = set()  # workspace paths dvx cannot track
        self._left_out_pointers: set[str] = set()  # outputs the sparse checkout leaves out
        self._history: History | None = None
        # (name, store) once opened, or why no manifest can be fetched (no remote is set, it
        # cannot be opened or read: not tried again for the next); None: not tried yet
        self._remote: tuple[str, ObjectStore] | str | None = None
        self._trees: dict[str, Tree | None] = {}  # manifest oid -> manifest (None: unknown)
        self._broken: set[str] = set()  # the pointer files and dvx.lock unreadable on a side
        self._statuses: dict[str, OutputStatus | None] = {}  # workspace path -> its status

    def unreadable(self, output: Output) -> bool:
        """Is what records `output` on some side unreadable: its pointer file (or one at or
        around its path), or dvx.lock for a stage's output?"""
        if output.stage is not None:
            return LOCK_FILE in self._broken
        return any(overlaps(output.path, data_path_of(p)) for p in self._broken
                   if p != LOCK_FILE)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()

    def outputs(self, side: str) -> list[Output]:
        if side == WORKSPACE:
            outputs, broken = scan_outputs(self.repo)
            self._note_broken(broken, "")
            return outputs + self._left_out_outputs({o.path for o in outputs})
        if self.repo.git is None:
            raise no_revision_to_compare(side)
        git = self._open_history().git
        if side == "HEAD" and git.head() is None:
            raise UsageError("This repository has no commit yet to compare with.",
                             "Commit first, or name the revisions to compare.")
        commit, _ = experiment_refs.resolve(self.repo, side)  # an experiment's name too
        revision = self._open_history().at(commit)
        self._note_broken(revision.broken, f"{commit[:10]}:")
        return revision.outputs

    def _open_history(self) -> History:
        if self._history is None:
            self._history = History(self.repo)
        return self._history

    def _left_out_outputs(self, in_workspace: set[str]) -> list[Output]:
        """The outputs whose pointer (or dvx.lock) the sparse checkout leaves out of the
        workspace: still tracked (Git's index holds the pointer), so the workspace side holds
        what the index records, as gc's scope does, rather than a deletion."""
        if self.repo.git is None:
            return []
        revision = self._open_history().left_out()
        self._note_broken(revision.broken, "index:")
        outputs = [o for o in revision.outputs if o.path not in in_workspace]
        self._left_out_pointers.update(o.path for o in outputs)
        return outputs

    def _note_broken(self, broken: list[Broken], prefix: str) -> None:
        """`prefix`: how the side's files are named in `broken` ("<commit>:", or none)."""
        for item in broken:
            self.problems.append(f"{item.path}: {item.error}")
            self._broken.add(item.path.removeprefix(prefix))

    def content_id(self, output: Output, side: str) -> str | None:
        """An id equal on two sides only if the output holds the same files on both (its
        oid), or None when that is not known without listing it."""
        if side != WORKSPACE:
            return output.pointer.oid
        full = self.repo.abspath(output.path)
        pointer = output.pointer
        if output.path in self._left_out_pointers:
            return pointer.oid
        is_dir = os.path.isdir(full) and not os.path.islink(full)
        if pointer.is_dir and is_dir:
            recorded = self.repo.statcache.get_dir(full, fingerprint_directory(full).digest)
            if recorded == pointer.oid and not self._partly_placed(output):
                return pointer.oid  # unchanged since it last matched: no status needed
        held = None if pointer.is_dir or is_dir else self._file_oid(output)
        if held == pointer.oid or self._as_recorded_here(output):
            return pointer.oid
        return held  # None for a directory (where the file was, too): its files are listed

    def _file_oid(self, output: Output) -> str | None:
        """The oid of the file at the output's path (None: none is there, or listing it says
        why it is left out)."""
        full = self.repo.abspath(output.path)
        try:
            state = file_state(self.repo, full, output.path) if os.path.lexists(full) else None
        except PathError:
            return None
        return None if state is None else state.oid

    def may_hold(self, target: str, outputs: list[Output], side: str) -> bool:
        """Do `outputs`, on `side`, hold something at or below the path `target`, or is that
        not known? A path inside a tracked directory is held when the workspace has it there
        or the directory's manifest lists it (as a file or a folder); a manifest not in the
        cache is not fetched for this, and counts as holding it."""
        for output in outputs:
            if not overlaps(output.path, target):
                continue
            if not target.startswith(output.path + "/"):
                return True  # the output itself, or one below the target
            if may_hold_part(self.repo, output, target, side == WORKSPACE,
                             self._trees.get(output.pointer.oid)):
                return True
        return False

    def known_tree(self, output: Output, side: str) -> Tree | None:
        """The manifest of a directory output as it is on `side`, if known without scanning:
        a revision's (from the cache, or fetched), or the workspace's when its directory is
        unchanged since it last matched the pointer."""
        pointer = output.pointer
        if not pointer.is_dir:
            return None
        if side == WORKSPACE and self.content_id(output, side) != pointer.oid:
            return None
        return self._tree(output, f"{side}:{output.path}" if side != WORKSPACE else output.path)

    def _tree(self, output: Output, where: str) -> Tree | None:
        """The output's recorded manifest, from the cache or else fetched (None: a problem
        was noted)."""
        pointer = output.pointer
        if pointer.oid not in self._trees:
            try:
                tree = load_tree(self.repo, pointer, where)
                if tree is None and self._fetch_manifest(pointer.oid, where):
                    tree = load_tree(self.repo, pointer, where)
            except Interrupted:
                raise
            except DvxError as exc:
                self.problems.append(exc.message)
                tree = None
            self._trees[pointer.oid] = tree
        return self._trees[pointer.oid]

    def files(self, outputs: list[Output], side: str) -> Files:
        found: Files = {}
        for output in outputs:
            if side == WORKSPACE:
                with reads_named(self.repo.root, output.path):  # its files cannot be told
                    found.update(self._workspace_files(output))
            else:
                found.update(self._recorded_files(output, f"{side}:{output.path}"))
        return found

    def _recorded_files(self, output: Output, where: str) -> Files:
        pointer = output.pointer
        if not pointer.is_dir:
            return {output.path: (pointer.oid, pointer.size)}
        tree = self._tree(output, where)
        if tree is None:
            return {}
        prefix = output.path + "/"
        return {prefix + path: (oid, size)
                for path, oid, size in tree.rows()}

    def _workspace_files(self, output: Output) -> Files:
        """What the workspace holds at the output's path, whatever the pointer's kind: a file
        replaced by a directory shows as that directory's files, and the reverse."""
        if self._as_recorded_here(output):
            return self._recorded_files(output, output.path)
        full = self.repo.abspath(output.path)
        found: Files = {}
        if os.path.isdir(full) and not os.path.islink(full):
            recorded = self._tree(output, output.path) if output.pointer.is_dir else None
            found = {f"{output.path}/{rel}": (e.oid, e.size) for rel, e in scan_directory(
                self.repo, full, output.path, recorded=recorded or (),
                on_untrackable=self._untrackable).items()}
        elif os.path.lexists(full):
            try:
                state = file_state(self.repo, full, output.path)
            except PathError as exc:
                self._untrackable(output.path, exc)
                state = None
            if state is not None:
                found = {output.path: (state.oid, state.size)}
        status = self._status(output)
        if not output.pointer.is_dir or status is None:
            return found
        # The files never placed here, and those still holding an older version the pointer
        # moved on from, are not changes made here: they count as what the pointer records.
        pointers = self._recorded_files(output, output.path)
        for rel in status.not_pulled + status.outdated:
            path = f"{output.path}/{rel}"
            if path in pointers:
                found[path] = pointers[path]
            else:
                found.pop(path, None)
        return found

    def _untrackable(self, path: str, refusal: PathError) -> None:
        """What `dvx add` would refuse (a link dvx did not make) is left out of the
        comparison on both sides, with a warning, rather than stopping it."""
        self.left_out.add(path)
        self.problems.append(f"left out: {refusal.message}")

    def as_recorded(self, output: Output, side: str) -> bool:
        """Are the output's files on `side` what its pointer records: a revision's, or data
        not pulled yet?"""
        return side != WORKSPACE or self._as_recorded_here(output)

    def _as_recorded_here(self, output: Output) -> bool:
        """Does the workspace hold what the output's pointer records, whatever is on disk:
        its pointer is left out by the sparse checkout, its data was never pulled, or it
        still holds what the workspace was synced to, the pointer having moved since (Git
        brought a teammate's change not checked out yet: no change made here)?"""
        if output.path in self._left_out_pointers or self._not_pulled(output):
            return True
        status = self._status(output)
        return status is not None and status.workspace == OUTDATED

    def _status(self, output: Output) -> OutputStatus | None:
        """The output's status as `dvx status` and `dvx commit` read it against the sync
        record (None: dvx cannot read it there, which listing it says). A directory's
        manifest is fetched first if the cache lacks it, so its files can be told apart."""
        if output.path not in self._statuses:
            if output.pointer.is_dir:
                self._tree(output, output.path)
            try:
                found: OutputStatus | None = output_status(self.repo, output)
            except Interrupted:
                raise
            except DvxError:
                found = None
            self._statuses[output.path] = found
        return self._statuses[output.path]

    def _not_pulled(self, output: Output) -> bool:
        """Is the output absent from the workspace and never placed here? `dvx status` says
        not pulled yet: it holds what the pointer records, not a deletion."""
        return not os.path.lexists(self.repo.abspath(output.path)) and never_placed(
            self.repo, output)

    def _partly_placed(self, output: Output) -> bool:
        synced = self.repo.syncstate.get(output.path)
        return synced is not None and synced.placed is not None

    def _fetch_manifest(self, oid: str, where: str) -> bool:
        """Download the manifest `oid` (only it) from the default remote into the cache."""
        if self._remote is None:
            self._remote = self._open_remote()
        if isinstance(self._remote, str):
            self.problems.append(f"{where}: its directory manifest {oid} is not in the cache "
                                 f"and {self._remote}")
            return False
        name, store = self._remote
        try:
            result = transfer.download(store, self.repo.cache, [oid],
                                       settings_for(self.repo, name, store, None))
        except Interrupted:
            raise
        except DvxError as exc:  # the remote as a whole failed (unreachable, say)
            self._remote = f"remote '{name}' could not be read: {exc}"  # with its fix
            self.problems.append(f"{where}: its directory manifest {oid} is not in the cache "
                                 f"and {self._remote}")
            return False
        except PermissionError as exc:  # the cache refused it: another manifest may fare better
            self.problems.append(f"{where}: its directory manifest {oid} could not be stored "
                                 f"in the cache: '{exc.filename}' may not be written "
                                 f"({exc.strerror})")
            return False
        if result.failed:
            self.problems.append(f"{where}: its directory manifest {oid} could not be fetched "
                                 f"from remote '{name}': {result.failed[oid]}")
            return False
        return True

    def _open_remote(self) -> tuple[str, ObjectStore] | str:
        """The default remote, its folder checked to exist (a missing one is named as
        missing, not as lacking each manifest); else why it cannot be had."""
        if default_remote(self.repo.config) is None:
            return "no remote is set to fetch it from"
        try:
            name, store = open_remote(self.repo, None)
            store.blobs.prepare(create=False)
        except DvxError as exc:
            return f"the default remote cannot be opened: {exc.message}"
        return name, store
