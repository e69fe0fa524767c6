"""dvx remove, dvx move, dvx unprotect: change how tracked data is tracked."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace

from dvx import faults, fsutil, gitignore
from dvx.errors import ConflictError, DvxError, PathError, UsageError
from dvx.ignore import is_ignore_file
from dvx.lock import began_writing, wrote_whole
from dvx.logs import get_logger, quoted
from dvx.ops.data_places import (
    TrackedPaths,
    data_among,
    held_by_git_within,
    ignore_after_rules_taking_back,
    in_git_note,
    refuse_dvxignored,
    refuse_git_tracked,
    refuse_ignored_pointers,
    refuse_long_names,
    refuse_overlap,
    stage_for_git,
    submodule_why,
    submodules_within,
    tracked_by_git,
    tracked_by_git_ways,
)
from dvx.ops.left_behind import remove_placed
from dvx.ops.status import (
    LINKED_ELSEWHERE,
    MODIFIED,
    OUTDATED,
    UNCHANGED,
    OutputStatus,
    output_status,
    synced_lately,
)
from dvx.ops.written_through import object_written_through, set_aside_written
from dvx.outputs import (
    Output,
    all_outputs,
    check_data_path,
    load_tree,
    pointer_change,
    pull_first_hint,
    scan_outputs,
    write_pointer,
)
from dvx.paths import (
    POINTER_SUFFIX,
    at_or_below_any,
    for_command,
    join_posix,
    names_the_root,
    repo_relpath,
    walk_directory,
)
from dvx.pointer import read_pointer
from dvx.repo import Repo
from dvx.scm import git_add_command
from dvx.unmerged import unmerged_without_markers
from dvx.wording import named_list
from dvx.workspace import (
    delete_tracked_data,
    deleting_a_repository_error,
    file_state,
    remove_temporaries_around,
    remove_temporaries_beside,
    repository_held,
    scan_directory,
    stale_link_oid,
)

log = get_logger(__name__)

# A file to make the user's own: its full path, the tracked path it is of (as given), and the
# oid recorded for it (None: not known), by which a hard link's object is told.
_File = tuple[str, str, str | None]


@dataclass(frozen=True)
class Changed:
    paths: list[str]  # repo-relative paths to stage (pointers, .gitignore files)
    staged: bool
    kept: list[str] = field(default_factory=list)  # files .dvxignore kept out of deleted data
    kept_in_git: list[str] = field(default_factory=list)  # files Git's index holds there
    # Data `remove` left in the workspace that Git no longer ignores: `git add -A` takes it
    unignored: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"staged": self.paths if self.staged else [],
                "to_stage": [] if self.staged else self.paths}


def _stage(repo: Repo, paths: list[str]) -> Changed:
    """Stage (core.autostage), else name to stage, those of `paths` that differ from Git's
    index, as every writing command does (`stage_for_git`); without Git, neither."""
    staging = stage_for_git(repo, paths)
    return Changed(staging.staged or staging.to_stage, staged=bool(staging.staged))


def _gitignore_rel(data_rel: str) -> str:
    return posixpath.join(posixpath.dirname(data_rel), ".gitignore")


def _is_recoverable(repo: Repo, output: Output) -> bool:
    """The workspace data is exactly what the pointer records, and all of it is cached."""
    return recoverable(output_status(repo, output))


def recoverable(status: OutputStatus, git_held: Container[str] = ()) -> bool:
    """Links to another cache's objects (LINKED_ELSEWHERE) hold nothing of their own. A
    change of a directory in files Git's index holds (`git_held`, relative to it) alone is
    no change of its data: a delete keeps those files."""
    return status.in_cache and (status.workspace in (UNCHANGED, LINKED_ELSEWHERE) or (
        status.workspace == MODIFIED and not status.pointer_moved
        and _changed_only_in(status, git_held)))


def _changed_only_in(status: OutputStatus, git_held: Container[str]) -> bool:
    """The directory `status` names holds changes, each of a file in `git_held`. A change
    status names by no file (a modified file, a folder replaced by a file, a folder whose
    manifest is not at hand) is of the data itself, never Git's."""
    changed = (*status.added, *status.modified, *status.deleted)
    return status.kind == "dir" and bool(changed) and all(rel in git_held for rel in changed)


def _refuse_unrecoverable_deletion(repo: Repo, output: Output,
                                   git_held: Container[str] = ()) -> None:
    """Refuse to delete workspace data unless it is exactly what the pointer records, or a
    version dvx placed before the pointer moved (outdated: no change made here), and all
    of what it holds is cached: else it could not be got back. The files Git's index holds
    there (`git_held`) stay, so their changes are none of its."""
    status = output_status(repo, output)
    if recoverable(status, git_held):
        return
    keep = "Use --force to delete anyway, or run without --outs to keep the data."
    if status.workspace == OUTDATED:
        if _held_bytes_cached(repo, output):
            return
        raise PathError(f"'{output.path}' holds data dvx placed before its pointer moved "
                        f"{status.moved_where}, and the cache no longer has all of it: the "
                        "workspace holds the only copy here; refusing to delete it.", keep)
    if status.only_in_workspace:
        raise PathError(f"'{output.path}' is unchanged, but the cache has lost it: the "
                        "workspace holds the only copy here; refusing to delete it.",
                        f"`dvx commit {for_command(repo.root, output.path)}` stores it in the "
                        f"cache again; then run this again. {keep}")
    if status.workspace == UNCHANGED:
        raise PathError(f"'{output.path}' is not all in the cache; refusing to delete it.",
                        f"{pull_first_hint(repo.root, output.path)} {keep}")
    raise PathError(f"'{output.path}' has changes that are not in the cache; refusing to "
                    "delete it.", keep)


