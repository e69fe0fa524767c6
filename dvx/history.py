"""The tracked data of any revision, read straight from Git's objects: never a checkout.

"The pointers, directory manifests' oids and dvx.lock outputs of commit C" is asked by every
command that looks across versions (push/fetch/pull/status --remote over a scope, gc, the
pre-push hook, diff, imports). Trees and blobs come from one long-lived `git cat-file
--batch` (scm.py), and both are remembered by their sha while the History lives: a tree that
did not change between two commits is read once, so reading 1,000 commits costs about the
objects that differ between them.

A scope (`Scope`) says which revisions: the workspace, the tips of branches and tags, given
revisions, the last N commits of each, every commit, and for gc also the index, every
reflog entry (stashes included), the remote-tracking branches a fetch brought, every
experiment and every queued experiment's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dvx.errors import (
    DvxError,
    MergeConflictError,
    OtherAlgorithmError,
    UsageError,
)
from dvx.experiment_refs import PREFIX as EXPERIMENT_REFS
from dvx.experiment_refs import QUEUE_REFS
from dvx.hash_setting import revision_algo_mismatch
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, LockedPath, parse_lock
from dvx.logs import get_logger
from dvx.outputs import (
    Broken,
    Output,
    Target,
    check_pointed_data_path,
    pointers_left_out,
    scan_outputs,
    skip_broken,
)
from dvx.paths import POINTER_SUFFIX, check_relpath
from dvx.pointer import (
    MAX_POINTER_BYTES,
    Pointer,
    committed_conflict_hint,
    data_path_of,
    parse_pointer,
)
from dvx.repo import Repo
from dvx.scm import EMPTY_BLOBS, Git
from dvx.wording import named_list

log = get_logger(__name__)


@dataclass(frozen=True)
class Scope:
    workspace: bool = True
    all_branches: bool = False
    all_tags: bool = False
    all_commits: bool = False
    revs: tuple[str, ...] = ()
    last_n: int | None = None  # the last N commits of each branch, tag or revision
    index: bool = False  # pointers staged in Git's index (gc)
    reflogs: bool = False  # with all_commits: commits only reflogs reach (gc)
    stashes: bool = False  # every stash entry: the work tree and index it saved (gc)
    remote_branches: bool = False  # with all_branches: remote-tracking branches too (gc)
    all_experiments: bool = False  # every experiment this clone has a ref of (gc)
    queued: bool = False  # every queued experiment's snapshot: its run still needs it (gc)
    # With all_commits: commits only a stash entry or a queued experiment's snapshot reaches,
    # workspaces saved rather than committed (`metrics show -A` leaves them out). False
    # leaves out their refs, not the stash's reflog entries, which `reflogs` lists still.
    stashed_and_queued: bool = True

    @property
    def has_revisions(self) -> bool:
        return bool(self.all_branches or self.all_tags or self.all_commits or self.revs
                    or self.last_n or self.all_experiments)

    @property
    def empty(self) -> bool:
        return not (self.workspace or self.has_revisions)

    def describe(self) -> str:
        parts = ["the workspace"] if self.workspace else []
        parts += ["the index"] if self.index and not self.workspace else []
        branches = "all branches, remote-tracking too" if self.remote_branches else "all branches"
        parts += [name for flag, name in ((self.all_branches, branches),
                                          (self.all_tags, "all tags"),
                                          (self.all_commits, "all commits"),
                                          (self.all_experiments, "all experiments")) if flag]
        parts += [f"revision {rev}" for rev in self.revs]
        if self.last_n:
            parts.append(f"the last {self.last_n} commits of each")
        return ", ".join(parts) or "nothing"


@dataclass
class Revision:
    """What one commit (or the index) tracks."""
    name: str  # the commit's sha, or "index"
    outputs: list[Output] = field(default_factory=list)
    broken: list[Broken] = field(default_factory=list)


_TreeFiles = list[tuple[str, str]]  # (relpath, blob sha) of the pointer and lock files below


def no_revision_to_compare(rev: str) -> UsageError:
    """The refusal of a comparison with the revision `rev` (HEAD when none is named) in a
    repository without Git, where no option would help: History's own refusal advises
    leaving revisions out, which a command comparing with HEAD by default cannot."""
    default = " (what is compared when no revision is named)" if rev == "HEAD" else ""
    return UsageError(f"This repository does not use Git, so it has no revision {rev}{default} "
                      "to compare with.",
                      "Only the workspace can be read here: `dvx status` shows what changed "
                      "in its data, `dvx params show`, `dvx metrics show` and `dvx plots "
                      "show` its values.")


class History:
    def __init__(self, repo: Repo) -> None:
        if repo.git is None:
            raise UsageError("This repository has no Git history to take revisions from.",
                             "Use the workspace only (no --rev, -a, -T, -A or -n).")
        self.repo = repo
        self.git: Git = repo.git
        self._files: dict[str, _TreeFiles] = {}  # tree sha -> its pointer and lock files
        self._parsed: dict[str, Pointer] = {}  # pointer blob sha -> pointer
        self._broken: dict[tuple[str, str], DvxError] = {}  # (blob sha, where) -> why not
        self._locks: dict[str, list[Output] | DvxError] = {}  # dvx.lock blob sha -> outputs

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the `git cat-file` process the reading started (a library caller's process
        must not keep children it does not know about)."""
        self.git.close()

    def commits(self, scope: Scope) -> list[str]:
        found = []
        if scope.stashes:  # a stash commit and its parents: saved work tree, index, untracked
            for stash in self.git.stashes():
                found += [stash, *self._parents(stash)]
        for prefix, wanted in ((EXPERIMENT_REFS, scope.all_experiments),
                               (QUEUE_REFS, scope.queued)):
            if wanted:
                found += self._ref_commits(prefix)
        if not scope.has_revisions:
            return sorted(set(found))
        revs = scope.revs
        if scope.last_n and not (scope.all_branches or scope.all_tags or revs):
            revs = ("HEAD",)  # -n alone: the last N commits of the current branch
        return sorted(set(found) | set(self.git.commits(
            scope.all_branches, scope.all_tags, scope.all_commits, scope.reflogs,
            scope.last_n, revs, scope.remote_branches,
            () if scope.stashed_and_queued else ("refs/stash", f"{QUEUE_REFS}/*"))))

    def _ref_commits(self, prefix: str) -> list[str]:
        """The commits the refs under `prefix` name; a ref naming none (a blob, an object
        missing) keeps no data, and is named so that it can be removed."""
        found = []
        for target in self.git.ref_targets(prefix):
            if target.commit is None:
                log.warning("Skipped %s: it names %s, not a commit, so it keeps no data. "
                            "Remove it with `git update-ref -d %s`.", target.ref, target.names,
                            target.ref)
            else:
                found.append(target.commit)
        return found

    def _parents(self, commit: str) -> list[str]:
        _, data = self.git.object_data(commit)
        head = data.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        return [line.split()[1] for line in head.splitlines() if line.startswith("parent ")]

    def at(self, commit: str) -> Revision:
        """The outputs of `commit` (a sha) as its tree records them."""
        return self._revision(commit, self.files_at(commit))

    def files_at(self, commit: str) -> _TreeFiles:
        """The pointer files (and dvx.lock) of `commit` (a sha), by path and blob, unread."""
        kind, data = self.git.object_data(commit)
        if kind != "commit":
            raise UsageError(f"{commit} is a {kind}, not a commit.")
        return self._tree_files(data.split(b"\n", 1)[0].split()[-1].decode())  # "tree <sha>"

    def index(self) -> Revision:
        """The outputs of the pointers and dvx.lock staged in Git's index (both sides of a
        conflicted one)."""
        return self._revision("index", [(p, s) for p, s in self._staged()
                                        if p == LOCK_FILE or p.endswith(POINTER_SUFFIX)])

    def left_out(self) -> Revision:
        """The outputs of the pointers (and dvx.lock) that Git's index holds and the sparse
        checkout leaves out of the workspace: tracked still, at the index's version."""
        paths = set(pointers_left_out(self.repo))
        if not paths:
            return Revision("index")
        return self._revision("index", [(p, s) for p, s in self._staged() if p in paths])

    def _staged(self) -> _TreeFiles:
        """The pointer files (and dvx.lock) of Git's index, by path and blob, but for entries
        holding the empty blob: `git add -N` (intent to add) stages no version, and an empty
        file records none either."""
        return [(p, s) for p, s in self.git.staged_blobs((POINTER_SUFFIX, LOCK_FILE))
                if s not in EMPTY_BLOBS]

    def _revision(self, name: str, files: _TreeFiles) -> Revision:
        revision = Revision(name)
        committed = name != "index"
        for path, sha in files:
            where = f"{name[:10]}:{path}"
            if path == LOCK_FILE:
                outputs = self._lock_outputs(sha, where, name if committed else None)
                if isinstance(outputs, DvxError):
                    revision.broken.append(Broken(where, outputs, committed, (path, sha)))
                else:
                    revision.outputs += outputs
            else:
                pointer = self._pointer(sha, path, where, name if committed else None)
                if isinstance(pointer, DvxError):
                    revision.broken.append(Broken(where, pointer, committed, (path, sha)))
                else:
                    revision.outputs.append(Output(data_path_of(path), pointer))
        return revision

    def lock_outputs_at(self, commit: str) -> list[Output] | DvxError:
        """The cached outputs the dvx.lock of `commit` (a sha) records (none without one), or
        why it cannot be read."""
        try:
            sha = self.git.blob_id_at(commit, LOCK_FILE, MAX_LOCK_BYTES)
        except DvxError as exc:  # a folder there, or one too large
            return exc
        return [] if sha is None else self._lock_outputs(sha, f"{commit[:10]}:{LOCK_FILE}",
                                                         commit)

    def _pointer(self, sha: str, path: str, where: str, commit: str | None
                 ) -> Pointer | DvxError:
        """The pointer file `path` of `commit` (None: staged in Git's index), whose blob is
        `sha`; the commands a conflict's hint suggests name it by its path in the workspace."""
        try:  # the path's own: pointers of other paths may have the very same bytes (`sha`)
            check_relpath(path, "pointer path")
            check_pointed_data_path(path, where)
        except DvxError as exc:
            return exc
        if sha in self._parsed:
            return self._parsed[sha]
        # An error names the path it was found at: the same bytes at another path (both new
        # names of a rename/rename conflict) are that path's error.
        if (sha, where) not in self._broken:
            try:
                pointer = parse_pointer(self.git.object_data(sha)[1], where, self.repo.root,
                                        path, commit)
                if pointer.algo != self.repo.algo:
                    raise self.other_algorithm(f"The pointer file '{where}'", pointer.algo)
                self._parsed[sha] = pointer
                return pointer
            except DvxError as exc:
                self._broken[sha, where] = exc
        return self._broken[sha, where]

    def _lock_outputs(self, sha: str, where: str, commit: str | None
                      ) -> list[Output] | DvxError:
        """The outputs of the dvx.lock of `commit` (None: staged in Git's index), whose blob
        is `sha`, or why they cannot be read, named by `where`."""
        if sha not in self._locks:
            try:
                locks = parse_lock(self.git.object_data(sha)[1], self.repo.algo)
                self._locks[sha] = [
                    Output(out.path, _pointer_of(out, self.repo.algo), name, out.push,
                           out.remote)
                    for name, lock in sorted(locks.items()) for out in lock.outs if out.cache]
            except DvxError as exc:
                self._locks[sha] = exc
        found = self._locks[sha]
        if not isinstance(found, DvxError):
            return found
        if (sha, where) not in self._broken and isinstance(found, OtherAlgorithmError):
            self._broken[sha, where] = self.other_algorithm(f"'{where}'", found.recorded)
        if (sha, where) not in self._broken:  # of its kind: gc tells a newer dvx's from a
            hint = found.hint  # damaged one
            if commit is not None and isinstance(found, MergeConflictError):
                hint = committed_conflict_hint(commit, LOCK_FILE, self.repo.root, "`dvx repro`")
            self._broken[sha, where] = type(found)(f"{where}: {found.message}", hint)
        return self._broken[sha, where]

    def other_algorithm(self, what: str, recorded: str) -> OtherAlgorithmError:
        """The error for `what` ("The pointer file '3f2a1b0c9d:a.dvx'"), a file of a
        revision recording the hash algorithm `recorded`, not the one dvx hashes with here:
        with the fix of whichever is off (hash_setting.py)."""
        return revision_algo_mismatch(self.repo.config, self.repo.recorded_algorithms, what,
                                      recorded, self.repo.algo)

    def _tree_files(self, root: str) -> _TreeFiles:
        """The pointer files (and a top-level dvx.lock) below the tree `root`, walked with a
        stack, not recursion (trees nest as deep as directories do)."""
        entries: dict[str, list[tuple[bool, str, str]]] = {}
        stack = [root]
        while stack:
            sha = stack[-1]
            if sha in self._files:
                stack.pop()
                continue
            if sha not in entries:
                entries[sha] = _parse_tree(self.git.object_data(sha)[1])
                pending = [s for is_tree, _, s in entries[sha] if is_tree and s not in self._files]
                if pending:
                    stack.extend(pending)
                    continue
            stack.pop()
            files: _TreeFiles = []
            for is_tree, name, child in entries.pop(sha):
                if is_tree:
                    files += [(f"{name}/{path}", blob) for path, blob in self._files[child]
                              if path != LOCK_FILE]
                elif name.endswith(POINTER_SUFFIX) or name == LOCK_FILE:
                    files.append((name, child))
            self._files[sha] = files
        return self._files[root]


