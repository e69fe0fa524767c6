"""What a gc scope uses: every object its pointers, dvx.lock entries and directory
manifests name, and in the workspace, what the symbolic links into the cache lead to (in
data tracked no more, and in tracked data that is not what its pointer names). If any of it
cannot be read, gc deletes nothing.

The cache also keeps the manifests of the directory versions the workspace was synced to
(its sync record, dvx/syncstate.py), though no pointer names them any more once `git pull`
moved a pointer: status and commit compare the workspace with them, file by file, to tell a
teammate's change from one made here (ops/sync_layers.py). They are small, and the files
they list are not kept for them; a remote keeps none of them for that, as it must not hold a
manifest without its files."""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field

from dvx.errors import CorruptManifestError, DvxError, FormatError, NewerFormatError
from dvx.history import (
    Scope,
    found_in,
    go_on_without_committed_damage,
    revision_labels,
    scope_targets,
)
from dvx.lock import stopped_commands
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.left_behind import objects_linked_from_untracked_data
from dvx.ops.sync_layers import begins_as_manifest
from dvx.outputs import Output, Target
from dvx.paths import for_command
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.workspace import cache_objects_in


@dataclass
class Reachable:
    oids: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    # Manifests as committed that dvx refuses (a path with '..'): a fetch brings the same
    refused: list[str] = field(default_factory=list)
    # Kept in the cache only: the manifests of what the workspace was synced to
    synced_manifests: set[str] = field(default_factory=set)
    # oid -> the sizes pointers and manifests give it, of the objects asked about
    sizes: dict[str, set[int]] = field(default_factory=dict)


def reachable(repo: Repo, scope: Scope, remote: ObjectStore | None,
              sizes_of: Collection[str] | None = None) -> Reachable:
    """The objects `scope` uses: the workspace's, the index's (both sides of a conflict) and
    those of every commit in scope; what cannot be read is a problem. The workspace's include
    those that links in its data lead to, tracked or left behind (tracked no more). With
    `sizes_of`, the sizes that pointers and manifests give those objects too."""
    reach = Reachable()
    targets, broken = scope_targets(repo, scope, strict=True)
    reach.problems += [f"{item.path}: {item.error}"
                       for item in go_on_without_committed_damage(broken)]
    unfetched: list[Target] = []
    corrupt: list[tuple[Target, CorruptManifestError]] = []
    for target in targets:
        output = target.output
        pointer = output.pointer
        if pointer.algo != repo.algo:
            continue  # stored under another algorithm's directory: out of this gc's reach
        reach.oids.add(pointer.oid)
        if sizes_of is not None and not pointer.is_dir and pointer.oid in sizes_of:
            reach.sizes.setdefault(pointer.oid, set()).add(pointer.size)
        if pointer.is_dir and remote is None and not repo.cache.exists(pointer.oid):
            unfetched.append(target)
        elif pointer.is_dir:
            try:
                tree = manifest(repo, pointer, remote, output.path, reach.problems,
                                raise_corrupt_in_cache=True, refused=reach.refused)
            except CorruptManifestError as exc:
                corrupt.append((target, exc))
                continue
            if tree is not None:
                reach.oids.update(tree.every_oid())
                if sizes_of is not None:
                    for oid, size in tree.every_object():
                        if oid in sizes_of:
                            reach.sizes.setdefault(oid, set()).add(size)
    reach.problems += _not_fetched(repo, unfetched)
    reach.problems += _corrupt_in_cache(repo, corrupt)
    if scope.workspace:
        reach.synced_manifests = synced_manifests(
            repo, [t.output.path for t in targets if not t.revisions])
        reach.oids |= objects_linked_from_untracked_data(repo)
        trust_records = not stopped_commands(repo.tmp_dir)
        for target in targets:
            if not target.revisions:  # the workspace's own
                reach.oids |= _linked_beside_pointer(repo, target.output, reach.problems,
                                                     trust_records)
    return reach


def synced_manifests(repo: Repo, tracked: list[str]) -> set[str]:
    """The manifests in the cache of every directory version the sync record says the
    workspace was synced to (each layer of a directory placed in part over older versions),
    for the `tracked` paths (the workspace's outputs: a path tracked no more is compared
    with none). A record of a file names its data, never kept for that: one written before
    records kept a file's executable bit looks like a directory's, and is told apart by its
    first bytes."""
    found = set()
    for path in tracked:
        record = repo.syncstate.get(path)
        for layer in record.layers() if record is not None else ():
            if layer.executable is None and layer.oid not in found \
                    and begins_as_manifest(repo, layer.oid):
                found.add(layer.oid)
    return found


def _linked_beside_pointer(repo: Repo, output: Output, problems: list[str],
                           trust_records: bool = True) -> set[str]:
    """The objects that symbolic links in the tracked data of `output` lead to when that
    data is not what its pointer (or dvx.lock entry) names: a `dvx add` whose pointer Git
    put back (`git restore`, `git reset --hard`, `git stash`) leaves the workspace linked to
    objects in no commit, and a `git pull` that no `dvx checkout` followed leaves it linked
    to the older version's. gc keeps them: those links would dangle, and data in no commit
    would be lost. A directory whose sync record says it was synced whole to its pointer's
    version is not walked (its links lead to what that manifest lists), if the records are
    to be trusted (`trust_records`): not while a command stopped half-way may have placed
    links no record names yet (a repro killed once it restored outputs from the run-cache,
    before dvx.lock records them). Anything else is walked, and a file costs one lstat."""
    synced = repo.syncstate.get(output.path)
    pointer = output.pointer
    if trust_records and pointer.is_dir and synced is not None and synced.oid == pointer.oid \
            and synced.placed is None and synced.base is None:
        return set()
    if not os.path.lexists(repo.abspath(output.path)):
        return set()
    try:
        return {oid for _, oid in cache_objects_in(repo, output.path)}
    except (DvxError, OSError) as exc:
        problems.append(f"{output.path}: what its links into the cache lead to cannot be read "
                        f"({as_clause(str(exc))})")
        return set()


