"""dvx push / fetch / pull / status --remote: move the objects that pointers need between the
cache and a remote, and compare the two."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dvx import faults, wording
from dvx.errors import (
    CorruptManifestError,
    DvxError,
    FormatError,
    Interrupted,
    LostConnection,
    RemoteError,
)
from dvx.fsutil import describe
from dvx.history import recorded_lately
from dvx.lockfile import LOCK_FILE
from dvx.logs import get_logger, pasted_args, quoted
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.checkout import CheckoutResult, HeldElsewhere, checkout
from dvx.ops.remote import (
    default_remote,
    lock_remote,
    open_remote,
    own_remote,
    refuse_unknown_remote,
    settings_for,
)
from dvx.ops.status import output_status
from dvx.outputs import (
    DeclaredOutputs,
    Output,
    Target,
    load_output,
    load_tree,
    load_tree_setting_aside,
    pipeline_outputs,
    skip_invalid_manifest,
)
from dvx.paths import for_command
from dvx.remote import leftovers, locks, packed, pushlog, transfer
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import (
    CHANGED_IN_CACHE,
    NOT_AN_OBJECT,
    held_in_workspace,
    in_a_pack_cut_short,
    lost_with_its_pack,
    read_damaged,
)
from dvx.remote.workers import also_left, interrupted
from dvx.repo import Repo
from dvx.wording import named_list
from dvx.workspace import keep_links_on_set_aside

if TYPE_CHECKING:
    from dvx.ops.imports import ImportAgain

log = get_logger(__name__)

# The remotes, of several a command uses, that it could not use at all, each with the error
# naming it; the others' results stand.
RemoteErrors = list[tuple[str | None, DvxError]]


class PathsOf:
    """Which workspace path needs an oid, and which output records it, for messages. A
    directory's files are looked up in its manifest only when asked (after a failure), not
    kept per file: a directory of a million files would otherwise cost a million strings to
    name the few that failed."""

    def __init__(self) -> None:
        self._named: dict[str, Output] = {}  # by its pointer's oid
        self._trees: list[tuple[Output, Tree, str | None]] = []  # (directory, manifest, subpath)

    def add(self, output: Output) -> None:
        self._named.setdefault(output.pointer.oid, output)

    def add_tree(self, directory: Output, tree: Tree, subpath: str | None) -> None:
        self._trees.append((directory, tree, subpath))

    def merge(self, other: PathsOf) -> None:
        for output in other._named.values():
            self.add(output)
        self._trees += other._trees

    def lookup(self, oids: Iterable[str]) -> dict[str, str]:
        """{oid: path} for those of `oids` something here needs (one pass over the trees)."""
        return {oid: path for oid, (path, _) in self.recorded(oids).items()}

    def recorded(self, oids: Iterable[str]) -> dict[str, tuple[str, Output]]:
        """{oid: (path, the output whose pointer or dvx.lock entry names it)} for those of
        `oids` something here needs: for a file of a tracked directory, its directory (which
        names the manifest). The output is the revision's, not the workspace's (fetch --rev)."""
        wanted = set(oids)
        found = {oid: (self._named[oid].path, self._named[oid])
                 for oid in wanted if oid in self._named}
        missing = wanted - found.keys()
        for directory, tree, subpath in self._trees:
            if not missing:
                break
            for index, oid in enumerate(tree.oids()):
                if oid in missing and _in_scope(tree.paths[index], subpath):
                    found[oid] = (f"{directory.path}/{tree.paths[index]}", directory)
                    missing.discard(oid)
        return found

    def manifests(self) -> dict[str, Tree]:
        """The directory manifests read, by their oid."""
        return {directory.pointer.oid: tree for directory, tree, _ in self._trees}

    def get(self, oid: str, default: str | None = None) -> str | None:
        return self.lookup([oid]).get(oid, default)


@dataclass(frozen=True)
class UpdateAdvice:
    """How `dvx update` fetches the data an import's pointer names, which no remote gives,
    when the workspace's pointer names that same data: `target`, that pointer file as a
    command run here names it; `may_move`, update reads the version its source has now (any
    import not pinned to its commit), which may be another, and records that one; `exact`,
    the `dvx import` that brings exactly this data from the commit the pointer records
    (`imports.import_command`), when known."""
    target: str
    may_move: bool
    exact: ImportAgain | None = None


@dataclass(frozen=True)
class Recorded:
    """A file that records data the remote does not have (its pointer, or dvx.lock), and the
    earliest commit that recorded that data there: its author committed the pointer, and
    perhaps never ran `dvx push`. `commit` and `author` are None for data no commit
    recorded, or in a project without Git (`searched` False); `author` alone where that
    commit is where a shallow clone's history stops (an older one may have recorded it)."""
    pointer: str
    oid: str
    commit: str | None = None
    author: str | None = None
    searched: bool = True
    # For an import's pointer (it has a `source:`) whose workspace copy names that data: how
    # the `dvx update` of that pointer fetches the data from its source, which no remote needs.
    update: UpdateAdvice | None = None
    # The data as a command run here names it, when the cache here lost it and the workspace
    # still holds it (`OutputStatus.only_in_workspace`): `dvx commit PATH` stores it again.
    held_here: str | None = None
    # For an import's pointer whose workspace copy names other data (or none): the `dvx
    # import` that brings this data from its source, and the pointer of the copy it makes,
    # or why none is known to (`imports.import_command`).
    import_again: ImportAgain | None = None
    # A fetch's: the remote a plain `dvx push` sends this data to (the output's own,
    # `remote:` in dvx.yaml, else the default), where it is not the remote asked (`-r NAME`):
    # the data may be there, and a fetch without -r reads it from there.
    pushed_to: str | None = None

    def __str__(self) -> str:
        if self.commit is not None and self.author is None:
            return (f"{self.pointer}, recorded by commit {self.commit} or one before it, which "
                    "this shallow clone does not have: its history stops there")
        if self.commit is not None:
            return f"{self.pointer}, recorded by commit {self.commit} ({self.author})"
        return f"{self.pointer}, in no commit" if self.searched else self.pointer

    def to_json(self) -> dict[str, object]:
        return {"pointer": self.pointer, "oid": self.oid, "commit": self.commit,
                "author": self.author, "only_in_workspace": self.held_here is not None,
                "pushed_to": self.pushed_to}


@dataclass
class SyncResult:
    remote: str  # "" where no remote was given and none was asked (`asked`)
    transfer: transfer.TransferResult = field(default_factory=transfer.TransferResult)
    problems: list[str] = field(default_factory=list)  # what could not be done, and why
    repaired: list[str] = field(default_factory=list)  # corrupt remote objects replaced
    repaired_missing: set[str] = field(default_factory=set)  # of those, the ones gone there
    checkout: CheckoutResult | None = None
    paths: PathsOf = field(default_factory=PathsOf)  # which path needs an oid
    # For data the remote does not have: the file recording it and the commit that
    # recorded it ("raw.csv.dvx, recorded by commit 1a2b3c4 (Bob)"), a few of them.
    never_pushed: list[Recorded] = field(default_factory=list)
    # How many more files record such data than `never_pushed` names (it names a few).
    never_pushed_unnamed: int = 0
    # A push's: `never_pushed` is then data this cache lacks too (a partial pull left it
    # out), which the other remotes configured (the default first) may hold for a fetch.
    pushing: bool = False
    fetch_from: list[str] = field(default_factory=list)
    fetch_from_default: bool = False  # fetch_from[0] is the default remote
    # A fetch's: the default remote, which a `pushed_to` of `never_pushed` may name.
    default_remote: str | None = None
    # The same, for data the remote's indexes name (it was pushed) but it no longer holds.
    lost: list[Recorded] = field(default_factory=list)
    # The same, for data whose pack on the remote is shorter than its index says.
    cut_short: list[Recorded] = field(default_factory=list)
    # A pull's: the `push: false` outputs it was named that the cache lacks, which no remote
    # holds (only a run of their stage makes them again), so it placed nothing for them.
    not_pushed: list[str] = field(default_factory=list)
    # The same, for data whose copy read from the remote hashes to another oid.
    damaged: list[Recorded] = field(default_factory=list)
    # The remote's pack indexes refused as damaged, when data was not found: it may be in a
    # pack one of them names, rather than never pushed.
    refused_indexes: list[str] = field(default_factory=list)
    # The same, for indexes a newer dvx wrote: upgrading dvx reads them.
    newer_indexes: list[str] = field(default_factory=list)
    # Where no index was refused: the packs no index names, older than gc's grace period,
    # when data was not found. An index of them may be lost, and the data in one of them.
    unindexed_packs: list[str] = field(default_factory=list)
    # Manifests a push needed and did not put on the remote, though none of them failed:
    # held back because some of their files failed, or in neither the cache nor the remote
    # (a problem each). Not done, so a later push of the same command tries them again.
    manifests_held_back: set[str] = field(default_factory=set)
    # A transfer split over several remotes (outputs with a `remote:` of their own): each
    # remote's own result, in the totals above too, and the remotes whose transfer stopped
    # as a whole (its folder could not be made, its bucket is missing), each with the error
    # naming it; the others' transfers were still made.
    parts: list[SyncResult] = field(default_factory=list)
    remote_errors: RemoteErrors = field(default_factory=list)
    # The outputs (path, oid) those remotes were to transfer, with the remote of each: none
    # of their data was moved.
    unread: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # Of the paths a pull's checkout found missing, those whose data was to come from one
    # of those remotes, with that remote: no one looked for it there.
    not_fetched: dict[str, str | None] = field(default_factory=dict)
    # False: a fetch whose every object the cache held, which opened no remote.
    asked: bool = True
    # A remote was asked for a checkout: by a pull's, whether it holds versions the workspace
    # holds and the cache lacks; by a pull or fetch, for older versions' manifests (so a
    # fetch of data that asked none does not say that no remote was asked).
    asked_by_checkout: bool = False

    def failed_paths(self) -> list[str]:
        """The paths whose objects did not transfer."""
        named = self.paths.lookup(self.transfer.failed)
        return sorted({named.get(oid, oid) for oid in self.transfer.failed})

    @property
    def ok(self) -> bool:
        return not self.problems and not self.transfer.failed and not self.remote_errors and (
            self.checkout is None or self.checkout.ok) and not self.not_pushed

    @property
    def remotes(self) -> list[str]:
        """The remotes this command transferred with, or was to (`remote` joins them)."""
        if not self.asked:
            return []
        if not self.parts and not self.remote_errors:
            return [self.remote]
        return list(dict.fromkeys([*(p.remote for p in self.parts),
                                   *(name for name, _ in self.remote_errors if name)]))

    def remote_failure(self) -> DvxError | None:
        """The one error to end the command with for the remotes whose transfer stopped."""
        return remote_failure(self.remote_errors)

    def add_transfer(self, other: SyncResult) -> None:
        """Count in the objects `other`, a later transfer of the same command (the
        run-cache's), moved or failed to move, with those of its remote's part when this
        one is split over several remotes. That transfer asked its remote (for the run
        records, at least), even where the data needed none."""
        if not self.asked:
            self.remote, self.asked = other.remote, True
        part = next((p for p in self.parts if p.remote == other.remote), None)
        if part is None and self.parts:  # a remote the data did not go to
            part = SyncResult(other.remote)
            self.parts.append(part)
        for counted in [self] if part is None else [self, part]:
            counted.transfer.merge(other.transfer)
            counted.paths.merge(other.paths)
        self.problems += other.problems

    def tally(self, other: SyncResult) -> None:
        """Count `other` in the totals here."""
        self.transfer.merge(other.transfer)
        self.problems += other.problems
        self.repaired += other.repaired
        self.repaired_missing |= other.repaired_missing
        self.paths.merge(other.paths)
        self.never_pushed += other.never_pushed
        self.never_pushed_unnamed += other.never_pushed_unnamed
        self.lost += other.lost
        self.cut_short += other.cut_short
        self.damaged += other.damaged
        self.refused_indexes += other.refused_indexes
        self.newer_indexes += other.newer_indexes
        self.unindexed_packs += other.unindexed_packs
        self.manifests_held_back |= other.manifests_held_back

    def absent_on_remote(self) -> dict[str, str]:
        """{oid: path} of the objects that did not transfer because the remote does not
        have them (never pushed, or gone from it since), and of nothing else."""
        return self.paths.lookup(oid for oid, why in self.transfer.failed.items()
                                 if why == transfer.NOT_ON_REMOTE or lost_with_its_pack(why))

    def ok_but_for_absent(self) -> bool:
        """As `ok`, but for the data the remote does not have (`pull --allow-missing`): what
        failed is only downloads of objects absent there, and paths checkout could not place
        for want of them; anything else (a download cut short, a damaged object, a problem,
        a file checkout skipped) still counts."""
        absent = self.absent_on_remote()
        if self.problems or self.transfer.failed.keys() - absent.keys():
            return False
        if self.checkout is None:
            return True
        lacking = set(absent.values())
        return not self.checkout.skipped and all(
            any(_same_or_within(path, other) for other in lacking)
            for path in self.checkout.missing)

    def to_json(self) -> dict[str, object]:
        named = self.paths.lookup(self.transfer.failed)
        doc: dict[str, object] = {
            "remote": self.remote or None, "remotes": self.remotes,
            "transferred": self.transfer.transferred,
            "already_there": self.transfer.already_there, "bytes": self.transfer.bytes,
            "failed": [{"oid": o, "path": named.get(o), "reason": r}
                       for o, r in sorted(self.transfer.failed.items())],
            "problems": self.problems, "repaired": self.repaired,
            "never_pushed": [r.to_json() for r in self.never_pushed],
            "lost": [r.to_json() for r in self.lost],
            "remote_errors": remote_errors_json(self.remote_errors)}
        if self.checkout is not None:
            doc["checkout"] = self.checkout.to_json()
        return doc


