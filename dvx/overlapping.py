"""Tracked paths that overlap: one inside a folder another tracks whole.

`dvx add` refuses such a pair (ops/data_places.py refuse_overlap), but Git merges pointer
files one by one: when one side tracked a folder and the other a path inside it (or a path
inside a stage's output), a merge without a conflict leaves both pointers; so does a `git mv`
of a pointer file into a tracked folder (the pre-commit hook stops its commit:
ops/staged_data.py). Each then claims the same files, so a checkout of one undoes the other,
and the folder's checkout deletes the other's Git-tracked pointer as a file it does not
record. The commands that read pointers set both aside, name the pair as what a merge or
move left, and write nothing there until one goes.
"""

from __future__ import annotations

from collections.abc import Mapping

from dvx.errors import ConflictError
from dvx.lockfile import LOCK_FILE, PIPELINE_FILE
from dvx.logs import shell_quote
from dvx.paths import POINTER_SUFFIX, for_command


def find_overlaps(tracked: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """(outer, inner) for each path of `tracked` ({data path: the stage outputting it, None
    for a pointer's}) that lies inside another: `outer` is the outermost one holding it.
    Two stages' outputs are left out: dvx.yaml is refused for those, and neither has a
    pointer a merge could have brought."""
    found = []
    for inner, stage in sorted(tracked.items()):
        outer = None
        folder = inner.rpartition("/")[0]
        while folder:
            if folder in tracked:
                outer = folder
            folder = folder.rpartition("/")[0]
        if outer is not None and (stage is None or tracked[outer] is None):
            found.append((outer, inner))
    return found


def overlap_pair(outer: str, outer_stage: str | None, inner: str, inner_stage: str | None
                 ) -> str:
    """The two that overlap, as a sentence names them: pointer files by their paths, a
    stage's output by its path and stage."""
    def named(path: str, stage: str | None) -> str:
        return (f"'{path}{POINTER_SUFFIX}'" if stage is None
                else f"the output '{path}' of stage '{stage}'")
    return f"{named(outer, outer_stage)} and {named(inner, inner_stage)}"


def overlap_error(root: str, outer: str, outer_stage: str | None, inner: str,
                  inner_stage: str | None, pushed: bool = False, outer_is_dir: bool = True,
                  outer_declared: bool = True, inner_declared: bool = True) -> ConflictError:
    """The conflict of `inner`, tracked inside `outer` (each by its pointer file, or as the
    output of a stage when its stage is given), with the ways out: keep either one. With
    `pushed`, as `dvx push` notes it: it sends both's data, harmless on a remote, so that
    whichever is kept is there for the team. `outer_is_dir`: the outer pointer tracks a
    folder, not a file (a path cannot be both). `outer_declared`, `inner_declared`: dvx.yaml
    declares that side's stage (or cannot say); one it does not is an entry left in dvx.lock,
    which `dvx repro` drops, so its output cannot be the one kept."""
    if outer_stage is None and inner_stage is None and not outer_is_dir:
        pair = (f"The pointer files '{outer}{POINTER_SUFFIX}' and '{inner}{POINTER_SUFFIX}' "
                f"overlap: the second tracks '{inner}', inside '{outer}', which the first "
                "tracks as a file, so it cannot be a folder holding it")
    elif outer_stage is None and inner_stage is None:
        pair = (f"The pointer files '{outer}{POINTER_SUFFIX}' and '{inner}{POINTER_SUFFIX}' "
                f"overlap: the second tracks '{inner}', inside the folder '{outer}' that the "
                "first tracks whole")
    elif outer_stage is not None:
        pair = (f"The pointer file '{inner}{POINTER_SUFFIX}' overlaps an output of stage "
                f"'{outer_stage}': it tracks '{inner}', inside the folder '{outer}' that the "
                "stage outputs whole")
    else:
        pair = (f"The pointer file '{outer}{POINTER_SUFFIX}' overlaps an output of stage "
                f"'{inner_stage}': it tracks the folder '{outer}' whole, and the stage "
                f"outputs '{inner}' inside it")
    message = (f"{pair}, as a Git merge or move leaves them (one side of a merge tracked the "
               "folder and the other a path inside it, or a `git mv` moved a pointer file "
               "into the folder; `dvx add` refuses that). " + (
                   "`dvx push` sends the data of both, so that the remote has whichever one "
                   "is kept; the other commands leave both as they are until one of them goes."
                   if pushed else "dvx reads and writes neither's data until one of them goes."))
    ways = [way for way in (
        _keeping(root, outer, outer_stage, outer_declared, inner, inner_stage, inner_declared),
        _keeping(root, inner, inner_stage, inner_declared, outer, outer_stage, outer_declared))
        if way is not None]
    return ConflictError(message, f"K{ways[0][1:]}" + "".join(f" Or {w}" for w in ways[1:])
                         + " (--force: the workspace may hold the other one's version there.)")


def _keeping(root: str, kept: str, kept_stage: str | None, kept_declared: bool, dropped: str,
             dropped_stage: str | None, dropped_declared: bool) -> str | None:
    """The way out that keeps `kept` and stops tracking `dropped`, each by its pointer file
    or as the output of its stage (declared in dvx.yaml or not); None when `kept` is the
    output of a stage gone from dvx.yaml, which no pull can bring back as that stage's."""
    if kept_stage is not None and not kept_declared:
        return None
    way = (_dropping(root, dropped, dropped_stage)
           if dropped_stage is None or dropped_declared else dropping_gone_entry(dropped_stage))
    return f"keep '{kept}': {way}, then `dvx pull --force {for_command(root, kept)}`."


def _dropping(root: str, path: str, stage: str | None) -> str:
    """What stops tracking `path`, tracked by its pointer file or by `stage`: the stage's
    removal (of every item, for an item of a foreach/matrix stage) leaves its outputs in
    the workspace."""
    if stage is None:
        return (f"`dvx remove {for_command(root, path + POINTER_SUFFIX)}` and the `git add` "
                "it names")
    group = stage.partition("@")[0]
    items = f", every item of the foreach/matrix stage '{group}'" if group != stage else ""
    return (f"`dvx stage remove {shell_quote(group)}`{items}, and the `git add` it names (its "
            "outputs stay in the workspace; if the stage is still needed, `dvx stage add` it "
            f"again with outputs apart from '{path}')")


def dropping_gone_entry(stage: str) -> str:
    """What stops tracking the outputs of `stage`, an entry left in dvx.lock that dvx.yaml
    does not declare: `dvx repro` of the whole pipeline drops such entries, leaving the
    outputs in the workspace; no `dvx stage remove` can take out a stage dvx.yaml lacks, and
    no pull brings back what only such an entry records. The one wording every command
    gives."""
    return (f"`dvx repro`, which drops the entry of stage '{stage}' left in {LOCK_FILE} "
            f"that {PIPELINE_FILE} does not declare, and the `git add` it names")