def _pointer_of(out: LockedPath, algo: str) -> Pointer:
    """The pointer a cached output's dvx.lock entry amounts to."""
    return Pointer("dir" if out.is_dir else "file", algo, out.oid, out.size, out.nfiles,
                   out.executable)


# How many moves of HEAD (its reflog) `recorded_lately` looks back on.
HEAD_MOVES = 10


def recorded_lately(repo: Repo, path: str, in_lock: bool) -> list[Pointer]:
    """What the commits HEAD was at lately (HEAD, before each of its last HEAD_MOVES moves,
    and ORIG_HEAD) recorded for the data at `path`: in its pointer file, or with `in_lock`
    in its dvx.lock entry; each version once, newest first. These are the versions a
    workspace with no record of what it was synced to (dvx/syncstate.py) may still hold
    after `git pull` or `git checkout` moved the pointer. A file Git cannot give or dvx
    cannot read counts as none. Cheap: one `git log -g` per command, then Git's objects
    through the running `git cat-file`, each blob parsed once per command."""
    git = repo.git
    if git is None:
        return []
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    found: list[Pointer] = []
    try:
        for commit in git.recent_heads(HEAD_MOVES):
            sha = git.blob_id_at(commit, file, MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES)
            pointer = None if sha is None else _recorded_in(repo, git, file, sha).get(path)
            if pointer is not None and pointer not in found:
                found.append(pointer)
    except DvxError:
        pass  # what was found so far stands
    return found