def _held_bytes_cached(repo: Repo, output: Output) -> bool:
    """Are the bytes of every file at the output's path that `--outs` would delete (what
    .dvxignore keeps out of a directory stays) in the cache?"""
    full = repo.abspath(output.path)
    try:
        if os.path.isdir(full) and not os.path.islink(full):
            tree = load_tree(repo, output.pointer, output.recorded_in) \
                if output.pointer.is_dir else None
            held = [e.oid for e in scan_directory(repo, full, output.path,
                                                  recorded=tree or ()).values()]
        else:
            state = file_state(repo, full, output.path)
            held = [] if state is None else [state.oid]
    except DvxError:  # a link or special file dvx did not make: not known to be cached
        return False
    return not repo.cache.missing(held)


def _refuse_stage_output(output: Output, verb: str) -> None:
    if output.stage is not None:
        raise UsageError(f"'{output.path}' is an output of the pipeline stage '{output.stage}' "
                         f"(recorded in dvx.lock), so `dvx {verb}` cannot change it.",
                         "Edit the stage in dvx.yaml instead, then run `dvx repro`.")


def unfinished_removal(repo: Repo, target: str) -> str | None:
    """The data path of `target` (a data path or its pointer) if a `dvx remove` of it stopped
    half-way: its pointer deleted, and the mark the remove left before it began still there
    (a .gitignore line alone proves nothing: it may be the user's own)."""
    rel = repo_relpath(repo.root, target)
    if rel.endswith(POINTER_SUFFIX):
        rel = rel[: -len(POINTER_SUFFIX)]
    full = repo.abspath(rel)
    if os.path.lexists(full + POINTER_SUFFIX) or not repo.syncstate.removal_begun(rel):
        return None
    if any(o.path == rel for o in scan_outputs(repo)[0]):
        return None  # a stage's output (dvx.lock records it): refused as such
    return rel


def remove(repo: Repo, outputs: list[Output], remove_data: bool, force: bool,
           unfinished: list[str] | None = None) -> Changed:
    """Stop tracking; with `remove_data`, delete the workspace data too (only if it is
    unchanged, so its content stays recoverable from the cache, unless `force`). The
    `unfinished` removals (unfinished_removal) are finished. Files .dvxignore keeps out of a
    directory are not its data and stay (`Changed.kept`), and so do the files Git's index
    holds there, the team's code, say (`Changed.kept_in_git`)."""
    for output in outputs:
        _refuse_stage_output(output, "remove")
    # What Git's index holds there, a .dvxignore of the team's too: the delete keeps it all,
    # and names it as Git's; of that, only the files that would be data hold Git's data.
    held: dict[str, set[str]] = {}
    if remove_data:
        _refuse_deleting_a_repository(repo, [*(o.path for o in outputs), *(unfinished or ())])
        held = held_by_git_within(repo, [*(o.path for o in outputs), *(unfinished or ())])
    in_git = data_among(repo, held)
    touched: list[str] = []
    kept: list[str] = []
    with repo.lock(stages_in_git=True):
        remove_temporaries_around(repo, [o.path for o in outputs] + (unfinished or []))
        for rel in unfinished or ():
            touched += _finish_removal(repo, rel, remove_data, force, kept,
                                       in_git.get(rel, set()))
        for output in outputs if remove_data and not force else ():
            if os.path.lexists(repo.abspath(output.path)):
                _refuse_unrecoverable_deletion(repo, output, in_git.get(output.path, set()))
        _make_what_stays_own(repo, outputs, remove_data, in_git)
        for output in outputs:
            full = repo.abspath(output.path)
            gitignore.check_readable(full)  # before anything is deleted
            # The record goes first: a remove killed after it never leaves one by which a
            # later checkout would take data whose pointer is gone (dvx/ops/left_behind.py);
            # the mark written with it is how a rerun finds the removal, so nothing is
            # deleted unless both are on disk.
            repo.syncstate.forget(output.path)
            repo.syncstate.begin_removal(output.path)
            repo.syncstate.flush(required=True)
            began_writing(repo.tmp_dir)  # an error from here on may leave it half-done
            try:
                if remove_data and os.path.lexists(full):
                    kept += delete_tracked_data(
                        repo, output.path, output.pointer.oid if output.pointer.is_dir else None,
                        in_git.get(output.path, set()))
                os.unlink(repo.abspath(output.pointer_path))
            except Exception:  # the pointer stays: a rerun is a remove like this one, no mark
                repo.syncstate.end_removal(output.path)
                repo.syncstate.flush()
                raise
            gitignore.remove_entry(full)
            touched += [output.pointer_path, _gitignore_rel(output.path)]
        faults.point("remove.before_stage")
        changed = _stage(repo, touched)
        for rel in [*(unfinished or ()), *(o.path for o in outputs)]:
            repo.syncstate.end_removal(rel)  # last, once staged: until then a rerun finishes
        repo.syncstate.flush()
    left = [] if remove_data else [o.path for o in outputs
                                   if os.path.lexists(repo.abspath(o.path))]
    git_s = {f"{path}/{rel}" if rel else path for path, rels in held.items() for rel in rels}
    return replace(changed, kept=[p for p in kept if p not in git_s],
                   kept_in_git=[p for p in kept if p in git_s],
                   unignored=seen_by_git(repo, left))


