"""The merge driver for pointer files and dvx.lock (`dvx install` registers it with Git).

Git calls it when both sides of a merge changed one of these files. Three versions (the
common ancestor, ours, theirs) are merged by meaning, not by line:

- a pointer: field by field: the data from the side that changed it, `desc` and `meta` from
  the side that changed them;
- a directory whose data both sides changed: the manifests are merged entry by entry (one
  side changed `f1`, the other added `f6`: both are kept), the merged manifest is stored in
  the cache (manifests it lacks come from the default remote first), and the pointer names it;
  an import is a whole: where the sides name different sources (another revision, URL or
  version), its pointer is one side's, never entries of two source revisions mixed;
- dvx.lock: stage by stage, so two branches that each reran a different stage merge cleanly;
- .gitignore: as a set of lines: what either side added is kept, what either side removed
  goes (dvx writes one line per tracked path, so two branches that each track a file in one
  directory merge cleanly). Where a version has a negated pattern (`!...`), whose meaning
  depends on the order of lines, Git's own line merge is used instead (`LineMerge`);
- anything changed on both sides in different ways (a file's data, the same entry of a
  directory, an import's source, `desc` or `meta`, the same stage, a folder on one side and
  a file on the other) stays a conflict: the
  file gets Git's conflict markers, and every dvx command that needs it says how to
  resolve it. Where the sides also changed other things (other entries of a directory,
  `desc` on one side and the data on the other), the two versions between the markers are
  the pointer merged with our and with their version of what both changed, so keeping
  either keeps every other change of both sides.

In a criss-cross merge (two merge bases) Git first merges the bases, with this driver, into a
virtual base, which is left with conflict markers where they conflict. The two versions in it
are then both the base: a side that holds either one's version of a thing did not change it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from dvx.errors import DvxError
from dvx.ignore import encode_git_lines, git_lines
from dvx.lockfile import StageLock, encode_lock, parse_lock
from dvx.objects.tree import Tree, TreeEntry
from dvx.outputs import load_tree
from dvx.paths import POINTER_SUFFIX
from dvx.pointer import SIDE_LABELS, Pointer, data_path_of, parse_pointer
from dvx.repo import Repo
from dvx.wording import counted
from dvx.yamlio import has_conflict_markers

K = TypeVar("K")
V = TypeVar("V")


class Conflict(DvxError):
    """Both sides changed the same thing differently: Git must be told it is a conflict."""


class MergedVersions(Conflict):
    """A pointer both sides changed in the same thing (an entry of a directory, the data of a
    file, `desc` or `meta`), and in other things too: the conflict's two versions are the
    pointer merged with our version of what both changed, and with theirs, so each keeps
    every change that did not conflict."""

    def __init__(self, message: str, ours: bytes, theirs: bytes) -> None:
        super().__init__(message)
        self.ours, self.theirs = ours, theirs


class LineMerge(DvxError):
    """Not for dvx to merge: Git's own line-by-line merge (`git merge-file`) does it."""


@dataclass(frozen=True)
class Merged:
    data: bytes
    how: str  # a line for the user: what was merged


# How a message names the two sides of a merge; a rebase replays your commit onto the upstream,
# which is then Git's ours.
SIDE_NAMES = ("this side", "the other side")
REBASE_SIDE_NAMES = ("the upstream", "your commit")


def merge_file(repo: Repo, path: str, base: bytes, ours: bytes, theirs: bytes,
               names: tuple[str, str] = SIDE_NAMES) -> Merged:
    """The merged content of the pointer file or dvx.lock at `path` (from the top of the
    work tree, as Git names it); raises Conflict, naming the sides `names`."""
    if ours == theirs or base == theirs:
        return Merged(ours, f"unchanged by {names[1]}")
    if base == ours:
        return Merged(theirs, f"taken from {names[1]}")
    if path.rpartition("/")[2] == "dvx.lock":
        return _merge_lock(repo, base, ours, theirs, names)
    if path.rpartition("/")[2] == ".gitignore":
        return _merge_ignore_lines(base, ours, theirs)
    return _merge_pointer(repo, path, base, ours, theirs, names)