def brought_by_git(repo: Repo, path: str, pointer: Pointer) -> bool:
    """Did Git bring `pointer`, the pointer file of the data at `path`, lately, where nothing
    was tracked: is it HEAD's, and did the latest of HEAD's moves (its reflog) that took it
    from a commit recording another to one recording it (a `git pull`, merge, checkout or
    cherry-pick) come from a commit recording no pointer there? Never a commit of the user's
    own (`git commit`, its `--amend`), which recorded what this workspace held; never a
    clone's first commit, which HEAD was always at; nor where the commit before recorded
    another version, which the workspace may have held (synced by a dvx that kept no record,
    or whose record was deleted), so what is there may be an edit of it. False when Git
    cannot say."""
    if repo.git is None:
        return False
    try:
        moves = repo.git.head_moves(HEAD_MOVES)
    except DvxError:
        return False
    oids = [None if (each := recorded_at(repo, commit, path, in_lock=False)) is None
            else each.oid for commit, _ in moves]
    if not oids or oids[0] != pointer.oid:
        return False
    for at in range(1, len(oids)):
        if oids[at] != pointer.oid:  # moves[at - 1] brought the pointer from here
            return oids[at] is None and not _own_commit(moves[at - 1][1])
    return False


def _own_commit(how: str) -> bool:
    """Whether a reflog's word for a move of HEAD says the user made that commit here
    (`commit: ...`, `commit (initial): ...`, `commit (amend): ...`), not that Git brought
    it: a merge concluded by `git commit` (`commit (merge): ...`) brings the other side's."""
    return how.startswith(("commit: ", "commit (initial): ", "commit (amend): "))