def _make_what_stays_own(repo: Repo, outputs: list[Output], remove_data: bool,
                         git_held: Mapping[str, Collection[str]]) -> None:
    """Make what stays in the workspace of the data of `outputs` the user's own: all of it
    (`make_own_copies`), or with `remove_data` the files Git's index holds in it, `git_held`
    by output path (`make_kept_files_own`). In one pass over all of them: files of several
    outputs linked to one cached object that an edit wrote through are all made copies
    before it is set aside, so its one warning names every file holding the edit."""
    files: list[_File] = []
    for output in outputs:
        recorded = _recorded_objects(repo, output)
        files += _kept_files(repo, output.path, git_held.get(output.path, set()), recorded) \
            if remove_data else _files_of(repo, output.path, recorded)
    if not remove_data:
        _refuse_links_to_lacked_objects(repo, files)
    _own_copies(repo, files, missing_ok=True)


def _refuse_links_to_lacked_objects(repo: Repo, files: Sequence[_File]) -> None:
    """Refuse (PathError), before anything changes, to stop tracking data that stays in the
    workspace as symbolic links into the cache whose objects are gone from it: no copy of
    their data can be made, so what stayed would be links to nothing, and once its pointer
    is gone no `dvx pull` brings that data back. A pull of it first does. (A moved
    repository's link into the cache it had is refused as it is copied,
    `_own_copy_of_stale_link`.)"""
    lacked = [(path, display) for path, display, _ in files
              if _links_to_a_gone_object(repo, path)]
    if not lacked:
        return
    tracked = list(dict.fromkeys(display for _, display in lacked))
    links = [repo_relpath(repo.root, path) for path, _ in lacked]
    are, objects, their = ("are symbolic links", "their objects", "their") \
        if len(links) > 1 else ("is a symbolic link", "its object", "its")
    raise PathError(
        f"The data of {named_list(tracked, most=10, name=quoted)} is not in the workspace: "
        f"{named_list(links, most=10, name=quoted)} {are} into the cache, which no longer "
        f"has {objects}, so no copy of {their} data can be made, and untracked, what stayed "
        "would be links to nothing that no `dvx pull` brings back. Nothing was changed.",
        f"Bring the data back first: `dvx pull "
        f"{' '.join(for_command(repo.root, path) for path in tracked)}` (it fetches it from "
        "the remote and links it again), then run this command again.")


def _links_to_a_gone_object(repo: Repo, path: str) -> bool:
    """`path` is a symlink into this cache whose object is gone from it."""
    if not os.path.islink(path):
        return False
    target = os.path.realpath(path)
    return repo.cache.object_for_symlink(target) is not None and not os.path.exists(target)


def _refuse_deleting_a_repository(repo: Repo, paths: list[str]) -> None:
    """Refuse, before anything changes, a `dvx remove --outs` (--force or not) of data whose
    folder holds another repository (`repository_held`): a clone of the user's there."""
    for path in paths:
        inside = repository_held(repo, path)
        if inside is not None:
            raise deleting_a_repository_error(
                path, inside, f"Run `dvx remove {for_command(repo.root, path + POINTER_SUFFIX)}` "
                "without --outs to stop tracking it and keep the folder as it is, or move that "
                "repository out of it first.")


def seen_by_git(repo: Repo, paths: list[str]) -> list[str]:
    """Those of `paths` (data no longer tracked) that Git does not ignore: `git add -A` would
    commit them into Git, and a teammate's `git pull` of that commit would then overwrite,
    without a word, their own changes there that Git ignored until then."""
    if not paths or repo.git is None:
        return []
    try:
        return repo.git.changed(paths)
    except DvxError:
        return []  # only a note depends on it


def _finish_removal(repo: Repo, rel: str, remove_data: bool, force: bool,
                    kept: list[str], git_held: set[str]) -> list[str]:
    full = repo.abspath(rel)
    deleting = remove_data and os.path.lexists(full)
    if deleting and not force:  # its pointer is gone: what it held cannot be told any more
        raise PathError(f"'{rel}' is no longer tracked (an earlier `dvx remove` of it "
                        "stopped half-way), so whether the cache has its content is not "
                        "known; refusing to delete it.", "Use --force to delete anyway, "
                        "or run without --outs to keep the data.")
    if deleting:
        make_kept_files_own(repo, rel, git_held)
    began_writing(repo.tmp_dir)
    if deleting:
        kept += delete_tracked_data(repo, rel, git_held=git_held)
    gitignore.remove_entry(full)
    return [rel + POINTER_SUFFIX, _gitignore_rel(rel)]