def remote_failure(errors: RemoteErrors) -> DvxError | None:
    """The one error to end a command with for the remotes of several it could not use
    (`errors`), once it reported what it did with the others: theirs, joined."""
    if len(errors) <= 1:
        return errors[0][1] if errors else None
    found = [error for _, error in errors]
    joined = RemoteError(" ".join(e.message for e in found),
                         " ".join(dict.fromkeys(e.hint for e in found if e.hint)) or None)
    joined.exit_code = max(e.exit_code for e in found)
    joined.joins = tuple(found)  # what they quote of libraries' errors, it quotes too
    return joined


def remote_errors_json(errors: RemoteErrors) -> list[dict[str, object]]:
    return [{"remote": name, "error": str(error)} for name, error in errors]


@dataclass
class Wanted:
    """The objects some targets need: files with their sizes, and complete manifests."""
    files: dict[str, int] = field(default_factory=dict)
    trees: dict[str, Tree] = field(default_factory=dict)
    paths: PathsOf = field(default_factory=PathsOf)  # for messages
    missing_manifests: set[str] = field(default_factory=set)  # in the cache (or remote) no more
    # The files of directories pushed in part (a target inside a tracked directory): their
    # manifest is not pushed, so a push log names these files one by one.
    parts: set[str] = field(default_factory=set)


def _same_or_within(path: str, other: str) -> bool:
    """Is one of two workspace paths the other, or inside it (a directory and its file)?"""
    return path == other or path.startswith(other + "/") or other.startswith(path + "/")


def _in_scope(path: str, subpath: str | None) -> bool:
    return subpath is None or path == subpath or path.startswith(subpath + "/")


def wanted_objects(repo: Repo, targets: list[Target], problems: list[str],
                   fetched: bool = False) -> Wanted:
    """What `targets` need; a directory whose manifest is not in the cache (nor on the
    remote, when `fetched` looked there) is a problem."""
    wanted = Wanted()
    for target in targets:
        output, pointer = target.output, target.output.pointer
        if not pointer.is_dir:
            wanted.files[pointer.oid] = pointer.size
            wanted.paths.add(output)
            continue
        try:
            tree = load_tree(repo, pointer, output.recorded_in)
        except CorruptManifestError as exc:
            problems.append(f"{output.path}: {exc}")
            continue
        except FormatError as exc:  # as committed: named at the end, as a bad pointer is
            skip_invalid_manifest(repo, output, exc)
            continue
        if tree is None:
            wanted.missing_manifests.add(pointer.oid)
            wanted.paths.add(output)
            problems.append(f"{output.path}: its manifest is in neither the cache nor the "
                            "remote" if fetched else f"{output.path}: its manifest is not in "
                            "the cache")
            continue
        files = wanted.files
        if target.subpath is None:
            files.update(tree.every_object())
            wanted.trees[pointer.oid] = tree
            wanted.paths.add(output)
        else:
            for entry in tree.entries:
                if _in_scope(entry.path, target.subpath):
                    files[entry.oid] = entry.size
                    wanted.parts.add(entry.oid)
        wanted.paths.add_tree(output, tree, target.subpath)
    return wanted


def belonging_on(repo: Repo, targets: list[Target], remote_name: str | None
                 ) -> dict[str | None, list[Target]]:
    """The targets a remote holds, by the remote each belongs on: what `dvx push` (with `-r
    NAME` or not) uploads where, and so what `dvx fetch` reads, `status -c` compares and
    `fsck --remote` looks for there, each asking here. `push: false` outputs go nowhere.
    With `remote_name` (`-r NAME`, `fsck --remote NAME`) all the others go there; without,
    pipeline outputs that name their own remote (`remote:` in dvx.yaml) go to it, the rest
    to the default remote (one group with the outputs that name it)."""
    targets = pushed(targets)
    if remote_name is None:
        _refuse_outputs_sent_nowhere(repo, targets, set(repo.config.remote_names()))
    return _grouped(repo, targets, remote_name)


def _grouped(repo: Repo, targets: list[Target], remote_name: str | None
             ) -> dict[str | None, list[Target]]:
    """The targets by the remote `belonging_on` sends each to, without its checks."""
    default = remote_name or default_remote(repo.config)
    known = set(repo.config.remote_names())
    groups: dict[str | None, list[Target]] = {}
    for target in targets:
        groups.setdefault(remote_name or own_remote(target.output.remote, known) or default,
                          []).append(target)
    return groups or {remote_name: []}


NAMED_STAGES = 3  # stages an error about outputs sent nowhere names, each with its outputs


def _refuse_outputs_sent_nowhere(repo: Repo, targets: list[Target], known: set[str]
                                 ) -> None:
    """An output of the workspace's dvx.lock whose own remote (`remote:`) no remote is called
    (renamed or removed since) is named, with the stage that sends it there, before anything
    is transferred: the first few stages sending outputs to the first such remote, each with
    its own outputs. Other revisions' dvx.lock keep naming it for good (the workspace's was
    changed since, with `dvx repro`): their outputs go to the default remote, with a warning."""
    lost = [t.output for t in targets
            if t.output.remote is not None and t.output.remote not in known]
    if not lost:
        return
    here = {(o.path, o.remote) for o in pipeline_outputs(repo)}
    _refuse_sent_nowhere_here([o for o in lost if (o.path, o.remote) in here])
    _warn_of_history_sent_to_default(repo, [o for o in lost if (o.path, o.remote) not in here])


def _refuse_sent_nowhere_here(outputs: list[Output]) -> None:
    lost: dict[str, dict[str, list[str]]] = {}  # remote -> stage -> its outputs sent there
    for output in outputs:
        assert output.remote is not None
        stages = lost.setdefault(output.remote, {})
        stages.setdefault(output.stage or "?", []).append(output.path)
    if not lost:
        return
    name, by_stage = next(iter(lost.items()))
    senders = [f"stage '{stage}' sends {named_list(paths, most=3, name=quoted)}"
               for stage, paths in list(by_stage.items())[:NAMED_STAGES]]
    more = len(by_stage) - len(senders)
    if more:
        senders.append(f"{more} other stage(s) send theirs")
    rerun = (f"`dvx repro {pasted_args(*by_stage)}`" if not more
             else "`dvx repro` of those stages")
    others = [f"'{other}'" for other in lost if other != name]
    also = f" No remote is named {', '.join(others)} either." if others else ""
    raise RemoteError(
        f"There is no remote named '{name}', which dvx.yaml sends outputs to (`remote:`, as "
        f"{LOCK_FILE} records it): {'; '.join(senders)}.{also}",
        f"Add a remote named '{name}' (`dvx remote add`), or change that `remote:` and rerun "
        f"the stage{'s' if len(by_stage) > 1 else ''} ({rerun}); -r NAME sends everything to "
        "one remote.")


SHOWN_HISTORY_OUTPUTS = 3  # `git log` runs once per output named