def recorded_at(repo: Repo, commit: str, path: str, in_lock: bool) -> Pointer | None:
    """What `commit` recorded for the data at `path`, in its pointer file (or with `in_lock`,
    its dvx.lock entry); None if it records none, Git no longer has that commit, or dvx
    cannot read what it holds."""
    git = repo.git
    if git is None:
        return None
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    try:
        sha = git.blob_id_at(commit, file, MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES)
        return None if sha is None else _recorded_in(repo, git, file, sha).get(path)
    except DvxError:
        return None


def commit_recording(repo: Repo, path: str, in_lock: bool, oid: str) -> str | None:
    """A commit HEAD was at lately (as `recorded_lately` looks) whose pointer file (or with
    `in_lock`, dvx.lock entry) for the data at `path` names `oid`: where `dvx fetch --rev`
    finds that version again. None if none of them does."""
    git = repo.git
    if git is None:
        return None
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    try:
        for commit in git.recent_heads(HEAD_MOVES):
            sha = git.blob_id_at(commit, file, MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES)
            pointer = None if sha is None else _recorded_in(repo, git, file, sha).get(path)
            if pointer is not None and pointer.oid == oid:
                return commit
    except DvxError:
        pass
    return None


def recorded_by_git(repo: Repo, path: str, in_lock: bool) -> list[Pointer]:
    """What Git records for the data at `path`, in its pointer file (or with `in_lock` in
    its dvx.lock entry): HEAD's commit's, and, while Git stops inside a merge, cherry-pick,
    revert or rebase, what the commit it brings and its index (a merged pointer) hold.
    Empty when none records one (no Git, no commit yet, a pointer never committed, one dvx
    cannot read). DvxError when Git will not give the file (a folder there, one too
    large)."""
    git = repo.git
    if git is None:
        return []
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    limit = MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES
    revs = ["HEAD"]
    stopped = git.operation_heads()
    if stopped:
        revs += [*stopped, ":0"]  # ":0:PATH": the index's entry, a merge's result
    found = []
    for rev in revs:
        sha = git.blob_id_at(rev, file, limit)
        pointer = None if sha is None else _recorded_in(repo, git, file, sha).get(path)
        if pointer is not None:
            found.append(pointer)
    return found


