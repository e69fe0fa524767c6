"""dvx add: start tracking files and directories (recording goes through ops/commit.py)."""

from __future__ import annotations

import os
import posixpath
import stat

from dvx.errors import PathError, UsageError
from dvx.fsutil import NAME_MAX
from dvx.ops.commit import AddResult, finish, refuse_if_behind, track
from dvx.ops.status import output_status
from dvx.outputs import Output, check_data_path, scan_outputs, skip_broken
from dvx.paths import POINTER_SUFFIX, repo_relpath
from dvx.repo import Repo
from dvx.workspace import remove_temporaries_beside, symlink_error


def add(repo: Repo, paths: list[str] | tuple[str, ...], force: bool = False) -> AddResult:
    if not paths:
        raise UsageError("Nothing to add.", "Name the files or directories to track.")
    rels = [_check_addable(repo, p) for p in paths]
    found, broken = scan_outputs(repo)
    for item in broken:
        if any(item.touches(rel) for rel in rels):
            raise item.error
    skip_broken(repo, broken)
    outputs = {o.path: o for o in found}
    for rel, display in zip(rels, paths, strict=True):
        _refuse_stage_output(outputs.get(rel), display)
        _refuse_overlap(rel, display, outputs)
    _refuse_git_tracked(repo, rels, paths)
    _refuse_ignored_pointers(repo, rels)
    with repo.lock():
        remove_temporaries_beside(repo.root, rels)
        for rel in dict.fromkeys(rels):
            if rel in outputs:
                refuse_if_behind(output_status(repo, outputs[rel]), force)
        results = [track(repo, rel, outputs.get(rel)) for rel in dict.fromkeys(rels)]
        return finish(repo, results)


def _check_addable(repo: Repo, path: str) -> str:
    rel = repo_relpath(repo.root, path)
    check_data_path(repo, rel, path)
    pointer_name = os.fsencode(posixpath.basename(rel) + POINTER_SUFFIX)
    if len(pointer_name) > NAME_MAX:
        raise PathError(f"'{path}' has a name too long to track: its pointer file's name would "
                        f"be {len(pointer_name)} bytes, over the limit of {NAME_MAX}.",
                        "Rename it, or track the directory that holds it.")
    full = repo.abspath(rel)
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        raise PathError(f"'{path}' does not exist.") from None
    if stat.S_ISLNK(st.st_mode):
        if repo.cache.object_for_symlink(os.path.realpath(full)) is None:
            raise symlink_error(path)
    elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PathError(f"'{path}' is not a regular file or directory.")
    ignored = repo.dvxignore.check(rel, stat.S_ISDIR(st.st_mode))
    if ignored is not None:
        raise PathError(f"'{path}' is ignored by {ignored.source} (rule '{ignored.pattern}' on "
                        f"line {ignored.line}).", "Change that rule to track it; `dvx "
                        f"check-ignore -d {path}` shows what ignores a path.")
    return rel


def _refuse_git_tracked(repo: Repo, rels: list[str], displays: list[str] | tuple[str, ...]
                        ) -> None:
    if repo.git is None:
        return
    tracked = repo.git.tracked_under(rels)
    if tracked:
        first = tracked[0]
        owners = (d for r, d in zip(rels, displays, strict=True)
                  if first == r or first.startswith(r + "/"))
        owner = next(owners, first)
        raise PathError(
            f"'{owner}' is tracked by Git ('{first}' is in the Git index), so dvx will not take it "
            "over.",
            f"Stop tracking it in Git first: git rm -r --cached '{owner}' && git commit.",
        )


def _refuse_ignored_pointers(repo: Repo, rels: list[str]) -> None:
    """A pointer Git would ignore would never be committed: teammates would never see it."""
    if repo.git is None:
        return
    rules = repo.git.ignore_rules([rel + POINTER_SUFFIX for rel in rels])
    if rules:
        pointer, rule = next(iter(sorted(rules.items())))
        raise PathError(
            f"'{pointer}', the pointer file dvx would write, is ignored by Git (rule {rule}), "
            "so it would never be committed and teammates would never see the data.",
            f"Track a path that is not ignored, or let Git see the pointer: add "
            f"'!{pointer}' after that rule (a file inside an ignored directory needs the "
            "directory un-ignored too).")


def _refuse_stage_output(output: Output | None, display: str) -> None:
    if output is not None and output.stage is not None:
        raise PathError(f"'{display}' is an output of the pipeline stage '{output.stage}' "
                        "(recorded in dvx.lock), not data to add.", f"Run `dvx repro "
                        f"{output.stage}` to rebuild it, or `dvx commit {display}` to record it "
                        "as it is now.")


def _refuse_overlap(rel: str, display: str, outputs: dict[str, Output]) -> None:
    parent = rel.rpartition("/")[0]
    while parent:
        if parent in outputs:
            raise PathError(f"'{display}' is inside '{parent}', which dvx already tracks.",
                            f"Run `dvx commit {parent}` to record changes inside it.")
        parent = parent.rpartition("/")[0]
    inside = [p for p in outputs if p.startswith(rel + "/")]
    if inside:
        raise PathError(f"'{display}' contains '{inside[0]}', which dvx already tracks on its "
                        "own.", f"Run `dvx remove {inside[0]}.dvx` first to track the whole "
                        "directory instead.")