def move(repo: Repo, output: Output, destination: str) -> tuple[str, Changed]:
    _refuse_stage_output(output, "move")
    _refuse_unmerged_pointer(repo, output)
    if names_the_root(repo.root, destination):  # into the repository's top folder
        dst = posixpath.basename(output.path)
    else:
        dst = repo_relpath(repo.root, destination)
        if dst.endswith(POINTER_SUFFIX):
            dst = dst[: -len(POINTER_SUFFIX)]
        if _interrupted_move_to(repo, output, dst):
            return dst, _finish_move(repo, output, dst)
        dst_dir = repo.abspath(dst)
        if dst != output.path and os.path.isdir(dst_dir) and not os.path.islink(dst_dir):
            dst = posixpath.join(dst, posixpath.basename(output.path))  # into the directory
        elif destination.endswith(("/", os.sep)) and dst != output.path:  # as `git mv`
            raise PathError(f"'{destination}' is not a directory.",
                            "Create it first, or name the new path without the slash.")
    refuse_long_names(dst, destination, "Choose a shorter name.")
    check_data_path(repo, dst, destination)
    if dst == output.path:
        raise UsageError(f"'{destination}' is where '{output.path}' already is.")
    if dst.startswith(output.path + "/"):
        raise UsageError(f"Cannot move '{output.path}' into itself.")
    dst_full = repo.abspath(dst)
    for path in (dst_full, dst_full + POINTER_SUFFIX):
        if os.path.lexists(path):
            raise PathError(f"'{repo_relpath(repo.root, path)}' already exists.",
                            "Choose another destination, or remove it first.")
    _refuse_place(repo, output, dst, destination)
    _refuse_moving_git_s_files(repo, output, dst)
    _refuse_unwritable_folders(repo, output, dst)
    with repo.lock(stages_in_git=True):
        remove_temporaries_beside(repo.root, [output.path, dst])
        repo.syncstate.begin_move(output.path, dst)  # what a rerun finishes, and only that
        repo.syncstate.flush(required=True)
        made = _missing_folders(os.path.dirname(dst_full))
        ignored = wrote = False

        def checked() -> None:  # last before the new pointer replaces nothing at `dst`
            nonlocal wrote
            _refuse_moved_meanwhile(repo, output, dst)
            wrote = True  # what fails after it (the rename, the folder's fsync) takes it back

        # The new place is ignored before the data arrives, and the new pointer is written
        # before the old one goes: an interruption leaves the data tracked twice at worst,
        # never untracked nor seen by Git, and the same command run again finishes the move.
        # A failure before the data moved takes back what was written: no pointer is left
        # at a place the user may never move the data to.
        try:
            fsutil.makedirs(os.path.dirname(dst_full))
            ignored = gitignore.add_entry(dst_full) is not None
            write_pointer(repo, dst, output.pointer, before_rename=checked)
            _move_data(repo, output, dst)
        except (OSError, DvxError):
            _take_back_new_place(repo, output, dst, ignored, made, wrote)
            raise
        began_writing(repo.tmp_dir)  # the data moved: an error from here on leaves it half-done
        kept = _drop_old_pointer(repo, output, dst)
    return dst, _staged_move(repo, output, dst, kept)


def _refuse_unmerged_pointer(repo: Repo, output: Output) -> None:
    """Refuse (MergeConflictError), before anything is written, a move of data whose pointer
    Git's index lists as unmerged though it holds no conflict markers (one side alone, as a
    merge driver that could not run leaves it): the move would delete it, and the `git add`
    it names would record that deletion, dropping the other side's changes. The error names
    the ways out of the conflict and of the Git operation under way (dvx/unmerged.py)."""
    conflict = unmerged_without_markers(repo.root).get(output.pointer_path)
    if conflict is not None:
        raise conflict


def _refuse_moved_meanwhile(repo: Repo, output: Output, dst: str) -> None:
    """Refuse (ConflictError) a move whose pointer file changed since it was read, or whose
    new place is no longer free, checked last before the new pointer is written: Git takes
    no dvx lock, so a `git pull` may have brought another version of the pointer, which the
    one read before, written at `dst` while the old one goes, would undo; or a teammate's
    pointer (or file) at `dst`, which the move would replace."""
    how = pointer_change(repo, output.path, output.pointer)
    if how is not None:
        # Removed, there is nothing left to move: running the move again finds no pointer.
        old = for_command(repo.root, output.path)
        if how == "was removed":
            again = ("Nothing is left to move (`git log -- "
                     f"{for_command(repo.root, output.pointer_path)}` names the commit that "
                     f"removed it); `dvx add {old}` tracks the data there again if it is "
                     "still to be tracked.")
        else:
            again = (f"Run `dvx move {old} {for_command(repo.root, dst)}` again to move what "
                     "it names now.")
        raise ConflictError(
            f"'{output.pointer_path}' {how} while dvx move ran (a `git checkout` or `git "
            "pull`, say), so dvx move moved nothing: the pointer it read was the one of "
            "before, and writing it at the new place would undo that change.", again)
    dst_full = repo.abspath(dst)
    taken = next((path for path in (dst_full + POINTER_SUFFIX, dst_full)
                  if os.path.lexists(path)), None)
    if taken is not None:
        how = "was written" if taken.endswith(POINTER_SUFFIX) else "was made"
        raise ConflictError(
            f"'{repo_relpath(repo.root, taken)}' {how} while dvx move ran (a `git checkout` "
            "or `git pull`, say), so dvx move moved nothing: moving "
            f"'{output.path}' there would replace it.",
            "Choose another destination, or move that away first.")


def finish_done_move(repo: Repo, source: str, destination: str
                     ) -> tuple[str, str, Changed] | None:
    """A `dvx move` of `source` to `destination` stopped after it did its work (the old
    pointer gone, the new one written) but before it ended and staged its files: (from, to,
    what it changed), the move ended; None when no such move is recorded (the source is
    then moved as any other, or named as not tracked)."""
    try:
        old = repo_relpath(repo.root, source).removesuffix(POINTER_SUFFIX)
        if names_the_root(repo.root, destination):
            new = [posixpath.basename(old)]
        else:
            dst = repo_relpath(repo.root, destination).removesuffix(POINTER_SUFFIX)
            new = [dst, posixpath.join(dst, posixpath.basename(old))]
    except DvxError:
        return None  # a path outside the repository: never a move of it
    with repo.lock(stages_in_git=True):  # reads the marks again, under the lock
        done = next((dst for dst in new if repo.syncstate.move_done(old, dst)), None)
        if done is None:
            return None
        repo.syncstate.end_move(old, done)
        repo.syncstate.flush()
        return old, done, _stage(repo, [done + POINTER_SUFFIX, _gitignore_rel(done),
                                        old + POINTER_SUFFIX, _gitignore_rel(old)])