def three_way(base: Mapping[K, V], ours: Mapping[K, V], theirs: Mapping[K, V],
              what: Callable[[K], str], prefer: Mapping[K, V] | None = None,
              other_base: Mapping[K, V] | None = None,
              names: tuple[str, str] = SIDE_NAMES) -> dict[K, V]:
    """Each key merged by itself: a side that did not change it takes the other's version;
    both changed it the same way, that; both changed it differently (or one removed it and
    the other changed it), a Conflict naming the keys that did and how, the sides named
    `names` (or, given, the version in `prefer`: one of the two sides). With `other_base`
    (a criss-cross merge's second base), a side holding either base's version did not
    change it; each side holding another base's version is a conflict."""
    merged: dict[K, V] = {}
    conflicts: list[tuple[str, int | None]] = []  # (what, the side that removed it, if one)
    for key in sorted({*base, *ours, *theirs, *(other_base or ())}, key=str):
        o, t = ours.get(key), theirs.get(key)
        b = (base.get(key),) if other_base is None else (base.get(key), other_base.get(key))
        if o == t or (t in b and o not in b):
            chosen = o
        elif o in b and t not in b:
            chosen = t
        elif prefer is not None:
            chosen = prefer.get(key)
        else:
            conflicts.append((what(key), 0 if o is None else 1 if t is None else None))
            continue
        if chosen is not None:
            merged[key] = chosen
    if conflicts:
        raise Conflict(_how_both_sides_changed(conflicts, names))
    return merged


NAMED_CONFLICTS = 10  # of the things changed on both sides, those a message names


def _how_both_sides_changed(conflicts: list[tuple[str, int | None]],
                            names: tuple[str, str]) -> str:
    """The things both sides changed, grouped by how: changed by both, or removed by one
    side (named as `names` names it) and changed by the other."""
    parts = [_named_as_changed([thing for thing, removed_by in conflicts if removed_by is None],
                               "changed on both sides")]
    for side in (0, 1):
        how = f"removed by {names[side]} and changed by {names[1 - side]}"
        parts.append(_named_as_changed(
            [thing for thing, removed_by in conflicts if removed_by == side], how))
    return "; ".join(part for part in parts if part)


def _named_as_changed(things: list[str], how: str) -> str:
    if not things:
        return ""
    named = ", ".join(things[:NAMED_CONFLICTS])
    if len(things) == 1:
        return f"{named} was {how}"
    more = len(things) - NAMED_CONFLICTS
    return f"{named}{f' and {more} more' if more > 0 else ''} were {how}"


def _merge_lock(repo: Repo, base: bytes, ours: bytes, theirs: bytes,
                names: tuple[str, str]) -> Merged:
    b, *other, o, t = (parse_lock(data, repo.algo) if data.strip() else {} for data in
                       (*_base_versions(base), ours, theirs))
    stages: dict[str, StageLock] = three_way(b, o, t, what=lambda s: f"stage '{s}'",
                                             other_base=other[0] if other else None,
                                             names=names)
    return Merged(encode_lock(stages, repo.algo), "stages merged one by one")


def _base_versions(base: bytes) -> list[bytes]:
    """The merge base, or in a criss-cross merge whose merge bases conflict (Git merged them
    with this driver into a virtual base with conflict markers) the two versions in it."""
    if not base.startswith(b"<<<<<<< "):
        return [base]
    first, _, rest = base.partition(b"\n")[2].partition(b"\n=======\n")
    second, end, after = rest.rpartition(b"\n>>>>>>> ")
    if not end or b"\n" in after.rstrip(b"\n") or has_conflict_markers(first + second):
        raise Conflict("the branches have more than one merge base (a criss-cross merge), "
                       "and those conflict in more than one way here, so there is no one "
                       "version to compare the sides with. Edit the file to keep what both "
                       "sides need (each version between the markers is one side's), or "
                       "merge one of the merge bases first (`git merge-base --all HEAD "
                       "OTHER` lists them)")
    return [first + b"\n", second + b"\n"]