def _warn_of_history_sent_to_default(repo: Repo, outputs: list[Output]) -> None:
    """Other revisions' outputs whose `remote:` names a remote that no longer exists: sent to
    (and read from) the default remote, as data without a `remote:` is, and said so, naming
    a few and the commits that recorded them, so none of them is left on no remote."""
    if not outputs:
        return
    names = sorted({o.remote for o in outputs if o.remote is not None})
    listed = named_list(outputs, most=SHOWN_HISTORY_OUTPUTS,
                        name=lambda output: _with_its_commit(repo, output))
    default = default_remote(repo.config)
    instead = f"the default remote '{default}'" if default else "the default remote"
    log.warning("Other commits' %s sends %s to the remote %s, which no longer exists (renamed "
                "or removed): push, fetch and status -c use %s for that data instead. What "
                "was pushed there before is reached with `-r NAME`, NAME being that remote's "
                "name now.",
                LOCK_FILE, listed, " and ".join(f"'{n}'" for n in names), instead)


def _with_its_commit(repo: Repo, output: Output) -> str:
    """`output` named with its stage and the earliest commit that put it into dvx.lock."""
    found = None if repo.git is None else repo.git.first_with(LOCK_FILE, output.pointer.oid)
    commit = f", commit {found[0]}" if found is not None else ""
    return f"{quoted(output.path)} (stage '{output.stage}'{commit})"


def pushed(targets: list[Target]) -> list[Target]:
    """The targets a remote holds: `push: false` outputs stay in the cache."""
    return [t for t in targets if t.output.push]


def _over_remotes(groups: dict[str | None, list[Target]], doing: str,
                  transfer_to: Callable[[str | None, list[Target]], SyncResult]
                  ) -> SyncResult:
    """One transfer per remote (`transfer_to`), and their results together. A remote whose
    transfer stops as a whole does not stop the others: its error, naming it, is kept
    (`remote_errors`) beside what they did, which the command reports before it fails."""
    merged = SyncResult(", ".join(name or "?" for name in groups))
    names = list(groups)
    for at, (name, group) in enumerate(groups.items()):
        try:
            part = transfer_to(name, group)
        except Interrupted as exc:  # the remotes after it are left for the command run again
            if merged.parts and exc.total is None:  # a count of the command, not of a whole
                exc = interrupted(exc.moving, exc.done + merged.transfer.transferred, None,
                                  exc, exc.unsure, exc.left)
            rest = [f"'{later}'" for later in names[at + 1:] if later is not None]
            if rest:
                raise also_left(exc, f"{doing} {named_list(rest, most=3)}") from None
            raise
        except (DvxError, OSError) as exc:
            merged.remote_errors.append((name, _naming_remote(name, doing, exc)))
            merged.unread.update(((t.output.path, t.output.pointer.oid), name) for t in group)
        else:
            merged.parts.append(part)
            merged.tally(part)
    return merged


def _naming_remote(name: str | None, doing: str, exc: DvxError | OSError) -> DvxError:
    """The error that stopped the transfer with the remote `name`, one of several: named,
    since what stopped it may not say which (a filesystem error, a missing bucket). Made
    from `exc` (its __cause__), for what it quotes of libraries' errors."""
    if isinstance(exc, OSError):
        why = f"{exc.strerror}" if isinstance(exc, LostConnection) else describe(exc)
        named = RemoteError(f"Could not {doing} the remote '{name}': {why}.",
                            "No object was published half-written; fix the cause and run the "
                            "command again.")
    elif name is None or f"'{name}'" in exc.message:
        return exc
    else:
        named = RemoteError(f"Could not {doing} the remote '{name}': {exc.message}", exc.hint)
        named.exit_code = exc.exit_code
    named.__cause__ = exc
    return named


def push(repo: Repo, targets: list[Target], remote_name: str | None = None,
         jobs: int | None = None, repair: bool = False, earlier: SyncResult | None = None
         ) -> SyncResult:
    """`earlier`: a push of this command before this one (`_done_before`)."""
    groups = belonging_on(repo, targets, remote_name)
    if len(groups) > 1:
        return _over_remotes(groups, "push to", lambda name, group: push(
            repo, group, name, jobs, repair, earlier))
    [(name_asked, targets)] = groups.items()
    name, remote = open_remote(repo, name_asked)
    if remote.read_only:
        raise RemoteError(f"Remote '{name}' ({remote.url}) is read-only.",
                          "Push to an S3, SSH, cloud or directory remote instead.")
    others = _other_remotes(repo, name)
    result = SyncResult(name, pushing=True, fetch_from=others, fetch_from_default=bool(
        others) and others[0] == default_remote(repo.config))
    settings = settings_for(repo, name, remote, jobs)
    keep_links_on_set_aside(repo)  # an object found changed on its way is set aside
    if repair:
        # The remote's own index bytes, not this repository's copies of them (as fsck
        # --remote): what only an index damaged there names is missing, and uploaded again.
        remote.inventory.recheck()
    with contextlib.ExitStack() as held:
        with _nothing_uploaded_if_stopped():
            _fetch_manifests(repo, remote, targets, settings)
            wanted = wanted_objects(repo, targets, result.problems, fetched=True)
            result.paths = wanted.paths
            done = _done_before(earlier, name, [*wanted.files, *wanted.trees])
            for oid in done:
                wanted.files.pop(oid, None)
                wanted.trees.pop(oid, None)
            remote.blobs.prepare(create=True)
            held.enter_context(lock_remote(repo, name, remote, locks.PUSH))  # may wait
        _push_wanted(repo, remote, wanted, targets, settings, repair, result)
    repo.statcache.flush()  # remembers the objects hashed on the way, found intact
    return result


def _other_remotes(repo: Repo, name: str) -> list[str]:
    """The remotes configured besides `name`, the default one first."""
    default = default_remote(repo.config)
    others = [other for other in repo.config.remote_names() if other != name]
    return sorted(others, key=lambda other: other != default)


def _fetch_manifests(repo: Repo, remote: ObjectStore, targets: list[Target],
                     settings: transfer.Settings) -> None:
    """The manifests of directories this clone never fetched (a teammate's data, pushed
    with commits that only change code here), from the remote: they say which files the push
    needs, which the remote then already holds. One it lacks stays a problem of the push."""
    missing = {t.output.pointer.oid for t in targets
               if t.output.pointer.is_dir and not repo.cache.exists(t.output.pointer.oid)}
    if missing and transfer.present_on(remote, missing, settings):
        transfer.download(remote, repo.cache, missing, settings)