def _interrupted_move_to(repo: Repo, output: Output, dst: str) -> bool:
    """Did a `dvx move` of `output` to `dst` stop half-way: marked as begun and not ended
    (dvx/syncstate.py), `dst`'s pointer written (the same data), and the data at one of the
    two places only? Another tracked path that holds the same data is no such move."""
    dst_pointer = repo.abspath(dst + POINTER_SUFFIX)
    if dst == output.path or not os.path.isfile(dst_pointer) or os.path.islink(dst_pointer):
        return False
    if not repo.syncstate.move_begun(output.path, dst):
        return False
    try:
        pointer = read_pointer(dst_pointer, dst + POINTER_SUFFIX, repo.root)
    except DvxError:
        return False
    if (pointer.kind, pointer.oid) != (output.pointer.kind, output.pointer.oid):
        return False
    if os.path.lexists(repo.abspath(output.path)) and os.path.lexists(repo.abspath(dst)):
        # a checkout placed the data at the old place again: fine while it is only that
        return _is_recoverable(repo, output)
    return True


def _finish_move(repo: Repo, output: Output, dst: str) -> Changed:
    with repo.lock(stages_in_git=True):
        remove_temporaries_beside(repo.root, [output.path, dst])
        began_writing(repo.tmp_dir)  # a move left half-done: an error leaves it so
        if os.path.lexists(repo.abspath(output.path)) and os.path.lexists(repo.abspath(dst)):
            remove_placed(repo, output.path, output.pointer.oid)
        _move_data(repo, output, dst)
        kept = _drop_old_pointer(repo, output, dst)
    return _staged_move(repo, output, dst, kept)


def _staged_move(repo: Repo, output: Output, dst: str, kept: str | None) -> Changed:
    """Stage (or name to stage) what a move whose data is at `dst` changed; `kept`: how the
    old place's pointer changed while it ran (`_drop_old_pointer`), which is then refused
    (ConflictError), the new place staged all the same."""
    new_place = [dst + POINTER_SUFFIX, _gitignore_rel(dst)]
    if kept is None:
        return _stage(repo, [*new_place, output.pointer_path, _gitignore_rel(output.path)])
    changed = _stage(repo, new_place)
    old = for_command(repo.root, output.path)
    staging = (" The new place is staged in Git." if changed.staged else
               f" `{git_add_command(repo.root, changed.paths)}` records the new place in Git."
               if changed.paths else "")
    wrote_whole(repo.tmp_dir)  # each place as it should be: the refusal leaves nothing half-done
    raise ConflictError(
        f"{quoted(output.pointer_path)} {kept} while dvx move ran (a `git checkout` or `git "
        f"pull`, say), once the data had moved: {quoted(dst)} holds the data and pointer of "
        f"before, and the pointer Git brought stays at {quoted(output.pointer_path)}, its data "
        f"not placed there.{staging}",
        f"Run `dvx checkout {old}` to place the data it names, or `dvx remove {old}` if "
        f"{quoted(dst)} alone is to be tracked.")


def _move_data(repo: Repo, output: Output, dst: str) -> None:
    """Move the data (if it is there) to `dst`, whose .gitignore entry is written first. Its
    last step, the rename, either moves it or raises having moved nothing."""
    src_full, dst_full = repo.abspath(output.path), repo.abspath(dst)
    # Data with no sync record whose pointer moved in Git since is outdated by what Git's
    # history of its path recorded; the new path has none: the record goes along instead,
    # written before the data moves (an interrupted move finishes with it).
    synced = synced_lately(repo, output) if os.path.lexists(src_full) else None
    if synced is not None:
        repo.syncstate.record(output.path, synced)
        repo.syncstate.flush()
    gitignore.add_entry(dst_full)
    if os.path.lexists(src_full) and not os.path.lexists(dst_full):
        os.rename(src_full, dst_full)


def _drop_old_pointer(repo: Repo, output: Output, dst: str) -> str | None:
    """End a move whose data is at `dst`: its records, .gitignore entry and pointer go
    along; the old pointer last, as until then a rerun finds the move. One a `git pull`
    changed meanwhile (Git takes no dvx lock) is a teammate's: it stays, with its .gitignore
    entry, and how it changed is returned (None: the move is whole); one Git removed is
    gone already."""
    src_full = repo.abspath(output.path)
    repo.syncstate.move(output.path, dst)
    repo.syncstate.flush()
    how = pointer_change(repo, output.path, output.pointer)
    if how is None:
        gitignore.remove_entry(src_full)
        os.unlink(repo.abspath(output.pointer_path))  # last: until then a rerun finds the move
    elif how == "was removed":
        gitignore.remove_entry(src_full)
        how = None
    repo.syncstate.end_move(output.path, dst)
    repo.syncstate.flush()
    ignore_after_rules_taking_back(repo, [dst])
    return how


def _missing_folders(folder: str) -> list[str]:
    """The folders `fsutil.makedirs(folder)` would make, deepest first."""
    missing = []
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def _take_back_new_place(repo: Repo, output: Output, dst: str, ignored: bool,
                         made: list[str], wrote: bool) -> None:
    """Undo what a move that failed before its data moved wrote at `dst`: its pointer if it
    `wrote` it, the .gitignore entry if the move added it, and the folders it made; then its
    mark ends. What a `git pull` brought there meanwhile stays: a pointer at `dst` (and the
    entry it needs), the folders holding its files. Best effort: what stays (the pointer of
    data not moved, and the mark) is what a rerun of the same move finishes."""
    dst_full = repo.abspath(dst)
    try:
        if wrote:
            fsutil.remove_quietly(dst_full + POINTER_SUFFIX)
        if ignored and not os.path.lexists(dst_full + POINTER_SUFFIX):
            gitignore.remove_entry(dst_full)
        for folder in made:
            if not os.path.isdir(folder):
                continue  # never made
            if os.listdir(folder):
                break  # it holds what a `git pull` put there, and so do its parents
            os.rmdir(folder)
        repo.syncstate.end_move(output.path, dst)
        repo.syncstate.flush()
    except OSError as exc:
        began_writing(repo.tmp_dir)  # what stays is half-done
        log.debug("move to '%s' not taken back: %s", dst, exc)


