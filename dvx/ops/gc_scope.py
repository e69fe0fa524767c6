"""What a gc scope uses: every object its pointers, dvx.lock entries and directory
manifests name, and in the workspace, what links in data tracked no more still lead to. If
any of it cannot be read, gc deletes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx.errors import DvxError
from dvx.history import Scope, scope_targets
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.left_behind import objects_linked_from_untracked_data
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
    for target in targets:
        output = target.output
        pointer = output.pointer
        if pointer.algo != repo.algo:
            continue  # stored under another algorithm's directory: out of this gc's reach
        reach.oids.add(pointer.oid)
        if pointer.is_dir:
            tree = manifest(repo, pointer, remote, output.path, reach.problems)
            if tree is not None:
                reach.oids.update(tree.oids())
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
        elif remote is not None:
            problems.append(f"{where}: its directory manifest {pointer.oid} is in neither the "
                            "cache nor the remote, so what it needs is unknown")
            return None
        else:
            problems.append(f"{where}: its directory manifest {pointer.oid} is not in the "
                            "cache, so what it needs is unknown (`dvx fetch` of that path "
                            "brings it; this gc asks no remote)")
            return None
        return Tree.from_bytes(data, pointer.algo, pointer.oid)
    except (DvxError, OSError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def as_clause(problem: str) -> str:
    """A problem as a clause to list in a sentence: an error's own text may end its sentence."""
    return problem.rstrip().rstrip(".")


def refuse_if_unreadable(reach: Reachable) -> None:
    if reach.problems:
        shown = "; ".join(as_clause(problem) for problem in reach.problems[:5])
        more = f" (and {len(reach.problems) - 5} more)" if len(reach.problems) > 5 else ""
        raise DvxError(f"Nothing was deleted: part of the scope could not be read: {shown}{more}.",
                       "Fix or fetch what is listed, or narrow the scope, and run gc again.")