@contextlib.contextmanager
def _nothing_uploaded_if_stopped() -> Iterator[None]:
    """A Ctrl-C, SIGTERM or SIGHUP before a push's first upload (reading manifests, waiting
    for the remote's lock, finding what the remote lacks) says that nothing was uploaded and
    that running the command again finishes, as a later stop says how many objects were.
    Once uploads begin, the transfer itself counts them (an Interrupted, let through)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise interrupted("Uploading", 0, by=exc) from None


def _push_wanted(repo: Repo, remote: RemoteStore, wanted: Wanted, targets: list[Target],
                 settings: transfer.Settings, repair: bool, result: SyncResult) -> None:
    """Push under the remote's push lock: from the first look at what the remote holds to
    the push log, gc --remote cannot delete what this push finds there."""
    with _nothing_uploaded_if_stopped():
        files = wanted.files  # a dict: its keys are the set of oids, with no copy of them
        uncached = set(repo.cache.missing(files))
        cached = files if not uncached else {oid for oid in files if oid not in uncached}
        # What this clone never fetched (a partial pull) is fine if the remote has it already.
        if repair and uncached:
            elsewhere = _held_intact(repo, remote, uncached, files, settings, result)
        else:
            elsewhere = transfer.present_on(remote, uncached, settings) if uncached else set()
        result.transfer.already_there += len(elsewhere)
        nowhere = uncached - elsewhere
        set_aside = _set_aside_here(repo, nowhere)
        for oid in sorted(nowhere):
            result.transfer.failed.setdefault(oid, _set_aside_failure(
                set_aside[oid], _set_aside_way_out(result)) if oid in set_aside
                                              else "not in the local cache nor on the remote")
        # Data the cache moved aside as damaged was here, so no teammate is to blame for it.
        unnamed = (nowhere - set_aside.keys()) | wanted.missing_manifests
        if unnamed:  # a teammate's data, most likely: name who recorded it, as pull does
            never = remote.inventory.absent(unnamed)
            _note_never_pushed(repo, result, never)
            _note_refused_indexes(remote, never, result)
            if not repair:  # --repair named those its indexes only claim (_held_intact)
                result.lost += _recorded_with_change(repo, result, unnamed - never)
        if repair:
            _quarantine_corrupt(repo, remote, cached, wanted.files, settings, result)
    try:  # the transfer counts what went up, however it stops
        uploaded = transfer.upload(repo.cache, remote, cached, settings, verify_local=repair,
                                   sizes=files)
    except Interrupted as exc:  # counted over the push: its manifests were still to go
        raise interrupted("Uploading", exc.done, _plus(exc.total, _trees_to_go(remote, wanted)),
                          by=exc, unsure=exc.unsure, left=_left_of_push(
                              result, len(cached) - (exc.total or 0) + len(wanted.trees))
                          ) from None
    result.transfer.merge(uploaded)
    files_to_upload = uploaded.transferred + len(uploaded.failed)
    try:
        complete = _manifests_to_push(repo, remote, wanted, targets, settings, repair,
                                      set_aside, result)
    except (KeyboardInterrupt, Interrupted) as exc:  # the files are over: counted with those
        raise _stopped_before_manifests(remote, wanted, files_to_upload, result, exc) from None
    try:
        result.transfer.merge(transfer.upload(repo.cache, remote, complete, settings,
                                              verify_local=repair))
    except Interrupted as exc:  # the files went up before: counted too
        raise interrupted("Uploading", result.transfer.transferred + exc.done,
                          _plus(exc.total, files_to_upload), by=exc, unsure=exc.unsure,
                          left=_left_of_push(result, len(complete) - (exc.total or 0))) from None
    # Repaired only once a verified local copy went up: a corrupt one too is a failure.
    result.repaired = [oid for oid in result.repaired if oid not in result.transfer.failed]
    if result.transfer.already_there:
        _log_push(remote, targets, wanted, complete, result)
    try:
        if remote.packs_enabled():
            packed.consolidate_if_many(remote, settings)
    except KeyboardInterrupt as exc:  # as below, the push is complete: said so
        moved = result.transfer.transferred
        raise interrupted("Uploading", moved, moved + len(result.transfer.failed), by=exc,
                          left="") from None
    except Exception as exc:  # the push itself is complete; merging can wait for the next
        log.warning("Could not merge the remote's pack indexes: %s", exc)


def _manifests_to_push(repo: Repo, remote: RemoteStore, wanted: Wanted, targets: list[Target],
                       settings: transfer.Settings, repair: bool, set_aside: Mapping[str, str],
                       result: SyncResult) -> list[str]:
    """Once the files of a push are uploaded, found there, or failed (and failures are all
    listed): the manifests to upload last, those whose every file is now on the remote, the
    others named as held back."""
    _advise_commit_where_held(repo, targets, result.transfer.failed, set_aside)
    failed = result.transfer.failed
    complete = [oid for oid, tree in wanted.trees.items()
                if not any(o in failed for o in tree.every_oid())]
    for oid in sorted(set(wanted.trees) - set(complete)):
        result.problems.append(f"{wanted.paths.get(oid)}: its manifest was not pushed, because "
                               "some of its files failed")
    result.manifests_held_back |= (set(wanted.trees) - set(complete)) | wanted.missing_manifests
    faults.point("push.before_manifests")
    if repair:
        _quarantine_corrupt(repo, remote, set(complete), {}, settings, result)
    return complete


def _stopped_before_manifests(remote: RemoteStore, wanted: Wanted, files_to_upload: int,
                              result: SyncResult, by: BaseException) -> Interrupted:
    """What a push stopped (`by`) after its files and before its manifests says: as a stop
    in either upload does, a count over the files it was to upload and the manifests the
    remote still lacks (a stop in --repair's check of them included)."""
    to_go = _trees_to_go(remote, wanted)
    return interrupted("Uploading", result.transfer.transferred, files_to_upload + to_go, by=by,
                       left=_left_of_push(result, len(wanted.trees) - to_go))


def _left_of_push(result: SyncResult, also_there: int) -> str:
    """What a push stopped once every object it was uploading went up had still to do
    (`interrupted`'s `left`), which running it again does: the push log naming what the
    remote already had (`also_there` more than `result` counts), which keeps it from a gc
    --remote of another repository (remote/pushlog.py); the report of what it could not
    push. "": nothing."""
    left = []
    there = result.transfer.already_there + also_there
    if there:
        left.append(f"write the push log naming the {wording.counted(there, 'object')} the remote "
                    "already had, which keeps what it names from a `dvx gc --remote` run elsewhere")
    if result.transfer.failed or result.problems:
        left.append("report what it could not push")
    return " and ".join(left)


# What brings back data the cache moved aside as damaged, which the remote lacks too.
_NEW_VERSION = ("`dvx status` shows the changed data, and `dvx commit` records it as a new "
                "version; the recorded version comes back")
SET_ASIDE_WAY_OUT = (f"{_NEW_VERSION} only from a clone whose cache still has it (`dvx push` "
                     "there)")


def fetching_from(others: Sequence[str], from_default: bool) -> str:
    """The fetch, in backquotes, from whichever of `others` (remotes besides the one a push
    goes to, the default first when `from_default`) holds data the push lacks; always with
    -r: a plain `dvx fetch` reads each output's own remote, which may not be that one."""
    if from_default:
        fetch = f"`dvx fetch -r {pasted_args(others[0])}` (the default remote)"
        if len(others) > 1:
            fetch += f" or `dvx fetch -r NAME`, NAME one of {', '.join(others[1:])}"
        return fetch
    if len(others) == 1:
        return f"`dvx fetch -r {pasted_args(others[0])}`"
    return f"`dvx fetch -r NAME`, NAME one of {', '.join(others)}"


def _set_aside_way_out(result: SyncResult) -> str:
    """SET_ASIDE_WAY_OUT for a push to a remote lacking the object, where the repository's
    other remotes (`result.fetch_from`) may hold it: a fetch from one of them brings it back
    before the push runs again."""
    if not result.fetch_from:
        return SET_ASIDE_WAY_OUT
    fetch = fetching_from(result.fetch_from, result.fetch_from_default)
    return (f"{_NEW_VERSION} from another remote that holds it ({fetch}, then `dvx push -r "
            f"{pasted_args(result.remote)}` again), or from a clone whose cache still has it "
            "(`dvx push` there)")


def _set_aside_here(repo: Repo, oids: Collection[str]) -> dict[str, str]:
    """The file of the cache's quarantine/ each of `oids` it moved aside went to (the latest):
    the cache lost it there, as damaged (its bytes no longer hashed to its oid: written
    through a link to it, say), not because whoever committed it never pushed it."""
    aside = {}
    for oid in sorted(oids):
        copies = repo.cache.set_aside_copies(oid)
        if copies:
            aside[oid] = copies[-1]
    return aside


def _set_aside_failure(where: str, way_out: str = SET_ASIDE_WAY_OUT) -> str:
    """Why the push of an object the cache moved aside to `where` fails, with `way_out`."""
    return (f"not on the remote, and the cache here moved it to {where} as damaged (its bytes "
            "no longer hashed to its oid: `dvx fsck`, or a transfer, found it changed after "
            f"it was stored, as by a write through a link to it). {way_out}.")


def _advise_commit_where_held(repo: Repo, targets: list[Target], failed: dict[str, str],
                              set_aside: Mapping[str, str]) -> None:
    """An object the upload found changed and moved aside, or the cache had moved aside
    before (`set_aside`: oid -> where), of a tracked file or of a file in a tracked directory
    whose recorded bytes the workspace still holds (a copy of its own): its failure says that
    `dvx commit PATH` (the file, or the directory) stores them again, not that only a remote
    has them."""
    moved = set(set_aside) | {oid for oid, why in failed.items()
                              if why.startswith(CHANGED_IN_CACHE)}
    if not moved:  # the usual push: no manifest is read again
        return
    advised: set[str] = set()
    for target in targets:
        lost = [oid for oid in _objects_of(repo, target) if oid not in advised
                and oid in moved]
        held = _held_here(repo, target.output) if lost else None
        if held is None:
            continue
        for oid in lost:
            advised.add(oid)
            failed[oid] = _set_aside_failure(set_aside[oid], (
                "The workspace still holds the recorded version unchanged: `dvx commit "
                f"{held}` stores it in the cache again, and `dvx push` then uploads it")) \
                if oid in set_aside else held_in_workspace(failed[oid], held)


def _objects_of(repo: Repo, target: Target) -> list[str]:
    """The file objects `target` needs: its own, or those of its directory's files (within
    its subpath) as the manifest `wanted_objects` read lists them."""
    pointer = target.output.pointer
    if not pointer.is_dir:
        return [pointer.oid]
    try:
        tree = load_tree(repo, pointer, target.output.recorded_in)
    except DvxError:
        return []
    if tree is None:
        return []
    return [entry.oid for entry in tree.entries if _in_scope(entry.path, target.subpath)]


def _trees_to_go(remote: RemoteStore, wanted: Wanted) -> int:
    """How many of the manifests a push was to send after its files no index of the remote
    names yet (from the copies of the indexes read already): a push stopped before them has
    those left to upload, not those a previous push sent. A loose manifest already there is
    counted, as telling it would cost a request each. Asked while a stop is handled: any
    error of the indexes (a library's own, as `transfer.absent_from` finds) counts them all,
    so the stop is what the push ends with."""
    try:
        return len(remote.inventory.absent(wanted.trees))
    except Exception:
        return len(wanted.trees)


def _plus(total: int | None, more: int) -> int | None:
    """The objects a whole command was to move: those of the step it stopped in (`total`;
    None: not known) and `more`, of its other steps."""
    return None if total is None else total + more


def _log_push(remote: ObjectStore, targets: list[Target], wanted: Wanted,
              complete: list[str], result: SyncResult) -> None:
    """Leave a push log naming the data this push put on the remote or found already there,
    so gc --remote in another repository sharing the remote keeps it for its grace period
    (remote/pushlog.py). It names only what the remote holds now: a directory by its manifest
    once that is there, else (pushed in part, or its manifest held back) by its files."""
    failed = result.transfer.failed
    manifests = {oid for oid in complete if oid not in failed}
    files = {t.output.pointer.oid for t in targets if not t.output.pointer.is_dir}
    files |= wanted.parts
    for oid, tree in wanted.trees.items():
        if oid not in manifests:
            files.update(tree.every_oid())
    try:
        pushlog.record(remote, {oid for oid in files if oid not in failed}, manifests)
    except (OSError, RemoteError) as exc:  # RemoteError: the store stopped answering before
        result.problems.append(f"could not write the push log on the remote: {exc}")


def _held_intact(repo: Repo, remote: RemoteStore, oids: set[str], sizes: dict[str, int],
                 settings: transfer.Settings, result: SyncResult) -> set[str]:
    """--repair, for objects the cache lacks: those of `oids` the remote really holds, whole
    (its pack or loose copy is there and hashes right), not only by its indexes' word. The
    rest cannot be repaired from here: failed, and those the indexes name reported lost."""
    held = transfer.confirmed_on(remote, oids, settings)
    corrupt = transfer.verify_on(remote, held, settings, sizes)
    for oid, why in corrupt.items():
        state = "missing" if lost_with_its_pack(why) else "corrupt"
        result.transfer.failed[oid] = (f"not in the local cache, and the remote copy is "
                                       f"{state} ({why})")
    gone = transfer.present_on(remote, oids - held, settings)  # by the indexes' word only
    result.lost += _recorded_with_change(repo, result, gone)
    return held - set(corrupt)


def _quarantine_corrupt(repo: Repo, remote: RemoteStore, oids: Collection[str],
                        sizes: dict[str, int],
                        settings: transfer.Settings, result: SyncResult) -> None:
    """--repair: move corrupt copies on the remote aside, so the upload replaces them."""
    present = transfer.present_on(remote, oids, settings)
    corrupt = transfer.verify_on(remote, present, settings, sizes)
    in_packs = remote.in_packs(corrupt)
    indexed = in_packs | packed.indexed_loose(remote, corrupt)
    for oid, why in sorted(corrupt.items()):
        missing = lost_with_its_pack(why)
        log.warning("The remote copy of %s is %s (%s): %s and uploading the verified "
                    "local copy.", oid, "missing" if missing else "corrupt", why,
                    "taking it out of the pack indexes" if oid in in_packs else
                    "moving it aside")
        if oid not in in_packs:
            with contextlib.suppress(FileNotFoundError):  # an index named a copy now gone
                remote.quarantine(oid)
        result.repaired.append(oid)
        if missing:
            result.repaired_missing.add(oid)
    if indexed:
        packed.retire(remote, settings, indexed)


def fetch(repo: Repo, targets: list[Target], remote_name: str | None = None,
          jobs: int | None = None, earlier: SyncResult | None = None,
          keep_remote_errors: bool = False, discarding: Collection[str] = ()) -> SyncResult:
    """`earlier`: a fetch of this command before this one (`_done_before`). A remote is
    opened only for objects the cache lacks: a fetch of data all cached needs none (no
    remote configured, or one out of reach), and the checkout of a pull then runs. Each
    output's remote is asked only if the cache lacks some of its data. A remote that cannot
    be used, one of several, is kept in `remote_errors` and the others are still used; with
    `keep_remote_errors` so is the only one (else its error is raised). `discarding`: the
    paths a checkout --force places next (`keep_links_on_set_aside`)."""
    targets = pushed(targets)
    # An object found damaged is set aside, and fetched again
    keep_links_on_set_aside(repo, discarding)
    _set_aside_corrupt_manifests(repo, targets)  # a manifest set aside is one to fetch
    # Read before the cache is checked (a gc meanwhile moves it on): the directories found
    # complete are remembered for it. A cache not made yet (None) has none, nor any data.
    generation = repo.cache.generation() if os.path.isdir(repo.cache.root) else None
    needs = {name: _needed(repo, group, name, earlier)
             for name, group in _grouped(repo, targets, remote_name).items()}
    # A remote asked for what the cache lacks is asked for all of its targets: what the
    # cache holds is counted there as already there.
    asked = {name: need for name, need in needs.items() if need.lacks_any}
    if not asked:
        if remote_name is not None:  # a name typed: checked against the config alone
            refuse_unknown_remote(repo.config, remote_name)
        return _fetched_from_cache(repo, list(needs.values()), remote_name, generation)
    if remote_name is None:
        _refuse_outputs_sent_nowhere(repo, [t for need in asked.values() for t in need.targets
                                            if need.lacks_some_of(repo, t)],
                                     set(repo.config.remote_names()))
        _refuse_imports_without_a_remote(repo, asked.get(None))
    if len(asked) > 1 or keep_remote_errors:
        return _over_remotes({name: need.targets for name, need in asked.items()},
                             "fetch from", lambda name, _: _fetch_from(
                                 repo, asked[name], name, jobs, earlier, generation))
    name, need = next(iter(asked.items()))
    return _fetch_from(repo, need, remote_name or name, jobs, earlier, generation)


def _refuse_imports_without_a_remote(repo: Repo, need: _Needed | None) -> None:
    """Where no remote is named nor set as the default, and every target the cache lacks data
    of is an import, the error says how their sources give it (`dvx update`), as where no
    remote has it: no remote is needed for it."""
    if need is None or default_remote(repo.config) is not None:
        return
    lacking = [t for t in need.targets if need.lacks_some_of(repo, t)]
    if not lacking or any(t.output.pointer.source is None for t in lacking):
        return
    raise RemoteError("No remote given and no default remote is set; the data the cache lacks "
                      "is that of imports, which come from their sources, not a remote.",
                      _imports_note_of(repo, lacking))


@dataclass
class _Needed:
    """What the targets one remote gives need, and which of it the cache lacks: checked
    before any remote is opened, one stat per object, which the download then trusts."""
    targets: list[Target]
    wanted: Wanted  # as the cache has it: a directory whose manifest it lacks has no files
    done: set[str]  # fetched or found earlier in this command (`_done_before`): not checked
    lacking: set[str]  # files the cache lacks, or held damaged (moved aside)
    # A directory's manifest the cache lacks, or holds but cannot read: the fetch asks the
    # remote for it, and names it as a problem if it stays so.
    unread_manifest: bool

    @property
    def lacks_any(self) -> bool:
        return bool(self.lacking) or self.unread_manifest

    def held(self) -> set[str]:
        """The objects needed, all in the cache (when nothing is lacking)."""
        manifests = {t.output.pointer.oid for t in self.targets if t.output.pointer.is_dir}
        return (manifests | self.wanted.files.keys()) - self.done

    def lacks_some_of(self, repo: Repo, target: Target) -> bool:
        """Does the cache lack some of the data of `target`, one of `targets`?"""
        pointer = target.output.pointer
        if not pointer.is_dir:
            return pointer.oid in self.lacking
        try:
            tree = load_tree(repo, pointer, target.output.recorded_in)
        except FormatError:
            return True
        return tree is None or any(entry.oid in self.lacking for entry in tree.entries
                                   if _in_scope(entry.path, target.subpath))


def _needed(repo: Repo, targets: list[Target], remote_name: str | None,
            earlier: SyncResult | None) -> _Needed:
    """What `targets`, which the remote `remote_name` gives, need, as the cache holds it.
    Each file's object is stat'ed, even in a directory found complete before (statcache):
    one deleted by hand since is only given back by a remote."""
    problems: list[str] = []  # named by the fetch from the remote, if they stay
    wanted = wanted_objects(repo, targets, problems)
    manifests = [t.output.pointer.oid for t in targets if t.output.pointer.is_dir]
    done = _done_before(earlier, remote_name, [*manifests, *wanted.files])
    files = {oid: size for oid, size in wanted.files.items() if oid not in done} if done \
        else wanted.files
    lacking = set(transfer.check_cached_whole(repo.cache, files))
    return _Needed(targets, wanted, done, lacking, unread_manifest=bool(problems))


def _fetched_from_cache(repo: Repo, needs: list[_Needed], remote_name: str | None,
                        generation: str | None) -> SyncResult:
    """The result of a fetch whose every object the cache held: no remote was asked. It
    names the remote given (-r), if any: not the default, never needed. Directories are
    remembered complete, as a download remembers them, for the checkout that follows."""
    result = SyncResult(remote_name or "", asked=False)
    held: set[str] = set()
    for need in needs:
        held |= need.held()
        if generation is not None:
            _remember_complete_trees(repo, need.wanted, {}, generation)
    repo.statcache.flush()
    result.transfer.already_there = len(held)
    return result


def _fetch_from(repo: Repo, need: _Needed, remote_name: str | None, jobs: int | None,
                earlier: SyncResult | None, generation: str | None) -> SyncResult:
    """Fetch what the cache lacks of `need` from the one remote `remote_name` (None: the
    default); `generation`: the cache's, read before `need` was checked."""
    targets = need.targets
    name, remote = open_remote(repo, remote_name)
    try:
        remote.blobs.prepare(create=False)
    except RemoteError as exc:  # no folder there (never pushed to), say
        exc.hint = " ".join(filter(None, (exc.hint, _imports_note_of(repo, targets))))
        raise
    repo.cache.remove_stale_temporaries()
    result = SyncResult(name)
    settings = settings_for(repo, name, remote, jobs)
    repo.cache.make_folder(repo.cache.root)
    if generation is None:  # a cache made just now, which held nothing as it was checked
        generation = repo.cache.generation()
    # Manifests first: they say which files a directory needs.
    manifests = {t.output.pointer.oid for t in targets if t.output.pointer.is_dir}
    for t in targets:
        result.paths.add(t.output)
    # Refused once, before any object is asked for, rather than as each object failing
    # for the same folder (a merge driver or diff takes what it can and warns instead).
    repo.cache.refuse_unwritable(need.lacking | set(repo.cache.missing(manifests)))
    try:
        result.transfer.merge(transfer.download(
            remote, repo.cache, manifests - _done_before(earlier, name, manifests), settings))
    except Interrupted as exc:  # the files their directories need are still to come
        raise interrupted("Downloading", exc.done, None, by=exc, unsure=exc.unsure) from None
    reachable = [t for t in targets if t.output.pointer.oid not in result.transfer.failed]
    wanted = wanted_objects(repo, reachable, result.problems)
    result.paths.merge(wanted.paths)
    faults.point("fetch.before_files")
    done = _done_before(earlier, name, wanted.files)
    files = {oid: size for oid, size in wanted.files.items() if oid not in done} if done \
        else wanted.files
    # What the cache was found to hold is not looked for again: only what it lacked, and
    # the files of the manifests fetched just now.
    todo = {oid: size for oid, size in files.items()
            if oid in need.lacking or oid not in need.wanted.files}
    # The files of the manifests fetched just now: the others were refused above.
    repo.cache.refuse_unwritable(repo.cache.missing(
        oid for oid in todo if oid not in need.wanted.files))
    try:
        fetched = transfer.download(remote, repo.cache, todo, settings, sizes=todo)
    except Interrupted as exc:  # counted over the fetch: its manifests came before
        got = result.transfer.transferred
        raise interrupted("Downloading", got + exc.done, _plus(exc.total, got), by=exc,
                          unsure=exc.unsure) from None
    result.transfer.merge(fetched)
    result.transfer.already_there += len(files) - len(todo)
    _remember_complete_trees(repo, wanted, result.transfer.failed, generation)
    repo.statcache.flush()  # remembers the manifests validated on the way
    _name_directories(remote, result.transfer.failed)
    missing = {oid for oid, why in result.transfer.failed.items()
               if why == transfer.NOT_ON_REMOTE}
    _refuse_nothing_found(remote, missing)
    # Named by an index: pushed once, and gone since; else perhaps never pushed.
    never = remote.inventory.absent(missing) if missing else set()
    lost = {oid for oid, why in result.transfer.failed.items()  # a pack deleted by hand
            if lost_with_its_pack(why)}
    cut_short = {oid for oid, why in result.transfer.failed.items()
                 if in_a_pack_cut_short(why)}
    result.cut_short = _recorded_with_change(repo, result, cut_short)
    result.damaged = _recorded_with_change(
        repo, result, {oid for oid, why in result.transfer.failed.items() if read_damaged(why)})
    _note_never_pushed(repo, result, never)
    _note_pushed_elsewhere(repo, result, never)
    _note_refused_indexes(remote, never, result)
    result.lost = _recorded_with_change(repo, result, missing - never | lost)
    return result


def _refuse_nothing_found(remote: RemoteStore, missing: Collection[str]) -> None:
    """A remote that cannot tell a wrong URL from an empty folder (a web server), where
    nothing at all was found: no listing of its pack indexes, and not one of the objects
    asked for. A 404 to everything is what a wrong URL gives: not data nobody pushed."""
    if not missing or not remote.blobs.found_nothing():
        return
    count = len(missing)
    raise RemoteError(f"Nothing was found at the URL of the {remote.blobs.shown}: no listing "
                      f"of its pack indexes, and none of the {count} object"
                      f"{'' if count == 1 else 's'} asked for (404 Not Found to every request).",
                      "The URL may be wrong: check it with `dvx remote list`, and fix it with "
                      f"`{remote.modify} url URL`. If it is right, "
                      "nothing was pushed yet to the store it serves.")


def _done_before(earlier: SyncResult | None, remote: str | None, oids: Iterable[str]
                 ) -> set[str]:
    """Those of `oids` a transfer earlier in this command, with the same remote, moved or
    found already there (`earlier`: its result): a run record's outputs are most often the
    data that command just pushed or fetched, and each object is transferred and counted
    once. What failed there, or was held back (a manifest some of whose files failed), is
    tried again, and fails here too, holding back what needs it."""
    if earlier is not None and earlier.parts:  # split over several remotes: that one's
        earlier = next((part for part in earlier.parts if part.remote == remote), None)
    if earlier is None or earlier.remote != remote:
        return set()
    return {oid for oid in earlier.paths.lookup(oids)
            if oid not in earlier.transfer.failed and oid not in earlier.manifests_held_back}


def _set_aside_corrupt_manifests(repo: Repo, targets: list[Target]) -> None:
    """Move aside, as fsck does, each directory manifest in the cache whose bytes no longer
    hash to its oid (damaged on disk, or in a cache a CI job restored): this fetch then
    downloads it again, rather than find it already there and fail on it every time. A
    sound one stays loaded for what follows (`load_tree` keeps it)."""
    for target in targets:
        pointer = target.output.pointer
        if not pointer.is_dir:
            continue
        with contextlib.suppress(FormatError):  # one not moved aside: wanted_objects reports it
            load_tree_setting_aside(repo, pointer, None, "downloading it again.")


def _name_directories(remote: RemoteStore, failed: dict[str, str]) -> None:
    """A download that failed because a directory has the object's name says so, as `dvx fsck
    --remote` does, rather than what reading a directory as a file said."""
    for oid, why in failed.items():
        if why != transfer.NOT_ON_REMOTE and remote.blobs.is_directory(remote.oid_name(oid)):
            failed[oid] = NOT_AN_OBJECT


def _note_refused_indexes(remote: RemoteStore, never: set[str], result: SyncResult) -> None:
    """The indexes refused (as damaged, or as a newer dvx's), when no index named `never`:
    they may name it. Where none was refused, the packs no index names, which may hold it
    (`_unindexed_packs`)."""
    if never:
        newer = remote.inventory.newer
        result.refused_indexes = sorted(set(remote.inventory.refused) - newer)
        result.newer_indexes = sorted(newer)
        if not remote.inventory.refused:
            result.unindexed_packs = _unindexed_packs(remote)


def _unindexed_packs(remote: RemoteStore) -> list[str]:
    """The packs on `remote` that no index names and that are older than gc's grace period
    (`leftovers.YOUNG_PACK_SECONDS`, on this machine's clock; or not dated): a younger one
    may be a push's, uploading now. None where its packs cannot be listed (a web server
    showing no listing): this only tells data never pushed from data that may be in a pack
    whose index is gone, and a remote that fails here fails the next command too."""
    try:
        return remote.unindexed_packs(older_than=time.time() - leftovers.YOUNG_PACK_SECONDS)
    except (OSError, RemoteError):
        return []


SHOWN_NEVER_PUSHED = 3  # `git log` runs once per file named


def _note_never_pushed(repo: Repo, result: SyncResult, never: Collection[str]) -> None:
    """Names a few of the files recording the data `never` the remote has never had, and
    counts the others: advice that named only those few would leave the rest failing."""
    result.never_pushed = _recorded_with_change(repo, result, never)
    result.never_pushed_unnamed = len(_files_recording(result, never)) - len(result.never_pushed)


def _note_pushed_elsewhere(repo: Repo, result: SyncResult, never: Collection[str]) -> None:
    """For a fetch from another remote than the one a plain `dvx push` sends the data
    `never` to (`-r NAME`): that remote, on each file named, where the data may be. No
    teammate is to blame before it is asked."""
    known = set(repo.config.remote_names())
    result.default_remote = default_remote(repo.config)
    outputs = _files_recording(result, never)
    for i, recorded in enumerate(result.never_pushed):
        output = outputs.get((recorded.pointer, recorded.oid))
        if output is None:
            continue
        sent_to = own_remote(output.remote, known) or result.default_remote
        if sent_to is not None and sent_to != result.remote:
            result.never_pushed[i] = replace(recorded, pushed_to=sent_to)


def _files_recording(result: SyncResult, missing: Collection[str]
                     ) -> dict[tuple[str, str], Output]:
    """(file, oid it names) -> its output, for the data `missing`: each pair once, since a
    pointer that names other data in other revisions (fetch -A) was recorded by other
    commits, perhaps other authors."""
    return {(output.record_file, output.pointer.oid): output
            for _, output in result.paths.recorded(missing).values()}


def _recorded_with_change(repo: Repo, result: SyncResult, missing: Collection[str]
                          ) -> list[Recorded]:
    """A few of the files that record the data `missing` on the remote, each with the commit
    that first recorded that data there: its author committed the pointer, and perhaps never
    ran `dvx push`."""
    notes = []
    git = repo.git
    for (record, named), output in sorted(
            _files_recording(result, missing).items())[:SHOWN_NEVER_PUSHED]:
        change = None if git is None else git.first_with(record, named)
        commit, author = change if change is not None else (None, None)
        update, again = _import_advice(repo, output)
        notes.append(Recorded(record, named, commit, author, git is not None, update,
                              _held_here(repo, output), again))
    return notes


def _held_here(repo: Repo, output: Output) -> str | None:
    """The path of `output` (a revision's, perhaps) as a command run here names it, if the
    workspace records the same data there and holds all of it, unchanged, though the cache
    lost it (`rm -rf .dvx/cache` before a push): then no teammate is to blame, and `dvx
    commit PATH` stores it again."""
    try:
        if output.stage is None:
            here: Output | None = load_output(repo, output.record_file)
        else:
            here = next((o for o in pipeline_outputs(repo) if o.path == output.path), None)
        if here is None or here.pointer.oid != output.pointer.oid:
            return None
        held = output_status(repo, here).only_in_workspace
    except (DvxError, OSError):
        return None  # unreadable here: status names why
    return for_command(repo.root, output.path) if held else None


def imports_note(imports: list[tuple[str, UpdateAdvice]],
                 again: Iterable[tuple[str, str | None, ImportAgain]] = ()) -> str:
    """For imports whose data no remote gives, each as (its pointer file as named, how
    `dvx update` gets it): that update fetches it from their sources, which pull never
    reads: as the version each source has now, which is this data only while the source has
    not moved on, and the `dvx import` that brings exactly this data where one is known.
    `again`: those whose data the workspace's pointer does not name (another revision's),
    each as (its pointer file as named, the commit recording that data there if known,
    `import_command`): update would not bring it, a `dvx import` of its source does (or
    none is known to, and why), or, for the workspace's pointer whose source lost its
    commit, update brings another commit's data instead."""
    notes = []
    if imports:
        notes.append(_update_note(imports))
    for named, advice in imports:
        exact = advice.exact
        if advice.may_move and exact is not None and exact.command is not None:
            notes.append(f"`{exact.command}` brings exactly the data {named} names, from the "
                         f"commit it records, to a copy beside it (`dvx remove --outs "
                         f"{exact.copy}` then drops the copy, the cache keeping the data, "
                         "which `dvx checkout` places).")
    for named, commit, how in again:
        if how.update is not None:
            notes.append(f"{named} is an import, but {how.why}: `dvx update {how.update}` "
                         "brings the data of its source's current commit instead, which may be "
                         "another version, and records that one. Only a cache that holds this "
                         "data can give it (`dvx push -A` from there).")
            continue
        when = f" in commit {commit}" if commit else ""
        named_it = (f"{named} is an import that named that data{when}, not the workspace's "
                    "data, which is all `dvx update` brings")
        if how.command is None:
            notes.append(f"{named_it}, and no `dvx import` is known to bring it: {how.why}. "
                         "Only a cache that holds it can give it (`dvx push -A` from there).")
        else:
            notes.append(f"{named_it}: `{how.command}` brings it from its source, to a copy "
                         f"beside it (`dvx remove --outs {how.copy}` then drops the copy, the "
                         "cache keeping the data).")
    return " ".join(notes)


def _update_note(imports: list[tuple[str, UpdateAdvice]]) -> str:
    """What `dvx update` of `imports` (as `imports_note` takes them) fetches."""
    names = ", ".join(named for named, _ in imports)
    command = "dvx update " + " ".join(advice.target for _, advice in imports)
    one = len(imports) == 1
    if not any(advice.may_move for _, advice in imports):
        return (f"{names} is an import: `{command}` fetches its data from its source." if one
                else f"{names} are imports: `{command}` fetches their data from their sources.")
    if one:
        return (f"{names} is an import: `{command}` fetches from its source the version the "
                "source has now, and records that one: this data only while the source has "
                "not moved on since the pointer was written (`dvx status` says whether it has).")
    return (f"{names} are imports: `{command}` fetches from their sources the versions they "
            "have now, and records those: this data only where a source has not moved on "
            "since its pointer was written (`dvx status` says whether each has).")


def _imports_note_of(repo: Repo, targets: list[Target]) -> str:
    """`imports_note` of the imports among `targets` whose data the cache lacks (a few)."""
    missing = sorted({(t.output.record_file, t.output.pointer.oid): t.output for t in targets
                      if t.output.pointer.source is not None
                      and not repo.cache.exists(t.output.pointer.oid)}.items())
    imports, again = [], []
    for (record, _), output in missing[:SHOWN_NEVER_PUSHED]:
        update, import_again = _import_advice(repo, output)
        if update is not None:
            imports.append((record, update))
        elif import_again is not None:
            again.append((record, None, import_again))
    return imports_note(imports, again)


def _import_advice(repo: Repo, output: Output
                   ) -> tuple[UpdateAdvice | None, ImportAgain | None]:
    """For an import's pointer (`output`: the workspace's or a revision's) whose data no
    remote gives: how `dvx update` of it gets that data, when the workspace's pointer file
    names that same data (update brings the workspace's only), unless its source on this
    machine lost the commit it records (`gone_from_source`: then the `ImportAgain` saying
    so); else the `dvx import` that brings that data from its source, or why none is known
    to (`import_command`). (None, None) for other data."""
    if output.stage is not None or output.pointer.source is None:
        return None, None
    try:
        here: Output | None = load_output(repo, output.record_file)
    except DvxError:
        here = None  # gone from the workspace, or unreadable: status and pull name that
    from dvx.ops.imports import ImportAgain, gone_from_source, import_command, pinned

    if here is not None and here.pointer.source is not None \
            and here.pointer.oid == output.pointer.oid:
        target = for_command(repo.root, output.record_file)
        gone = gone_from_source(repo, output)
        if gone:
            return None, ImportAgain(None, why=gone, update=target)
        if pinned(output.pointer.source_info or {}):
            return UpdateAdvice(target, may_move=False), None
        return UpdateAdvice(target, may_move=True, exact=import_command(repo, output)), None
    return None, import_command(repo, output)


def _remember_complete_trees(repo: Repo, wanted: Wanted, failed: dict[str, str],
                             generation: str) -> None:
    """Directories whose files are all in the cache now: the checkout that follows a fetch
    (`pull`) need not look for them again, one stat per file."""
    for oid, tree in wanted.trees.items():
        if oid not in failed and not any(o in failed for o in tree.every_oid()):
            repo.statcache.mark_complete_tree(oid, generation)


def pull(repo: Repo, targets: list[Target], remote_name: str | None = None,
         jobs: int | None = None, force: bool = False,
         also_fetch: list[Target] | None = None,
         settle: DeclaredOutputs | None = None,
         targets_now: Callable[[], list[Target]] | None = None,
         keep_remote_errors: bool = False, named: bool = False) -> SyncResult:
    """Fetch `targets` (and `also_fetch`: other revisions' data), then check out what
    `targets_now` (default: `targets`) finds once the repository lock is held (with `settle`,
    as checkout's); `named`: the user named them, so a `push: false` output among them that
    the cache lacks is noted (`not_pushed`), not passed over as a pull of everything does.
    The pointers may have moved during the fetch (`git checkout` with the
    hooks installed checks out data of its own): the checkout places what they name now,
    never the data of the pointers read before; what those need and was not fetched is
    reported missing. `keep_remote_errors`: as `fetch`'s, so the checkout runs even when the
    only remote asked cannot be used."""
    try:
        result = fetch_for_checkout(repo, targets, remote_name, jobs, also_fetch,
                                    keep_remote_errors, force)
    except Interrupted as exc:
        raise also_left(exc, "check out the data") from None
    checked: list[Target] = []

    def to_check_out() -> list[Target]:
        current = targets_now() if targets_now is not None else targets
        local_only = {t.output.path for t in current if not t.output.push
                      and not repo.cache.exists(t.output.pointer.oid)}  # `push: false`
        checked[:] = [t for t in current if t.output.path not in local_only]
        if named:
            result.not_pushed[:] = sorted(local_only)
        return checked

    result.checkout = checkout(repo, to_check_out, force=force, settle=settle,
                               held_elsewhere=_held_on_remote(repo, remote_name, jobs, result))
    result.not_fetched = _missing_from_unread(result, checked)
    return result


def fetch_for_checkout(repo: Repo, targets: list[Target], remote_name: str | None = None,
                       jobs: int | None = None, also_fetch: list[Target] | None = None,
                       keep_remote_errors: bool = False, force: bool = False) -> SyncResult:
    """Fetch the workspace's `targets` and `also_fetch` (other revisions' data), as `fetch`
    does, and the manifests a later checkout of `targets` needs to tell the user's files from
    those it placed (`_fetch_manifests_held_lately`): what `dvx fetch` and pull fetch.
    `force`: that checkout is forced, and places `targets` again over any edit."""
    discarding = [_target_path(t) for t in targets] if force else []
    result = fetch(repo, [*targets, *(also_fetch or [])], remote_name, jobs,
                   keep_remote_errors=keep_remote_errors, discarding=discarding)
    _fetch_manifests_held_lately(repo, targets, remote_name, jobs, result)
    return result


def _target_path(target: Target) -> str:
    """The repo-relative path `target` names: its output's, or a part of it."""
    path = target.output.path
    return path if target.subpath is None else f"{path}/{target.subpath}"


def _fetch_manifests_held_lately(repo: Repo, targets: list[Target], remote_name: str | None,
                                 jobs: int | None, result: SyncResult) -> None:
    """Bring into the cache the manifests it lacks of the versions of a directory HEAD's
    recent commits recorded (`recorded_lately`) where the workspace has a folder at a
    target's path that no sync record tells whole (`_synced_whole`): they tell which files
    there a checkout may have placed (a version's) and which are the user's own
    (`never_recorded_inside`); without them no file can be told a change made here, and the
    checkout would delete the user's. Manifests only, small, from the remotes the pull reads
    anyway, each opened only when a manifest is lacking, and never one the fetch could not
    use (`result.remote_errors`): a version no remote gives stays unknown, as after gc. A
    remote opened is noted in `result` (`asked_by_checkout`)."""
    lacking: dict[str, Target] = {}
    for target in targets:
        output = target.output
        full = repo.abspath(output.path)
        if not os.path.isdir(full) or os.path.islink(full) or _synced_whole(repo, output):
            continue
        for pointer in recorded_lately(repo, output.path, output.stage is not None):
            if pointer.is_dir and not repo.cache.exists(pointer.oid):
                lacking.setdefault(pointer.oid, Target(replace(output, pointer=pointer)))
    if not lacking:
        return
    failed = {name for name, _ in result.remote_errors}
    for name, group in _grouped(repo, pushed(list(lacking.values())), remote_name).items():
        if name in failed:
            continue
        result.asked_by_checkout = True
        try:
            _fetch_manifests_from(repo, name, group, jobs)
        except Interrupted:
            raise
        except (DvxError, OSError) as exc:
            log.debug("older manifests not fetched from %s: %s", name, exc)


def _synced_whole(repo: Repo, output: Output) -> bool:
    """Was the data at the output's path synced here whole, to any version whose manifest
    the cache holds (the pointer's, or one it moved from since: `git checkout`)? Its sync
    record then tells of every file there whether a checkout placed it (`_placed_by_dvx`),
    so no older version's manifest is needed to tell the user's own files."""
    synced = repo.syncstate.get(output.path)
    return synced is not None and synced.placed is None and repo.cache.exists(synced.oid)


def _held_on_remote(repo: Repo, remote_name: str | None, jobs: int | None,
                    result: SyncResult) -> HeldElsewhere:
    """Which of the oids asked about the remote that gives an output holds (confirmed as gc
    confirms what it deletes from the cache): the workspace files holding those bytes may be
    replaced though the cache lacks them (gc deleted an older version). None when it cannot
    be asked; nothing for a `push: false` output, which no remote holds. A remote asked, or
    tried, is noted in `result` (`asked_by_checkout`)."""
    def held(output: Output, oids: Collection[str]) -> set[str] | None:
        if not output.push:
            return set()
        result.asked_by_checkout = True
        name = next(iter(_grouped(repo, [Target(output)], remote_name)))
        try:
            name, remote = open_remote(repo, name)
            return transfer.confirmed_on(remote, set(oids), settings_for(repo, name, remote, jobs))
        except Interrupted:
            raise
        except (DvxError, OSError) as exc:
            log.warning("Could not ask the remote whether it holds the versions of '%s' the "
                        "cache lacks, which the workspace holds: %s", output.path, exc)
            return None

    return held


def _missing_from_unread(result: SyncResult, checked: list[Target]) -> dict[str, str | None]:
    """Of the paths the checkout of `checked` found missing, those whose output's data was
    to come from a remote the fetch could not use (`SyncResult.unread`), with that remote."""
    if not result.unread or result.checkout is None:
        return {}
    owners = {t.output.path: result.unread[key] for t in checked
              if (key := (t.output.path, t.output.pointer.oid)) in result.unread}
    found = {}
    for path in result.checkout.missing:
        owner = next((o for o in owners if path == o or path.startswith(o + "/")), None)
        if owner is not None:
            found[path] = owners[owner]
    return found


SHOWN_REVISIONS = 10  # of those that need a missing object, in `status --remote --json`


@dataclass
class RemoteStatus:
    remote: str
    missing_on_remote: dict[str, str]  # oid -> workspace path
    missing_in_cache: dict[str, str]
    problems: list[str]
    # Remotes (of those compared) that take no push (HTTP): another remote writes the store
    read_only: list[str] = field(default_factory=list)
    remotes: list[str] = field(default_factory=list)  # compared with (`remote` joins them)
    # Of those missing: the revisions in scope that need each (commits, "index", "workspace")
    revisions: dict[str, list[str]] = field(default_factory=dict)
    # Of those missing on the remote, the ones no remote compared gives the cache either
    # (in `missing_in_cache` too): neither push nor fetch brings them.
    missing_from_both: dict[str, str] = field(default_factory=dict)
    # The configured remotes not compared: one of them may hold what both lack (not asked)
    other_remotes: list[str] = field(default_factory=list)
    # Of `missing_from_both`, those the workspace still holds as its pointer records them
    # (the cache lost them before a push), by oid: the path as a command run here names it,
    # for `dvx commit PATH` to store again before a `dvx push`.
    held_here: dict[str, str] = field(default_factory=dict)
    # Of several remotes to compare (in `remotes`), those that could not be: the lists above
    # are the others' (`compared`).
    remote_errors: RemoteErrors = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.remotes:
            self.remotes = [self.remote]

    @property
    def compared(self) -> list[str]:
        """The remotes compared with: all of `remotes` but those that could not be."""
        failed = {name for name, _ in self.remote_errors}
        return [name for name in self.remotes if name not in failed]

    @property
    def compared_in_sync(self) -> bool:
        """Do the cache and the remotes compared (`compared`) hold all the data?"""
        return not self.missing_on_remote and not self.missing_in_cache and not self.problems

    @property
    def in_sync(self) -> bool:
        return self.compared_in_sync and not self.remote_errors

    def remote_failure(self) -> DvxError | None:
        """The one error to end the command with for the remotes that could not be compared."""
        return remote_failure(self.remote_errors)

    def to_push(self) -> dict[str, str]:
        """What the cache holds and the remote lacks: `dvx push` uploads it."""
        return {oid: path for oid, path in self.missing_on_remote.items()
                if oid not in self.missing_from_both}

    def to_fetch(self) -> dict[str, str]:
        """What a remote compared holds and the cache lacks: `dvx fetch` downloads it."""
        return {oid: path for oid, path in self.missing_in_cache.items()
                if oid not in self.missing_from_both}

    def to_json(self) -> dict[str, object]:
        def rows(found: dict[str, str]) -> list[dict[str, object]]:
            # The first revisions only: a directory's files missing in every one of a
            # thousand commits would otherwise list each commit once per file
            return [{"oid": oid, "path": path,
                     "revisions": self.revisions.get(oid, [])[:SHOWN_REVISIONS],
                     "revisions_total": len(self.revisions.get(oid, []))}
                    for oid, path in sorted(found.items(), key=lambda kv: kv[1])]
        return {"remote": self.remote, "remotes": self.remotes, "in_sync": self.in_sync,
                "missing_on_remote": rows(self.to_push()),
                "missing_in_cache": rows(self.to_fetch()),
                "missing_from_both": rows(self.missing_from_both), "problems": self.problems,
                "remote_errors": remote_errors_json(self.remote_errors)}


def remote_status(repo: Repo, targets: list[Target], remote_name: str | None = None,
                  jobs: int | None = None) -> RemoteStatus:
    """What each remote compared lacks of the data that belongs on it, and the cache of
    that data: the remote `remote_name` for all of it, as `dvx push -r NAME` uploads it;
    without a name, each output's own remote (`remote:`), else the default one, as a plain
    push does. A remote that cannot be compared (its folder gone, its server down) does not
    stop the others: its error is kept (`remote_errors`) beside their comparison, even when
    it is the only one, so the caller can still report what it knows before failing."""
    failed: RemoteErrors = []
    results = [status for _, status in remote_status_by_remote(repo, targets, jobs,
                                                               remote_name, failed=failed)]
    if len(results) == 1 and not failed:
        merged = results[0]
    else:
        names = list(dict.fromkeys([*(r.remote for r in results),
                                    *(name for name, _ in failed if name)]))
        merged = RemoteStatus(", ".join(names), {}, {}, [], remotes=names,
                              remote_errors=failed)
        for result in results:
            merged.missing_on_remote.update(result.missing_on_remote)
            merged.missing_in_cache.update(result.missing_in_cache)
            merged.missing_from_both.update(result.missing_from_both)
            merged.problems += result.problems
            merged.read_only += result.read_only
            merged.revisions.update(result.revisions)
        # One remote's output lacks what another's gives (the same bytes): a fetch brings it
        for oid in {oid for r in results for oid in r.to_fetch()}:
            merged.missing_from_both.pop(oid, None)
    merged.other_remotes = [name for name in repo.config.remote_names()
                            if name not in merged.remotes]
    merged.held_here = held_by_workspace(repo, targets, merged.missing_from_both)
    return merged


def held_by_workspace(repo: Repo, targets: list[Target], missing: Mapping[str, str]
                      ) -> dict[str, str]:
    """Of the `missing` oids, those of an output the workspace holds whole and unchanged
    (see `_held_here`), by oid: the output's path as a command run here names it."""
    found: dict[str, str] = {}
    asked: set[tuple[str, str]] = set()
    for target in targets:
        output = target.output
        if not missing.keys() - found.keys() or (output.path, output.pointer.oid) in asked:
            continue
        asked.add((output.path, output.pointer.oid))
        oids = {output.pointer.oid} & missing.keys()
        if output.pointer.is_dir:
            try:
                tree = load_tree(repo, output.pointer, output.recorded_in)
            except (DvxError, OSError):
                tree = None  # unreadable here: status names why
            oids |= set(tree.oids()) & missing.keys() if tree is not None else set()
        held = _held_here(repo, output) if oids else None
        if held is not None:
            found.update(dict.fromkeys(oids, held))
    return found


def remote_status_by_remote(repo: Repo, targets: list[Target], jobs: int | None = None,
                            remote_name: str | None = None, gone_is_empty: bool = False,
                            failed: RemoteErrors | None = None
                            ) -> list[tuple[list[Target], RemoteStatus]]:
    """`remote_status` of each remote `dvx fetch` (with `-r remote_name`, or without) asks,
    with the targets asked of it, in the order the fetch asks them: what one remote lacks,
    another may hold for an output with the same bytes. A remote whose folder is gone is
    an error, unless `gone_is_empty` (as a pull of several remotes goes on without it).
    A remote that cannot be compared is that error (naming the remote, if one of several);
    with `failed`, the error is added there instead, and the others are still compared."""
    groups = belonging_on(repo, targets, remote_name)
    found = []
    for name, group in groups.items():
        if failed and name in {n for n, _ in failed}:
            continue  # already found unreadable by this command: not asked again
        try:
            found.append((group, _status_on(repo, group, name, jobs, gone_is_empty)))
        except Interrupted:
            raise
        except (DvxError, OSError) as exc:
            _keep_remote_error(name, "compare with", exc, len(groups) > 1, failed)
    return found


def _keep_remote_error(name: str | None, doing: str, exc: DvxError | OSError, several: bool,
                       failed: RemoteErrors | None) -> None:
    """Add to `failed` the error `exc` of the remote `name` (`doing` something with it),
    naming the remote where it is one of `several`, or raise it without `failed`. Raised
    as it is: the only remote's, without `failed`, or with no remote named at all (none
    configured: no remote to report on)."""
    if not several and (failed is None or name is None):
        raise exc
    # The only remote's own error names it already, unless the filesystem's
    named = exc if not several and isinstance(exc, DvxError) else \
        _naming_remote(name, doing, exc)
    if failed is None:
        raise named from None
    failed.append((name, named))


def fetch_manifests(repo: Repo, targets: list[Target], jobs: int | None = None,
                    failed: RemoteErrors | None = None) -> None:
    """Bring into the cache, from the remote each is fetched from, the manifests of the
    directories of `targets` the cache lacks, and nothing else: small, they say which files
    each directory holds (for a plan made before anything is fetched: `repro --dry --pull`).
    One no remote holds stays missing. A remote that cannot be read is that error; with
    `failed`, the error is added there instead, and the other remotes are still read."""
    lacking = [t for t in targets
               if t.output.pointer.is_dir and not repo.cache.exists(t.output.pointer.oid)]
    groups = belonging_on(repo, lacking, None) if lacking else {}
    for name, group in groups.items():
        try:
            _fetch_manifests_from(repo, name, group, jobs)
        except Interrupted:
            raise
        except (DvxError, OSError) as exc:
            _keep_remote_error(name, "fetch from", exc, len(groups) > 1, failed)


def _fetch_manifests_from(repo: Repo, name: str | None, targets: list[Target],
                          jobs: int | None) -> None:
    """Bring the manifests of `targets` the remote `name` holds into the cache."""
    opened, remote = open_remote(repo, name)
    _fetch_manifests(repo, remote, targets, settings_for(repo, opened, remote, jobs))


def _status_on(repo: Repo, targets: list[Target], remote_name: str | None,
               jobs: int | None, gone_is_empty: bool = False) -> RemoteStatus:
    name, remote = open_remote(repo, remote_name)
    if gone_is_empty:
        remote.blobs.check_reachable()  # a server that does not answer is no empty remote
    else:  # nor, as for fetch, a folder gone (a typo, a remote retired): all never pushed
        remote.blobs.prepare(create=False)
    problems: list[str] = []
    wanted = wanted_objects(repo, targets, problems)
    everything = wanted.files  # a dict: its keys are the set of oids, with no copy of them
    everything.update(dict.fromkeys(wanted.trees, 0))
    # A directory whose manifest is not cached yet: ask the remote about the manifest itself.
    for target in targets:
        pointer = target.output.pointer
        if pointer.is_dir and not repo.cache.exists(pointer.oid):
            everything[pointer.oid] = 0
            wanted.paths.add(target.output)
    settings = settings_for(repo, name, remote, jobs)
    not_on_remote = transfer.absent_from(remote, everything, settings)
    _refuse_nothing_found(remote, not_on_remote)
    not_in_cache = set(repo.cache.missing(everything))
    problems = [p for p in problems if "manifest is not in the cache" not in p]
    return RemoteStatus(name, _named(wanted.paths, not_on_remote),
                        _named(wanted.paths, not_in_cache), problems,
                        [name] if remote.read_only else [],
                        revisions=_needed_in(targets, wanted.paths,
                                             not_on_remote | not_in_cache),
                        missing_from_both=_named(wanted.paths, not_on_remote & not_in_cache))


def _needed_in(targets: list[Target], paths: PathsOf, oids: set[str]) -> dict[str, list[str]]:
    """The revisions (commits, "index", "workspace") in which the output each of `oids` is
    named by (its path in the messages) needs it, so that versions of one path can be told
    apart: one pass over the manifests, and only for what is missing."""
    named = {oid: output.path for oid, (_, output) in paths.recorded(oids).items()}
    manifests = paths.manifests() if oids else {}
    found: dict[str, dict[str, None]] = {}
    for target in targets if oids else []:
        pointer = target.output.pointer
        needs = {pointer.oid} & oids
        tree = manifests.get(pointer.oid) if pointer.is_dir else None
        if tree is not None:
            needs.update(oid for index, oid in enumerate(tree.oids())
                         if oid in oids and _in_scope(tree.paths[index], target.subpath))
        for oid in needs:
            if named.get(oid) == target.output.path:
                found.setdefault(oid, {}).update(
                    dict.fromkeys(target.revisions or ("workspace",)))
    return {oid: list(names) for oid, names in found.items()}


def _named(paths: PathsOf, oids: set[str]) -> dict[str, str]:
    found = paths.lookup(oids)
    return {oid: found.get(oid, "?") for oid in oids}