def recorded_in_stash(repo: Repo, path: str, in_lock: bool) -> Pointer | None:
    """What the latest stash (`refs/stash`: the workspace `git stash` took) records for the
    data at `path`, in its pointer file (or with `in_lock` in its dvx.lock entry): what `git
    stash pop` puts back. None with no stash, none recording it, or one dvx cannot read."""
    git = repo.git
    if git is None:
        return None
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    try:
        sha = git.blob_id_at("refs/stash", file, MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES)
    except DvxError:
        return None
    return None if sha is None else _recorded_in(repo, git, file, sha).get(path)


def stash_entry_recording(repo: Repo, stashes: list[str], path: str, in_lock: bool,
                          oid: str) -> int | None:
    """Of the stash entries' commits `stashes` (`Git.stashes`, the latest first), the number
    of the newest (0 for `stash@{0}`) that took a pointer file (or with `in_lock`, a dvx.lock
    entry) naming `oid` for the data at `path` away from the workspace: one the commit it was
    made on (its first parent) did not record, saved in the work tree it holds, or among the
    untracked files a `git stash -u` saved (its third parent). `git stash pop` of that entry
    puts the pointer back. None if none took it."""
    git = repo.git
    if git is None:
        return None
    file = LOCK_FILE if in_lock else path + POINTER_SUFFIX
    limit = MAX_LOCK_BYTES if in_lock else MAX_POINTER_BYTES

    def names_it(commit: str) -> bool:
        try:
            sha = git.blob_id_at(commit, file, limit)
        except DvxError:
            return False  # a folder there, one too large: no pointer of it
        pointer = None if sha is None else _recorded_in(repo, git, file, sha).get(path)
        return pointer is not None and pointer.oid == oid

    for number, stash in enumerate(stashes):
        if not names_it(stash + "^1") and (names_it(stash) or names_it(stash + "^3")):
            return number
    return None