def _refuse_moving_git_s_files(repo: Repo, output: Output, dst: str) -> None:
    """Refuse (PathError), before anything is written, a move of data at or in which Git's
    index holds a file (`tracked_by_git`: code beside the data, `git add -f`): the rename
    would carry Git's files, edits and all, into `dst`, which Git ignores, so Git would lose
    them there (and `dvx checkout --force` of the new place would delete them)."""
    _refuse_moving_git_s_rules(repo, output, dst)
    first = tracked_by_git(repo, [output.path]).get(output.path)
    if first is None:
        return
    submodule = submodules_within(repo, [output.path]).get(output.path)
    if submodule is not None:
        raise PathError(f"'{output.path}': "
                        f"{submodule_why(repo.root, output.path, submodule, None)}. Nothing "
                        "was moved.")
    ways = tracked_by_git_ways(repo.root, output.path, None)
    held = in_git_note(repo.root, output.path, f"'{first}'")
    raise PathError(f"'{output.path}' is tracked by Git too ({held}), and `dvx move` would "
                    f"carry Git's files into '{dst}', "
                    "which Git ignores, so Git would lose them. Nothing was moved.",
                    f"{ways[0].upper()}{ways[1:]}.")


def _refuse_moving_git_s_rules(repo: Repo, output: Output, dst: str) -> None:
    """Refuse (PathError), before anything is written, a move of a folder in which Git's
    index holds a .dvxignore (the team's rules, shared with `git add -f`): never data, so
    `tracked_by_git` passes over it, but the rename would carry it into `dst`, which Git
    ignores, and a commit would drop the rules from Git."""
    inside = held_by_git_within(repo, [output.path]).get(output.path, set())
    rules = sorted(path for path in inside if is_ignore_file(path))
    if not rules:
        return
    old, new = f"{output.path}/{rules[0]}", f"{dst}/{rules[0]}"
    raise PathError(f"'{old}' is in the Git index (rules shared with `git add -f`), and "
                    f"`dvx move` would carry it into '{dst}', which Git ignores, so Git "
                    "would lose it. Nothing was moved.",
                    "Take the rules out of Git's index first (`git rm --cached "
                    f"{for_command(repo.root, old)}`), move, then share them again at the "
                    f"new place (`git add -f {for_command(repo.root, new)}`).")


def _refuse_unwritable_folders(repo: Repo, output: Output, dst: str) -> None:
    """Refuse (DvxError) before anything is written a move the permissions would stop
    half-way: the folder the data and its pointer leave and the one they go to (or the
    nearest of its parents there is, where the rest is made) must be writable, and so must a
    directory that changes folders (its entry '..' changes)."""
    src_full, dst_full = repo.abspath(output.path), repo.abspath(dst)
    here, there = os.path.dirname(src_full), os.path.dirname(dst_full)
    while not os.path.isdir(there) and os.path.dirname(there) != there:
        there = os.path.dirname(there)
    for folder, why in ((here, f"dvx move takes '{output.path}' and its pointer out of it"),
                        (there, f"dvx move puts '{dst}' and its pointer there")):
        if not os.access(folder, os.W_OK | os.X_OK):
            _refuse_unwritable(repo, folder, why)
    moves_a_folder = os.path.isdir(src_full) and not os.path.islink(src_full)
    if moves_a_folder and here != os.path.dirname(dst_full) \
            and not os.access(src_full, os.W_OK):
        _refuse_unwritable(repo, src_full, "a directory moved to another folder has its "
                           "entry '..' changed")


def _refuse_unwritable(repo: Repo, folder: str, why: str) -> None:
    rel = repo_relpath(repo.root, folder) if folder != repo.root else ""
    shown = f"'{rel}'" if rel else "The repository's top folder"
    raise PathError(f"{shown} may not be changed (Permission denied): {why}. Nothing was "
                   "moved.", f"Make it writable (`chmod u+w {for_command(repo.root, rel or '.')}`"
                   "), then run the command again.")


def _refuse_place(repo: Repo, output: Output, dst: str, display: str) -> None:
    """The checks `dvx add` makes of a new path: not inside or around other tracked data, not
    in Git, not ignored by .dvxignore, and a pointer Git will see (else the moved data would
    drop out of the repository for everyone who clones it); and no file where a folder of
    the path goes."""
    others = TrackedPaths(o.path for o in scan_outputs(repo)[0] if o.path != output.path)
    try:
        refuse_overlap(repo.root, dst, dst, others)
    except PathError as exc:  # the same refusal as add's, with move's way out
        raise PathError(exc.message, "Move it somewhere else; to make it part of that "
                        "directory, copy it in and `dvx commit` the directory.") from None
    refuse_git_tracked(repo, [dst], [display])
    refuse_dvxignored(repo, dst, output.pointer.is_dir, dst,
                      "Move it somewhere else, or change that rule.")
    refuse_ignored_pointers(repo, [dst])
    parent = os.path.dirname(repo.abspath(dst))
    while parent.startswith(repo.root + os.sep):
        if os.path.lexists(parent) and not os.path.isdir(parent):
            raise PathError(f"'{repo_relpath(repo.root, parent)}' is a file, so '{dst}' "
                            "cannot be made.", "Choose another destination.")
        parent = os.path.dirname(parent)