@dataclass(frozen=True)
class Sides:
    ours: bytes
    theirs: bytes
    # Why a side's version was taken out of conflict markers it came in, or None
    left_out: str | None = None


def without_a_paired_path(path: str, base: bytes, ours: bytes, theirs: bytes,
                          names: tuple[str, str] = SIDE_NAMES) -> Sides:
    """The two sides of the pointer file at `path` to merge, where Git's rename detection
    paired a removed pointer with one a side added under this path while the other side
    also added it (a rename/add collision): Git first merges the removed pointer's versions
    into the added one, with this driver, then merges that with the other side's added
    pointer, with no merge base. The side that comes with the first merge's conflict
    markers is then taken as its own version between them: the other version is the other
    side's pointer of the removed path, not this path's data, and stays in that side's
    commit. `names` name the two sides in what it says."""
    if base.strip() or not path.endswith(POINTER_SUFFIX):
        return Sides(ours, theirs)
    for index, data in enumerate((ours, theirs)):
        if not data.startswith(b"<<<<<<< "):
            continue
        try:
            versions = _base_versions(data)
        except Conflict:
            return Sides(ours, theirs)
        side, other = names if index == 0 else names[::-1]
        why = (f"Git paired a pointer {side} removed with the one it added here (its rename "
               "detection matches pointer files that look alike), so only the two added "
               f"pointers are compared: {other}'s version of the removed pointer is left "
               f"out, and stays in {other}'s commit")
        if index == 0:
            return Sides(versions[0], theirs, left_out=why)
        return Sides(ours, versions[1], left_out=why)
    return Sides(ours, theirs)


def _merge_ignore_lines(base: bytes, ours: bytes, theirs: bytes) -> Merged:
    """Our lines that theirs did not remove, then the lines theirs added."""
    b, o, t = (git_lines(data) for data in (base, ours, theirs))
    if any(line.lstrip().startswith("!") for line in (*b, *o, *t)):
        raise LineMerge("a negated pattern makes the order of lines matter")
    removed_by_theirs = set(b) - set(t)
    added_by_theirs = [line for line in dict.fromkeys(t) if line not in b and line not in o]
    merged = [line for line in o if line not in removed_by_theirs] + added_by_theirs
    return Merged(encode_git_lines(merged, ours), "lines of both sides kept")


def _merge_pointer(repo: Repo, path: str, base: bytes, ours: bytes, theirs: bytes,
                   names: tuple[str, str]) -> Merged:
    """Field by field: the data (what it names), `desc` and `meta` each come from the side
    that changed them; only a field both sides changed differently is a conflict, and for a
    directory's data that means the same entry. A conflict whose sides gain something from
    each other is left as two versions, each with every change that did not conflict."""
    o = parse_pointer(ours, f"{path} (ours)")
    t = parse_pointer(theirs, f"{path} (theirs)")
    b = tuple(parse_pointer(version, f"{path} (a merge base)") if version.strip() else None
              for version in _base_versions(base))
    try:
        return _merged(repo, path, b, o, t, None, names)
    except Conflict as conflict:
        try:
            versions = [_merged(repo, path, b, o, t, side, names).data for side in (o, t)]
        except Conflict:
            raise conflict from None  # nothing merges without a choice (a manifest missing)
        if versions == [ours, theirs]:
            raise  # nothing else of the other side to keep: Git's own two sides say it all
        raise MergedVersions(conflict.message, *versions) from None