def _recorded_in(repo: Repo, git: Git, file: str, sha: str) -> dict[str, Pointer]:
    """{data path: pointer} of the pointer file or dvx.lock `file` whose blob is `sha`
    (empty if it does not parse), parsed once per command."""
    key = (file, sha)
    if key not in repo.recorded_in_blobs:
        data = git.object_data(sha)[1]
        try:
            if file == LOCK_FILE:
                recorded = {out.path: _pointer_of(out, repo.algo)
                            for lock in parse_lock(data, repo.algo).values()
                            for out in lock.outs if out.cache}
            else:
                pointer = parse_pointer(data, file)
                recorded = {data_path_of(file): pointer} if pointer.algo == repo.algo else {}
        except DvxError:
            recorded = {}
        repo.recorded_in_blobs[key] = recorded
    return repo.recorded_in_blobs[key]


def _parse_tree(data: bytes) -> list[tuple[bool, str, str]]:
    """(is a tree, name, sha) of each entry of a raw Git tree object; regular files and
    trees only (a symbolic link or submodule never holds a pointer dvx would read)."""
    found = []
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        nul = data.index(b"\0", space)
        mode = data[position:space]
        name = data[space + 1:nul].decode("utf-8", "surrogateescape")
        sha = data[nul + 1:nul + 21].hex()
        position = nul + 21
        if mode == b"40000":
            found.append((True, name, sha))
        elif mode in (b"100644", b"100755"):
            found.append((False, name, sha))
    return found