def unprotect(repo: Repo, outputs: list[Output]) -> list[str]:
    """Give each tracked file (or each file of a tracked directory) its own writable copy."""
    done: list[str] = []
    files: list[_File] = []
    with repo.lock():
        for output in outputs:
            _refuse_foreign_link(repo, output.path)
        remove_temporaries_around(repo, [o.path for o in outputs])
        for output in outputs:
            full = repo.abspath(output.path)
            if not os.path.lexists(full):
                raise PathError(f"'{output.path}' is not in the workspace.",
                                "Run `dvx checkout` first.")
            if output.pointer.is_dir and load_tree(repo, output.pointer,
                                                   output.recorded_in) is None:
                raise PathError(f"The manifest of '{output.path}' is not in the cache.",
                                pull_first_hint(repo.root, output.path))
            recorded = _recorded_objects(repo, output)
            files += [(path, output.path, recorded.get(path)) for path in _data_files(full)]
            done.append(output.path)
        _own_copies(repo, files, tracked_after=True)
    return done


def unprotect_file(repo: Repo, rel: str) -> None:
    """Give the tracked file `rel` a writable copy of its own, as `unprotect` does for each
    file of an output: for a command that edits it in place (`exp run -S` into a params file
    `dvx add` tracks), which must never write through a link into the cache. A hard link
    already written through is told by the oid its output records for it, as `unprotect`
    tells it, and its object moved aside."""
    full = repo.abspath(rel)
    holding = next((output for output in all_outputs(repo)
                    if at_or_below_any(rel, {output.path})), None)
    recorded = None if holding is None else _recorded_objects(repo, holding).get(full)
    _own_copies(repo, [(full, rel, recorded)], tracked_after=True)


def linked_object(repo: Repo, full: str) -> str | None:
    """The path of this cache's object that `full` holds, if it is a symbolic link dvx made
    (what `unprotect` turns into a copy): into this cache, or into the cache a moved or
    copied repository had. That object may be gone."""
    if not os.path.islink(full):
        return None
    oid = repo.cache.object_for_symlink(os.path.realpath(full)) or stale_link_oid(repo, full)
    return None if oid is None else repo.cache.oid_path(oid)


def _refuse_foreign_link(repo: Repo, path: str) -> None:
    """A tracked path that is a symbolic link of the user's (not one into the cache, nor one
    of a moved repository into the cache it had) holds none of the tracked data: there is
    nothing there to unprotect."""
    full = repo.abspath(path)
    if os.path.islink(full) and linked_object(repo, full) is None:
        raise PathError(f"'{path}' is a symbolic link that does not lead into the cache, so it "
                        "holds none of the tracked data and dvx does not follow it.",
                        f"`dvx checkout --force {for_command(repo.root, path)}` replaces the "
                        "link with the tracked data.")


def make_own_copies(repo: Repo, path: str, keep_foreign_links: bool = False,
                    recorded: Mapping[str, str] | None = None) -> list[str]:
    """Make the data at `path`, which stays in the workspace untracked, the user's own: a
    link into the cache would follow the object (gc deletes it; an edit through a hard link
    changes history), so each becomes a copy of its object (`_own_copy`). Nothing if it is
    not there. With `keep_foreign_links`, a symlink into another dvx cache whose object this
    cache lacks stays as it is, instead of stopping the command; those kept are returned
    (paths relative to the repository). `recorded`: the oid recorded for each file (by its
    full path, `_recorded_objects`), by which a hard link written through is told."""
    files = _files_of(repo, path, recorded)
    kept = [file for file in files if keep_foreign_links and _links_to_a_lacked_object(
        repo, file[0])]
    _own_copies(repo, [file for file in files if file not in kept], missing_ok=True)
    return [repo_relpath(repo.root, file) for file, _, _ in kept]


def _files_of(repo: Repo, path: str, recorded: Mapping[str, str] | None) -> list[_File]:
    """The files of the data at `path` (none if it is not there), each with the oid
    `recorded` gives it (by full path, `_recorded_objects`)."""
    full = repo.abspath(path)
    if not os.path.lexists(full):
        return []
    return [(file, path, (recorded or {}).get(file)) for file in _data_files(full)]


def make_kept_files_own(repo: Repo, path: str, git_held: Collection[str],
                        recorded: Mapping[str, str] | None = None) -> None:
    """Make the files Git's index holds in the data at `path` (`git_held`, relative to it,
    '' for `path` itself), which a delete of that data keeps, the user's own before anything
    is deleted: one left a hard link into the cache would change the object, and all data
    sharing it, when edited; one left a symlink into it would dangle once gc takes it.
    `recorded`: as for `make_own_copies`."""
    _own_copies(repo, _kept_files(repo, path, git_held, recorded), missing_ok=True)


def _kept_files(repo: Repo, path: str, git_held: Collection[str],
                recorded: Mapping[str, str] | None) -> list[_File]:
    """The files Git's index holds in the data at `path` (`git_held`, relative to it), each
    with the oid `recorded` gives it, as `_files_of` gives them."""
    files: list[_File] = []
    for rel in sorted(git_held):
        full = repo.abspath(posixpath.join(path, rel) if rel else path)
        if os.path.islink(full) or os.path.isfile(full):  # a submodule's folder holds no link
            files.append((full, path, (recorded or {}).get(full)))
    return files