def _merged(repo: Repo, path: str, b: tuple[Pointer | None, ...], o: Pointer, t: Pointer,
            prefer: Pointer | None, names: tuple[str, str]) -> Merged:
    """The pointer merged field by field from its merge base `b` (two in a criss-cross
    merge); where both sides changed a thing differently, a Conflict, or the version of
    `prefer` (o or t) if given."""
    def preferred(fields: Mapping[str, object]) -> Mapping[str, object] | None:
        return None if prefer is None else fields

    user = three_way(_user_fields(b[0]), _user_fields(o), _user_fields(t),
                     what=lambda name: f"its '{name}'",
                     prefer=preferred(_user_fields(prefer)),
                     other_base=_user_fields(b[1]) if len(b) > 1 else None, names=names)
    bd = [_data(p) if p is not None else None for p in b]
    od, td = _data(o), _data(t)
    if od == td or (td in bd and od not in bd):
        carrier, how = o, f"data from {names[0]}"
    elif od in bd and td not in bd:
        carrier, how = t, f"data from {names[1]}"
    elif o.is_dir and t.is_dir and all(p is None or p.is_dir for p in b) \
            and o.source == t.source:
        carrier, how = _merge_directory(repo, path, b, o, t, prefer, names)
    elif prefer is not None:
        carrier, how = prefer, "data of one side"
    elif o.is_dir != t.is_dir:
        raise Conflict(f"{names[0]} {_what_became_of(b, o)} and {names[1]} "
                       f"{_what_became_of(b, t)}, and a folder and a file cannot be merged")
    elif o.source != t.source:
        raise Conflict("the import was changed on both sides to different sources (data "
                       "from two source revisions is never mixed)")
    else:
        raise Conflict("the data was changed on both sides (a file has no parts to merge)")
    taken = [name for name in USER_FIELDS if _user_fields(o).get(name) != user.get(name)]
    if taken:
        how += ", " + " and ".join(taken) + f" from {names[1]}"
    desc = user.get("desc")
    merged = replace(carrier, desc=desc if isinstance(desc, str) else None, meta=user.get("meta"))
    return Merged(merged.to_bytes(), how)


def _what_became_of(b: tuple[Pointer | None, ...], side: Pointer) -> str:
    """What `side` did to the path since the merge bases `b`: made it a folder or a file,
    changed the one it was, or added it (no base has it)."""
    kind = "folder" if side.is_dir else "file"
    if all(p is None for p in b):
        return f"added it as a {kind}"
    if all(p is None or p.is_dir == side.is_dir for p in b):
        return f"changed the {kind}"
    return f"made it a {kind}"


USER_FIELDS = ("desc", "meta")  # the user's own, merged apart from the data


def _user_fields(pointer: Pointer | None) -> dict[str, object]:
    if pointer is None:
        return {}
    found = {"desc": pointer.desc, "meta": pointer.meta}
    return {name: value for name, value in found.items() if value is not None}


def _data(pointer: Pointer) -> tuple[object, ...]:
    """What the pointer names, the import source with it (it describes that data)."""
    return (pointer.kind, pointer.algo, pointer.oid, pointer.size, pointer.nfiles,
            pointer.executable, pointer.source)


def _merge_directory(repo: Repo, path: str, b: tuple[Pointer | None, ...], o: Pointer,
                     t: Pointer, prefer: Pointer | None,
                     names: tuple[str, str]) -> tuple[Pointer, str]:
    """The directory merged entry by entry (the merged manifest goes into the cache); where
    both sides changed an entry differently, a Conflict, or `prefer`'s version of it."""
    bases = [_manifest(repo, path, p) if p is not None else None for p in b]
    to, tt = _manifest(repo, path, o), _manifest(repo, path, t)
    _refuse_a_paired_folder(repo, path, bases, to, tt, names)
    trees = [*bases, to, tt]
    eb, *other, eo, et = ({e.path: e for e in tree.entries} if tree else {} for tree in trees)
    data = data_path_of(path)
    clashes = _kind_clashes(eb, eo, et)
    if clashes and prefer is None:
        raise Conflict(_how_kinds_clash(clashes, data, eb, eo, et, names))
    merged: dict[str, TreeEntry] = three_way(
        eb, eo, et, what=lambda p: f"'{data}/{p}'",
        prefer=None if prefer is None else (eo if prefer is o else et),
        other_base=other[0] if other else None, names=names)
    for clash in clashes:  # the preferred side's file or folder there, the other's dropped
        kept_file = clash in (eo if prefer is o else et)
        merged = {p: e for p, e in merged.items()
                  if not (p == clash or p.startswith(f"{clash}/")) or (p == clash) == kept_file}
    tree = Tree.build(repo.algo, merged.values())
    oid = repo.cache.add_bytes(tree.to_bytes())
    pointer = o.with_data("dir", oid, tree.size, tree.nfiles, False)
    return pointer, f"directory merged entry by entry ({tree.nfiles} files)"