def scope_targets(repo: Repo, scope: Scope, targets: list[Target] | None = None,
                  strict: bool = False, paths: list[str] | None = None
                  ) -> tuple[list[Target], list[Broken]]:
    """The targets of a command over `scope`: the workspace's (`targets`, already resolved;
    None: every output), then every output of the revisions in scope (with `paths`, only
    what of them is at or below those paths: of a tracked directory above one, the part
    inside it), each distinct (path, oid, part) once, with the revisions recording it
    (`Target.revisions`). With `strict`, unreadable pointers in scope are returned, not
    skipped (gc)."""
    chosen: list[Target] = list(targets or []) if scope.workspace else []
    broken: list[Broken] = []
    if scope.workspace and targets is None:
        outputs, found = scan_outputs(repo)
        chosen = [Target(o) for o in outputs]
        broken += found
    seen = {(t.output.path, t.output.pointer.oid, t.subpath) for t in chosen}
    revisions: list[Revision] = []
    # Without Git there is no index, stash or queue: only revisions asked for need History.
    implicit = (scope.index or scope.stashes or scope.queued) and repo.git is not None
    if scope.has_revisions or implicit:
        with History(repo) as history:
            if scope.index:
                revisions.append(history.index())
            revisions += [history.at(commit) for commit in history.commits(scope)]
    # Each distinct output once, with every revision that records it (messages name them)
    recorded: dict[tuple[str, str, str | None], tuple[Output, list[str]]] = {}
    for revision in revisions:
        broken += revision.broken
        for output in revision.outputs:
            for subpath in [None] if paths is None else _parts_asked(output, paths):
                key = (output.path, output.pointer.oid, subpath)
                if key not in seen:
                    recorded.setdefault(key, (output, []))[1].append(revision.name)
    chosen += [Target(output, subpath, tuple(names))
               for (_, _, subpath), (output, names) in recorded.items()]
    if not strict:
        skip_broken(repo, go_on_without_committed_damage(broken))
    return chosen, broken


def go_on_without_committed_damage(broken: list[Broken]) -> list[Broken]:
    """Of `broken`, those a command stops for (or fails on): a pointer file (or dvx.lock)
    committed damaged names data that no one can ever know or fetch, so a command over
    history goes on without it, with a warning naming the commit and the file. So too for
    one recording another hash algorithm than dvx hashes with here, which a dvx hashing with
    that one reads: its warning names the fix (hash_setting.py), never damage."""
    for item in broken:
        if item.committed_damaged and isinstance(item.error, OtherAlgorithmError):
            log.warning("Went on without %s: %s", item.path, item.error)  # not damaged
        elif item.committed_damaged:
            said = item.error.message.rstrip(".")
            log.warning("Went on without %s: it was committed damaged, and names no data "
                        "anyone can know or fetch (%s%s).", item.path, said[:1].lower(),
                        said[1:])
    return [item for item in broken if not item.committed_damaged]


def _parts_asked(output: Output, paths: list[str]) -> list[str | None]:
    """What of `output` the target `paths` ask for: all of it (None) when one of them is
    the output or a folder above it; else, for a tracked directory, the files or folders
    inside it that they name (its subpaths, the outermost of them), as in the workspace;
    else nothing."""
    if any(output.path == p or output.path.startswith(p + "/") for p in paths):
        return [None]
    if not output.pointer.is_dir:
        return []
    inside = sorted({p[len(output.path) + 1:] for p in paths
                     if p.startswith(output.path + "/")})
    return [sub for index, sub in enumerate(inside)
            if not any(sub.startswith(outer + "/") for outer in inside[:index])]


def revision_labels(repo: Repo, names: set[str]) -> dict[str, str]:
    """How messages name each of `names` (commits, "index", "workspace"): a commit by its
    short hash and the branches and tags at it ("3f2a1b0c9d (v1, main)"), so that versions of
    one path found in several revisions can be told apart."""
    labels = {"workspace": "the workspace", "index": "the index"}
    refs: dict[str, list[str]] = {}
    if repo.git is not None and names - labels.keys():
        for prefix in ("refs/heads", "refs/tags"):
            for ref, commit in repo.git.ref_tips(prefix):
                refs.setdefault(commit, []).append(ref)
    found = {}
    for name in names:
        at = f" ({', '.join(refs[name])})" if name in refs else ""
        found[name] = labels.get(name) or f"{name[:10]}{at}"
    return found


def found_in(labels: dict[str, str], names: Iterable[str]) -> str:
    """' (in 3f2a1b0c9d (v1), 8e7d6c5b4a and 2 more)': the first three of `names` by their
    `labels`, those a branch or tag names first (the easiest to recognise); '' for none."""
    shown = sorted((labels[name] for name in names), key=lambda label: "(" not in label)
    return f" (in {named_list(shown, most=3)})" if shown else ""