def _links_to_a_lacked_object(repo: Repo, path: str) -> bool:
    """`path` is a symlink into another dvx cache (a moved or copied repository's) whose
    object this repository's cache lacks: no copy of it can be made from this cache."""
    if not os.path.islink(path) or \
            repo.cache.object_for_symlink(os.path.realpath(path)) is not None:
        return False
    oid = stale_link_oid(repo, path)
    return oid is not None and not os.path.exists(repo.cache.oid_path(oid))


def _data_files(full: str) -> list[str]:
    """The files (and symlinks) of the data at `full`: itself, or those of its directory."""
    if not os.path.isdir(full) or os.path.islink(full):
        return [full]
    walk = walk_directory(full)
    return [e.path for e in walk.files] + [join_posix(full, r) for r in walk.symlinks]


def _recorded_objects(repo: Repo, output: Output) -> dict[str, str]:
    """The oid `output`'s record gives each of its files, by full path (none for a directory
    whose manifest the cache lacks)."""
    full = repo.abspath(output.path)
    if not output.pointer.is_dir:
        return {full: output.pointer.oid}
    tree = load_tree(repo, output.pointer, output.recorded_in)
    return {} if tree is None else {
        join_posix(full, rel): entry.oid for rel, entry in tree.by_path().items()}


def _own_copies(repo: Repo, files: Sequence[_File],
                missing_ok: bool = False, tracked_after: bool = False) -> None:
    """Make each file of `files` writable and its own: a hard link or a symlink into the cache
    becomes a copy of the object. A symlink of the user's own (not into the cache) is left as it
    is; one into the cache whose object is gone is an error, unless `missing_ok`. A symlink a
    moved or copied repository kept into the cache it had becomes a copy of the same object of
    this cache, and is an error if this cache lacks it. An object an edit in place changed
    through a link no longer holds the bytes its oid names: every file linked to it holds the
    edit, and keeps it in its copy; once all of them are copied, the object is moved aside, as
    checkout does, with one warning naming them all (`set_aside_written`). `tracked_after`: the
    paths stay tracked, so a pull can place the recorded version."""
    holding = _holding_objects_written_through(repo, files)
    pending = {oid: {path for path, _ in held} for oid, held in holding.items()}
    for path, display, _ in files:
        _copy_of_its_object(repo, path, display, missing_ok)
        for oid, left in pending.items():
            left.discard(path)
            if not left and oid in holding:
                held = holding.pop(oid)
                pull_paths = list(dict.fromkeys(d for _, d in held)) if tracked_after else []
                set_aside_written(repo, oid, [p for p, _ in held], pull_paths)


def _holding_objects_written_through(repo: Repo, files: Sequence[_File]
                                     ) -> dict[str, list[tuple[str, str]]]:
    """{oid: (full path, tracked path) of each of `files` linked to it} for the objects an
    edit in place wrote through a link (`object_written_through` of any one of them): a
    file sharing that object's inode, or a symlink to it, holds the edit too, though its own
    stat may not show it."""
    objects: dict[str, os.stat_result] = {}
    for path, _, recorded in files:
        oid = object_written_through(repo, path, recorded)
        if oid is not None and oid not in objects:
            objects[oid] = os.stat(repo.cache.oid_path(oid))
    holding: dict[str, list[tuple[str, str]]] = {}
    for path, display, _ in files if objects else ():
        try:
            st = os.stat(path)
        except OSError:
            continue  # a dangling link holds no object's bytes
        oid = next((oid for oid, object_stat in objects.items()
                    if os.path.samestat(st, object_stat)), None)
        if oid is not None:
            holding.setdefault(oid, []).append((path, display))
    return holding


def _copy_of_its_object(repo: Repo, path: str, display: str, missing_ok: bool) -> None:
    st = os.lstat(path)
    if os.path.islink(path):
        target = os.path.realpath(path)
        if repo.cache.object_for_symlink(target) is None:
            stale_oid = stale_link_oid(repo, path)
            if stale_oid is not None:
                _own_copy_of_stale_link(repo, path, display, stale_oid)
            return  # otherwise the user's own link
        if not os.path.exists(target):
            if missing_ok:
                return
            raise PathError(f"'{display}': '{path}' links to a cache object that is gone.",
                            "`dvx pull` brings it back, or delete the link.")
        fsutil.place(target, path, ("copy",),
                     exec_bit=fsutil.is_executable(os.stat(path).st_mode))
    elif st.st_nlink > 1:
        fsutil.place(path, path, ("copy",), exec_bit=fsutil.is_executable(st.st_mode))
    else:
        fsutil.make_writable(path)


def _own_copy_of_stale_link(repo: Repo, path: str, display: str, oid: str) -> None:
    """Replace a link into the cache a moved or copied repository had by a copy of the same
    object of this repository's cache (what `dvx checkout --relink` would link to); never
    leave a link to another cache, which may be gone or be collected."""
    if not os.path.exists(repo.cache.oid_path(oid)):
        rel = repo_relpath(repo.root, path)
        name = f"'{rel}'" if rel == display else f"'{rel}' (of '{display}')"
        raise PathError(
            f"{name} is a symbolic link to an object of another dvx cache, "
            "as a repository moved or copied with cache.type symlink keeps, and this "
            "repository's cache lacks that object, so no copy of its data can be made here.",
            "`dvx pull` fetches it (`dvx checkout --relink` then links it to this "
            "repository's cache); then run this command again.")
    fsutil.place(repo.cache.oid_path(oid), path, ("copy",))  # executables are never linked