def _kind_clashes(base: Mapping[str, TreeEntry], ours: Mapping[str, TreeEntry],
                  theirs: Mapping[str, TreeEntry]) -> list[str]:
    """The paths that one side changed or added as a file while the other changed or added
    a file below them (so made them a folder, or changed the folder they were): an entry
    merge would keep both, and no folder holds a file and a folder of one name."""
    def changed(side: Mapping[str, TreeEntry]) -> list[str]:
        return [p for p, entry in side.items() if base.get(p) != entry]

    clashes: set[str] = set()
    for files, other in ((ours, theirs), (theirs, ours)):
        below = {parent for p in changed(other) for parent in _parents(p)}
        clashes.update(p for p in changed(files) if p in below)
    return sorted(clashes)


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _how_kinds_clash(clashes: list[str], data: str, base: Mapping[str, TreeEntry],
                     ours: Mapping[str, TreeEntry], theirs: Mapping[str, TreeEntry],
                     names: tuple[str, str]) -> str:
    """The first of the `clashes` (`_kind_clashes`), as what each side did to it."""
    clash = clashes[0]
    in_base = "file" if clash in base else "folder" if any(
        p.startswith(f"{clash}/") for p in base) else None
    did = []
    for side in (ours, theirs):
        kind = "file" if clash in side else "folder"
        did.append(f"added it as a {kind}" if in_base is None else
                   f"changed the {kind}" if in_base == kind else f"made it a {kind}")
    more = f" (and {counted(len(clashes) - 1, 'other path')} so)" if len(clashes) > 1 else ""
    return (f"'{data}/{clash}'{more} is a file on one side and a folder on the other: "
            f"{names[0]} {did[0]} and {names[1]} {did[1]}, and a file and a folder cannot "
            "be merged")


def _refuse_a_paired_folder(repo: Repo, path: str, bases: list[Tree | None], ours: Tree,
                            theirs: Tree, names: tuple[str, str]) -> None:
    """A Conflict where Git handed this driver two different paths' pointers: its rename
    detection pairs a removed pointer with an added one that looks alike, as pointer files
    do, and merging them entry by entry would put one folder's files into the other. Git
    says so by the merge's commits: the path is missing from the merge base or a side.
    Where Git names no commits (a single cherry-pick, `git am`, `git stash pop`), a side's
    folder that shares no file with the base is taken for another path's."""
    if all(tree is None for tree in bases):
        return  # both sides added the path: nothing was paired
    unrelated = _unrelated_folders(bases, ours, theirs, names)
    found = repo.git.path_in_merge(path) if repo.git is not None else None
    if found is None and unrelated:
        raise Conflict(f"{' and '.join(unrelated)} folder shares no file, by name or by "
                       "content, with the version both sides started from: " + _UNTOLD)
    if found is not None and found.paired:
        lacking = [name for name, held in
                   zip(("the version both sides started from", *names),
                       (found.in_a_base, *found.in_sides[:2]), strict=True) if not held]
        if not all(found.in_sides[2:]) and names[1] not in lacking:
            lacking.append(names[1])  # another head of an octopus merge
        why = f"{' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no '{path}'"
        if unrelated:
            why = (f"{' and '.join(unrelated)} folder shares no file, by name or by content, "
                   f"with the version both sides started from, and {why}")
        raise Conflict(f"{why}: {_PAIRED}")


