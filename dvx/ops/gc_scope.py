"""What a gc scope uses: every object its pointers, dvx.lock entries and directory
manifests name, and in the workspace, what links in data tracked no more still lead to. If
any of it cannot be read, gc deletes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx.errors import DvxError
from dvx.history import Scope, found_in, revision_labels, scope_targets
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.left_behind import objects_linked_from_untracked_data
from dvx.outputs import Target
from dvx.paths import for_command
from dvx.pointer import Pointer
from dvx.repo import Repo


@dataclass
class Reachable:
    oids: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def reachable(repo: Repo, scope: Scope, remote: ObjectStore | None) -> Reachable:
    """The objects `scope` uses: the workspace's, the index's (both sides of a conflict) and
    those of every commit in scope; what cannot be read is a problem. The workspace's include
    those that links in its data left behind (tracked no more) lead to."""
    reach = Reachable()
    targets, broken = scope_targets(repo, scope, strict=True)
    reach.problems += [f"{item.path}: {item.error}" for item in broken]
    unfetched: list[Target] = []
    for target in targets:
        output = target.output
        pointer = output.pointer
        if pointer.algo != repo.algo:
            continue  # stored under another algorithm's directory: out of this gc's reach
        reach.oids.add(pointer.oid)
        if pointer.is_dir and remote is None and not repo.cache.exists(pointer.oid):
            unfetched.append(target)
        elif pointer.is_dir:
            tree = manifest(repo, pointer, remote, output.path, reach.problems)
            if tree is not None:
                reach.oids.update(tree.oids())
    reach.problems += _not_fetched(repo, unfetched)
    if scope.workspace:
        reach.oids |= objects_linked_from_untracked_data(repo)
    return reach


def manifest(repo: Repo, pointer: Pointer, remote: ObjectStore | None, where: str,
             problems: list[str]) -> Tree | None:
    """The directory manifest `pointer` names, from the cache or else `remote`; None (and a
    problem) if neither has it or it cannot be read."""
    try:
        if repo.cache.exists(pointer.oid):
            data = repo.cache.read_bytes(pointer.oid)
        elif remote is not None and remote.exists(pointer.oid):
            data = remote.read_bytes(pointer.oid)
        else:
            held_by = "the cache" if remote is None else "neither the cache nor the remote"
            problems.append(f"{where}: its directory manifest {pointer.oid} is in {held_by}, "
                            "so what it needs is unknown")
            return None
        return Tree.from_bytes(data, pointer.algo, pointer.oid)
    except (DvxError, OSError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def _not_fetched(repo: Repo, targets: list[Target]) -> list[str]:
    """A problem for each directory whose manifest the cache lacks, naming the revisions
    that record it and a command that brings it from that revision. gc of the cache stays
    local (it runs offline, with no remote's credentials), so whether a remote has the
    manifest is not known: the advice covers both cases."""
    labels = revision_labels(repo, {name for t in targets for name in t.revisions})
    problems = []
    for target in targets:
        path, oid = target.output.path, target.output.pointer.oid
        # The index's pointer is at the workspace's path: a plain fetch of it (which says what
        # a sparse checkout leaving it out needs)
        commit = next((name for name in target.revisions if name != "index"), None)
        rev = f" --rev {commit[:10]}" if commit else ""
        named, where = for_command(repo.root, path), found_in(labels, target.revisions)
        problems.append(
            f"{path}{where}: its directory manifest {oid} is not in the cache, so what it "
            f"needs is unknown (this gc asks no remote: `dvx fetch{rev} {named}` brings it "
            "from the remote if it is there, else only a clone whose cache has it can upload "
            f"it, with `dvx push{rev} {named}`)")
    return problems


def as_clause(problem: str) -> str:
    """A problem as a clause to list in a sentence: an error's own text may end its sentence."""
    return problem.rstrip().rstrip(".")


def refuse_if_unreadable(reach: Reachable) -> None:
    if reach.problems:
        shown = "; ".join(as_clause(problem) for problem in reach.problems[:5])
        more = f" (and {len(reach.problems) - 5} more)" if len(reach.problems) > 5 else ""
        raise DvxError(f"Nothing was deleted: part of the scope could not be read: {shown}{more}.",
                       "Fix or fetch what is listed (a `dvx fetch` with the same -a/-T/-A/--rev "
                       "options fetches every manifest of those commits that the remote holds, "
                       "and their data), or narrow the scope, and run gc again.")