def manifest(repo: Repo, pointer: Pointer, remote: ObjectStore | None, where: str,
             problems: list[str], raise_corrupt_in_cache: bool = False,
             refused: list[str] | None = None) -> Tree | None:
    """The directory manifest `pointer` names, from the cache or else `remote`; None (and a
    problem) if neither has it or it cannot be read. With `raise_corrupt_in_cache`, the
    CorruptManifestError of a damaged copy in the cache is raised, for the caller to say
    which fetch brings a good one. With `refused`, a manifest whose bytes are its own but
    break the format's rules is named there instead, as no fetch brings another."""
    in_cache = repo.cache.exists(pointer.oid)
    try:
        if in_cache:
            data = repo.cache.read_bytes(pointer.oid)
        elif remote is not None and remote.exists(pointer.oid):
            data = remote.read_bytes(pointer.oid)
        else:
            held_by = "the cache" if remote is None else "neither the cache nor the remote"
            problems.append(f"{where}: its directory manifest {pointer.oid} is in {held_by}, "
                            "so what it needs is unknown")
            return None
        return Tree.from_bytes(data, pointer.algo, pointer.oid)
    except CorruptManifestError as exc:
        if in_cache and raise_corrupt_in_cache:
            raise
        problems.append(f"{where}: {exc}")
        return None
    except NewerFormatError as exc:
        problems.append(f"{where}: {exc}")
        return None
    except FormatError as exc:
        (problems if refused is None else refused).append(f"{where}: {exc}")
        return None
    except (DvxError, OSError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def _not_fetched(repo: Repo, targets: list[Target]) -> list[str]:
    """A problem for each directory whose manifest the cache lacks, naming the revisions
    that record it and a command that brings it from that revision. gc of the cache stays
    local (it runs offline, with no remote's credentials), so whether a remote has the
    manifest is not known: the advice covers both cases."""
    return [f"{shown}: its directory manifest {target.output.pointer.oid} is not in the cache, "
            "so what it needs is unknown (this gc asks no remote: `dvx fetch "
            f"{args}` brings it from the remote if it is there, else only a clone whose cache "
            f"has it can upload it, with `dvx push {args}`)"
            for target, (shown, args) in zip(targets, _as_found(repo, targets), strict=True)]


def _corrupt_in_cache(repo: Repo, corrupt: list[tuple[Target, CorruptManifestError]]
                      ) -> list[str]:
    """A problem for each directory whose manifest in the cache is damaged, naming the
    revisions that record it and the fetch of one of them that downloads it again (a plain
    `dvx fetch` reads the workspace's pointers only)."""
    targets = [target for target, _ in corrupt]
    return [f"{shown}: {as_clause(exc.message)} (`dvx fetch {args}` downloads it again)"
            for (_, exc), (shown, args) in zip(corrupt, _as_found(repo, targets), strict=True)]


def _as_found(repo: Repo, targets: list[Target]) -> list[tuple[str, str]]:
    """For each of `targets`: how a message names it (its path and the revisions recording
    it), and the arguments by which a fetch or push takes it from one of those revisions
    (`--rev 1a2b3c4d5e imgs`; the path alone for the workspace's or the index's, which is at
    the workspace's path and which a plain fetch of it reads, a sparse checkout or not)."""
    labels = revision_labels(repo, {name for t in targets for name in t.revisions})
    found = []
    for target in targets:
        path = target.output.path
        commit = next((name for name in target.revisions if name != "index"), None)
        rev = f"--rev {commit[:10]} " if commit else ""
        found.append((f"{path}{found_in(labels, target.revisions)}",
                      f"{rev}{for_command(repo.root, path)}"))
    return found


def as_clause(problem: str) -> str:
    """A problem as a clause to list in a sentence: an error's own text may end its sentence."""
    return problem.rstrip().rstrip(".")


def refuse_if_unreadable(reach: Reachable) -> None:
    """Stop gc, deleting nothing, if any of the scope could not be read: the hint says what
    brings each kind back (a fetch, or for a manifest dvx refuses, a file restored in Git)."""
    listed = reach.problems + reach.refused
    if not listed:
        return
    shown = "; ".join(as_clause(problem) for problem in listed[:5])
    more = f" (and {len(listed) - 5} more)" if len(listed) > 5 else ""
    fixes = []
    if reach.problems:
        fixes.append("Fix or fetch what is listed (a `dvx fetch` with the same -a/-T/-A/--rev "
                     "options fetches every manifest of those commits that the remote holds, "
                     "and their data)")
    if reach.refused:
        fixes.append(f"{'Restore' if not fixes else 'restore'} from an earlier commit the "
                     "pointer file (or dvx.lock) naming a manifest dvx refuses: fetching it "
                     "again brings the same one")
    raise DvxError(f"Nothing was deleted: part of the scope could not be read: {shown}{more}.",
                   f"{'; '.join(fixes)}; or narrow the scope, and run gc again.")