_PAIRED = ("Git paired this pointer with another path's (its rename detection matches pointer "
           "files that look alike, as it does a moved one), so the folders are not merged "
           "entry by entry. Keep the version of the side that tracks this folder; a change the "
           "other side made to the folder it removed or moved is in its commit, under that "
           "folder's own pointer")


# Where Git names no commits, nothing tells a folder regenerated in place (a job writing
# `part-<uuid>` files) from another path's pointer Git paired with this one.
_UNTOLD = ("Git names no commits here (a single revert or cherry-pick, `git am`, `git stash "
           "pop`), so the driver cannot tell whether Git paired this pointer with another "
           "path's (a folder renamed or replaced) or the folder was regenerated in place under "
           "new file names, and does not merge the folders entry by entry. Keep one side's "
           "version (`git checkout --ours` or `--theirs` on the pointer file, then `dvx pull` "
           "the folder), or edit the pointer file by hand to keep one version between the "
           "markers; to have the other side's change too, make it in the folder and `dvx add` "
           "it")


def _unrelated_folders(bases: list[Tree | None], ours: Tree, theirs: Tree,
                       names: tuple[str, str]) -> list[str]:
    """The sides (their names, possessive) whose folder shares no file, by name or by
    content, with any merge base that has files. A side that emptied the folder edited it."""
    started = [tree for tree in bases if tree is not None and tree.nfiles]
    if not started:
        return []
    return [f"{name}'s" for name, tree in zip(names, (ours, theirs), strict=True)
            if tree.nfiles and not any(_shares_a_file(tree, base) for base in started)]


def _shares_a_file(tree: Tree, base: Tree) -> bool:
    names = {entry.path for entry in base.entries}
    oids = {entry.oid for entry in base.entries}
    return any(entry.path in names or entry.oid in oids for entry in tree.entries)


def _manifest(repo: Repo, path: str, pointer: Pointer) -> Tree:
    tree = load_tree(repo, pointer)
    unreachable = None
    if tree is None:
        unreachable = _fetch_manifest(repo, pointer)
        tree = load_tree(repo, pointer)
    if tree is None and unreachable is not None:
        raise Conflict(f"the manifest {pointer.oid} of '{path}' is not in the cache, and the "
                       f"default remote could not be reached ({unreachable}), so its entries "
                       "cannot be merged")
    if tree is None:
        raise Conflict(f"the manifest {pointer.oid} of '{path}' is in neither the cache nor "
                       "the default remote, so its entries cannot be merged")
    return tree


def _fetch_manifest(repo: Repo, pointer: Pointer) -> str | None:
    """Fetch the manifest `pointer` names from the default remote, if any. Why the remote
    could not be asked for it (it cannot be reached, or failed to send it), or None: it
    came, or the remote does not have it (or there is no default remote)."""
    from dvx.ops.remote import default_remote, open_remote, settings_for
    from dvx.remote import transfer
    from dvx.remote.transfer_result import NOT_ON_REMOTE

    if default_remote(repo.config) is None:
        return None
    try:
        name, remote = open_remote(repo, None)
        result = transfer.download(remote, repo.cache, [pointer.oid],
                                   settings_for(repo, name, remote, None))
    except DvxError as exc:
        return exc.message.rstrip(".")
    except PermissionError as exc:  # the cache (or a folder of it) refused the manifest
        return f"'{exc.filename}' may not be written ({exc.strerror})"
    why = result.failed.get(pointer.oid)
    return None if why is None or NOT_ON_REMOTE in why else why


def with_conflict_markers(ours: bytes, theirs: bytes,
                          labels: tuple[str, str] = SIDE_LABELS) -> bytes:
    """Both versions, between Git's conflict markers, for a conflict left to the user."""
    end = b"" if ours.endswith(b"\n") or not ours else b"\n"
    end_t = b"" if theirs.endswith(b"\n") or not theirs else b"\n"
    return (f"<<<<<<< {labels[0]}\n".encode() + ours + end + b"=======\n" + theirs + end_t
            + f">>>>>>> {labels[1]}\n".encode())
