"""Where data may be tracked: the checks a new place for a tracked path passes, whether
`dvx add` tracks it there or `dvx move` takes it there, and whether Git keeps out the data
placed there."""

from __future__ import annotations

import bisect
import os
import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from dvx import gitignore
from dvx.errors import PathError
from dvx.fsutil import NAME_MAX
from dvx.ignore import is_ignore_file, read_git_file
from dvx.lockfile import LOCK_FILE, PIPELINE_FILE
from dvx.logs import get_logger, pasted_args, quoted
from dvx.ops.former_outputs import own_gitignores_gone
from dvx.outputs import (
    Output,
    nested_repository_error,
    pipeline_declares,
    tracked_data_left_out,
)
from dvx.overlapping import dropping_gone_entry
from dvx.paths import (
    POINTER_SUFFIX,
    at_or_below_any,
    for_command,
    from_here,
    nearest_parent_in,
)
from dvx.repo import Repo
from dvx.scm import (
    GITLINK_MODE,
    git_add_command,
    stopped_operation,
    unmerged_entries,
    untrack_command,
    user_git,
)

log = get_logger(__name__)


def refuse_git_tracked(repo: Repo, rels: list[str], displays: list[str] | tuple[str, ...],
                       pointed: Collection[str] = (), not_data: Collection[str] = ()) -> None:
    """Refuse a path Git tracks, and one that is, holds or is inside a submodule: Git's
    index records a submodule (a gitlink) even when it is not checked out, an empty folder
    with no `.git` then. Git is asked once, about the top folders of the paths, which holds
    their parent folders too. Those of `rels` in `pointed` have a pointer of their own
    already: such a path Git tracks is refused as commit refuses it (`tracked_too_error`).
    `not_data`: files Git's index holds that the caller deletes rather than track (dvx's own
    .gitignore of a former output: ops/former_outputs.py), whose removal is Git's to record;
    one such an add deleted before (`own_gitignores_gone`) is no data either."""
    if repo.git is None:
        return
    modes = repo.git.index_modes(sorted({rel.partition("/")[0] for rel in rels}))
    submodules = {path: path for path, mode in modes.items() if mode == GITLINK_MODE}
    for rel, display in zip(rels, displays, strict=True):
        folder = nearest_parent_in(rel, submodules)
        if folder is not None:
            raise nested_repository_error(repo, rel, display, folder, in_index=True)
    display_of = dict(zip(rels, displays, strict=True))
    given = {rel: rel for rel in rels}
    within = {path: owner for path in modes
              if (owner := given.get(path) or nearest_parent_in(path, given))}
    not_data = {*not_data, *own_gitignores_gone(repo, within)}
    tracked = sorted((path, owner) for path, owner in within.items()
                     if not is_ignore_file(path[len(owner) + 1:]) and path not in not_data)
    held = [(path, rel) for path, rel in tracked if path in submodules]
    if held:  # `git rm --cached` would unregister the submodule: not the advice to give
        folder, rel = held[0]
        raise nested_repository_error(repo, rel, display_of[rel], folder, in_index=True)
    if tracked:
        first, rel = tracked[0]
        owner = display_of[rel]
        if rel in pointed:
            raise tracked_too_error(repo.root, rel, owner, first, None)
        raise PathError(
            f"'{owner}' is tracked by Git ('{first}' is in the Git index), so dvx will not take it "
            "over.",
            f"Stop tracking it in Git first: "
            f"{untrack_command(repo.root, rel, then_commit=True)}.",
        )


def tracked_by_git(repo: Repo, rels: list[str]) -> dict[str, str]:
    """{rel: the first path at or below it that Git's index holds} for those of `rels` (the
    data of tracked outputs) that Git tracks too, as `git add -f` puts them there: Git then
    versions the data itself, beside its pointer. Git is asked once, about all of them."""
    return first_within(tracked_by_git_within(repo, rels))


def first_within(within: dict[str, set[str]]) -> dict[str, str]:
    """{rel: the first path at or below it} of what `tracked_by_git_within` found."""
    return {rel: _joined(rel, min(inside)) for rel, inside in within.items()}


def tracked_by_git_within(repo: Repo, rels: list[str]) -> dict[str, set[str]]:
    """{rel: every path at or below it that Git's index holds, relative to it ('' for rel
    itself)} for those of `rels` (the data of tracked outputs) that Git tracks too
    (`tracked_by_git`). Git is asked once, about all of them."""
    return data_among(repo, held_by_git_within(repo, rels))


def data_among(repo: Repo, held: dict[str, set[str]]) -> dict[str, set[str]]:
    """Those of the paths Git's index holds (`held_by_git_within`) that would be data, the
    .dvxignore files aside: rules shared beside the data, never Git holding the data; and
    dvx's own .gitignore files an add deleted, whose removal Git has still to record
    (`own_gitignores_left`)."""
    gone = set(own_gitignores_left(repo, held))
    found = {}
    for rel, inside in held.items():
        data = {path for path in inside if not is_ignore_file(path)
                and _joined(rel, path) not in gone}
        if data:
            found[rel] = data
    return found


def own_gitignores_left(repo: Repo, held: dict[str, set[str]]) -> list[str]:
    """The .gitignore files among those Git's index holds (`held_by_git_within`) that are
    dvx's own, deleted by an add of the folder holding them, their removal not yet recorded
    in Git (`own_gitignores_gone`): repo-relative, sorted, each for a `git rm --cached`."""
    return own_gitignores_gone(repo, [_joined(rel, path) for rel, inside in held.items()
                                      for path in inside])


def _joined(rel: str, inside: str) -> str:
    return f"{rel}/{inside}" if inside else rel


def held_by_git_within(repo: Repo, rels: list[str]) -> dict[str, set[str]]:
    """{rel: every path at or below it that Git's index holds, relative to it ('' for rel
    itself), .dvxignore files included} for those of `rels` in or at which Git's index holds
    anything: what a rename of them would take away from Git. Git is asked once."""
    if repo.git is None or not rels:
        return {}
    given = {rel: rel for rel in rels}
    found: dict[str, set[str]] = {}
    for path in repo.git.tracked_under(sorted(given)):
        owner = given.get(path) or nearest_parent_in(path, given)
        if owner is not None:
            found.setdefault(owner, set()).add(path[len(owner) + 1:])
    return found


def submodules_within(repo: Repo, rels: list[str]) -> dict[str, str]:
    """{rel: the first submodule at or below it} for those of `rels` (the data of tracked
    outputs) at or in which Git's index holds a submodule (a gitlink), checked out or not:
    Git versions it as a submodule, and `git rm -r --cached` of it would unregister the
    submodule, never the way out to name. Git is asked once, about all of them."""
    if repo.git is None or not rels:
        return {}
    given = {rel: rel for rel in rels}
    found: dict[str, str] = {}
    for path, mode in sorted(repo.git.index_modes(sorted(given)).items()):
        owner = given.get(path) or nearest_parent_in(path, given)
        if mode == GITLINK_MODE and owner is not None:
            found.setdefault(owner, path)
    return found


# How the reasons start that name a submodule where tracked data goes (`submodule_why`)
SUBMODULE_HERE = ("it is a submodule of this repository", "it holds a submodule of this "
                  "repository")


def submodule_why(root: str, path: str, submodule: str, stage: str | None) -> str:
    """Why the tracked output `path` (of the pipeline stage `stage`, or with a pointer of its
    own) is left to Git, --force or not: `submodule` (`submodules_within`), a submodule of
    this repository, is at it or in it; its data goes elsewhere, never in the submodule."""
    what = SUBMODULE_HERE[0] if submodule == path else f"{SUBMODULE_HERE[1]}, '{submodule}'"
    return (f"{what}, which Git versions as a submodule, never as data: dvx leaves "
            f"'{path}' to Git, --force or not; {_elsewhere(root, path, stage, 'the submodule')}")


def in_git_note(root: str, path: str, shown: str) -> str:
    """How a message says that Git's index holds `shown` (the tracked output `path` itself,
    "it", or a file below it, as the message names it): left unmerged by a merge that
    stopped over it (`unmerged_within`), or put there beside the pointer (`git add -f`). The
    merge is named as the operation it is a step of (a cherry-pick, a rebase: `_left_by`)."""
    if unmerged_within(root, path):
        return (f"{shown} is unmerged in the Git index: a {_left_by(root)} stopped over it, "
                "one side tracking it with dvx and the other committing it to Git")
    return f"{shown} is in the Git index: `git add -f`?"


def tracked_by_git_ways(root: str, path: str, stage: str | None) -> str:
    """The ways out for the tracked output `path` (of the pipeline stage `stage`, or with a
    pointer of its own) whose path, or a file below it, Git's index holds too: the path is
    Git's (the team's code, say), so its data goes elsewhere; only data put in Git by mistake
    is taken out of Git, as `git rm --cached` of code would take it from every teammate. A
    merge left unmerged there names the ways out of that merge (`_merge_ways`)."""
    if stage is None and unmerged_within(root, path):
        return _merge_ways(root, path)
    return (f"{_elsewhere(root, path, stage, 'the files')}; if those files "
            f"are data put in Git by mistake, `{untrack_command(root, path)}` stops that and "
            f"keeps them (then `{user_git(root)} commit`)")


def unmerged_within(root: str, path: str) -> bool:
    """Does Git's index list `path`, or a file below it, as unmerged (a merge that stopped
    over data tracked by dvx on one side and committed to Git on the other: a modify/delete
    conflict)? Git is asked only when a message names such data."""
    return any(at_or_below_any(entry, {path}) for entry, _, _ in unmerged_entries(root) or [])


def _merge_ways(root: str, path: str) -> str:
    """The ways out of a merge stopped over the data `path`, which its pointer tracks here
    and Git's index holds unmerged: those the pre-commit hook names for such a merge (Git's
    index no longer holding the data, the pointer's data placed or what the merge left there
    recorded as the data), then what goes on with the Git operation under way, and its abort
    (`scm.stopped_operation`: a merge, or a rebase, a cherry-pick...; none after a `git stash
    pop`, which records none)."""
    data, git = for_command(root, path), user_git(root)
    operation = stopped_operation(root)
    left = operation.name if operation is not None else "merge"  # as `_left_by`
    ways = (f"`{untrack_command(root, path)}` takes it out of Git and keeps the files, then "
            f"`dvx checkout --force {data}` places the recorded data (replacing what the "
            f"{left} left there, which Git's history keeps) or `dvx commit {data}` records "
            f"what the {left} left there as the data; `git add` the .gitignore they change")
    if operation is None:
        return ways
    return (f"{ways}, then {operation.goes_on(git)}; or `{git} {operation.abort}` undoes "
            f"the {operation.name}, then `dvx checkout` places the data again")


def _left_by(root: str) -> str:
    """What a message calls the merge that left a conflict in the work tree at `root`: the
    Git operation under way it is a step of, else a merge (a `git stash pop` merges too)."""
    operation = stopped_operation(root)
    return operation.name if operation is not None else "merge"


def _elsewhere(root: str, path: str, stage: str | None, kept: str) -> str:
    """How the data of the tracked output `path` (of the stage `stage`, or with a pointer of
    its own) goes to another path, where Git holds `kept` (which stays as it is). A stage
    that dvx.yaml does not declare, only dvx.lock still names, has no output path to change:
    `repro` drops its entry, and the path is Git's alone."""
    if stage is not None and pipeline_declares(root, stage) is False:
        return f"to leave '{path}' to Git alone, run {dropping_gone_entry(stage)}"
    if stage is not None:
        return f"to place the data, give stage '{stage}' another output path in {PIPELINE_FILE}"
    pointer = for_command(root, path + POINTER_SUFFIX)
    return (f"to place the data, rename its pointer "
            f"{quoted(from_here(root, path + POINTER_SUFFIX))} (`git mv`), then `dvx "
            f"checkout` the new path; or `dvx remove {pointer}` stops tracking it and keeps "
            f"{kept}")


def ignored_by_git(repo: Repo, rels: list[str]) -> dict[str, str]:
    """{path: the .gitignore rule that ignores it} for those of `rels` (files of the
    workspace Git should record: dvx.lock, a `cache: false` output) that Git ignores and does
    not track (a cloned `*.lock` or `*.json` rule): `git add -A` leaves them out, and a
    commit, a clone and a teammate's `pull` get nothing of what they record. A folder Git
    records file by file (a `cache: false` output directory) counts by the files inside it
    that Git ignores and does not track (`*.csv`), each named: `git add` of the folder leaves
    them out, and the output a clone gets is not the one recorded."""
    if repo.git is None or not rels:
        return {}
    present = [rel for rel in rels if os.path.lexists(repo.abspath(rel))]
    rules = repo.git.ignore_rules(present)
    tracked = tracked_by_git(repo, sorted(rules)) if rules else {}
    found = {rel: rule for rel, rule in rules.items() if rel not in tracked}
    folders = [rel for rel in present if rel not in found and _is_folder(repo, rel)]
    found.update(_ignored_inside(repo, folders))
    return dict(sorted(found.items()))


def _is_folder(repo: Repo, rel: str) -> bool:
    full = repo.abspath(rel)
    return os.path.isdir(full) and not os.path.islink(full)


def _ignored_inside(repo: Repo, folders: list[str]) -> dict[str, str]:
    """{file: the rule ignoring it} for the files inside `folders` that Git ignores and does
    not track: Git lists them in one call, and is asked for their rules in one more."""
    if repo.git is None or not folders:
        return {}
    return repo.git.ignore_rules(repo.git.ignored_untracked(folders))


# Files a warning names of those Git ignores inside one folder; the rest are counted
_IGNORED_FILES_NAMED = 5


def warn_ignored_by_git(repo: Repo, rels: list[str], written: bool = True) -> dict[str, str]:
    """Warn of those of `rels` that Git ignores and does not track (`ignored_by_git`),
    naming the rule and the ways out: the run that wrote them is kept, but Git is not
    recording it. `written`: the command wrote them now (else: status found them). The
    paths warned of, with their rules: files inside a folder of `rels` are warned of
    together, as that folder's."""
    found = ignored_by_git(repo, rels)
    what = "written for Git to record" if written else "which Git should record"
    given = {rel: rel for rel in rels}
    inside: dict[str, dict[str, str]] = {}
    for rel, rule in found.items():
        if rel in given:
            _warn_ignored(repo, rel, rule, what)
        else:
            folder = nearest_parent_in(rel, given)
            inside.setdefault(folder or rel, {})[rel] = rule
    for folder, files in inside.items():
        _warn_ignored_inside(repo, folder, files, what)
    return found


@dataclass(frozen=True)
class Staging:
    """What a writing command did for Git with the files it wrote (`stage_for_git`)."""
    staged: list[str] = field(default_factory=list)  # `git add`ed (core.autostage)
    to_stage: list[str] = field(default_factory=list)  # for the user to `git add`
    ignored: dict[str, str] = field(default_factory=dict)  # Git ignores: path -> rule


def stage_for_git(repo: Repo, written: list[str], named: bool = True) -> Staging:
    """Stage (core.autostage) or name for `git add` those of `written` (files a command
    wrote for Git to record: pointers, dvx.lock, .gitignore files, `cache: false` outputs)
    that differ from Git's index; those Git ignores and does not track are neither, and a
    warning names the rule (`warn_ignored_by_git`). Every command writing such files ends
    here, so core.autostage leaves none of them changed but unstaged. `named`: False for a
    command that names nothing for `git add` (its files go into a commit of its own: `exp
    save`, `exp run --queue`), which then asks Git nothing without core.autostage."""
    if repo.git is None or not (named or repo.autostage):
        return Staging()
    written = list(dict.fromkeys(written))
    if not written:
        return Staging()
    ignored = warn_ignored_by_git(repo, written)
    changed = repo.git.changed(written)
    if not changed:
        return Staging(ignored=ignored)
    if repo.autostage:
        repo.git.stage(changed)
        return Staging(staged=changed, ignored=ignored)
    return Staging(to_stage=changed, ignored=ignored)


def _warn_ignored(repo: Repo, rel: str, rule: str, what: str) -> None:
    log.warning("WARNING: '%s', %s, is ignored by Git (rule %s) and not tracked: `git "
                "add -A` leaves it out, so a commit holds none of what it records and "
                "a clone or a teammate's `pull` gets nothing of it. Record it with `%s`, or "
                "let Git see it: add '!%s' after that rule.",
                rel, what, rule, git_add_command(repo.root, [rel], force=True), rel)


def _warn_ignored_inside(repo: Repo, folder: str, files: dict[str, str], what: str) -> None:
    named = [f"'{rel}' (rule {rule})" for rel, rule in list(files.items())[:_IGNORED_FILES_NAMED]]
    more = len(files) - len(named)
    listed = ", ".join(named) + (f", and {more} more" if more else "")
    log.warning("WARNING: Files inside '%s', %s, are ignored by Git and not tracked: %s. "
                "`git add -A` leaves them out, so a commit holds only part of what dvx.lock "
                "records and a clone or a teammate's `pull` finds the output changed. Record "
                "them with `%s`, or let Git see them: add '!/%s/**' after those rules.",
                folder, what, listed, git_add_command(repo.root, [folder], force=True), folder)


def refuse_tracked_by_git(repo: Repo, outputs: list[Output], displays: list[str]) -> None:
    """Refuse to record the data of `outputs` that Git tracks too (`tracked_by_git`), as
    `dvx add` refuses to take it over (`refuse_git_tracked`)."""
    tracked = tracked_by_git(repo, [output.path for output in outputs])
    submodules = submodules_within(repo, sorted(tracked))
    for output, display in zip(outputs, displays, strict=True):
        rel = output.path
        if rel in submodules:  # `git rm --cached` would unregister it: not the way out
            raise nested_repository_error(repo, rel, display, submodules[rel], in_index=True)
        if rel in tracked:
            raise tracked_too_error(repo.root, rel, display, tracked[rel], output.stage)


def tracked_too_error(root: str, rel: str, display: str, first: str, stage: str | None
                      ) -> PathError:
    """The refusal to record the data of the tracked output `rel` (of the stage `stage`, or
    with a pointer of its own) at whose path, or below it, Git's index holds `first`: the
    path may well be Git's (the team's code), so the hint names the ways that keep it so
    first (`tracked_by_git_ways`), never `git rm --cached` alone."""
    return PathError(
        f"'{display}' is tracked by Git too ('{first}' is in the Git index: the team's code, "
        "or data put there by `git add -f`), so Git versions what is there beside its "
        "pointer; dvx will not record it so.",
        f"The path is Git's: {tracked_by_git_ways(root, rel, stage)}.")


def not_ignored(repo: Repo, rels: list[str]) -> dict[str, str | None]:
    """{rel: the `!` rule that takes it back in (`'!/x' in .gitignore:2`), or None} for
    those of `rels` (the data of tracked outputs, in the workspace) that Git's rules do not
    ignore: their .gitignore entry went (a merge Git made without dvx's merge driver, `git
    reset --hard` after an uncommitted add, a hand edit), or a `!` rule after it takes the
    data back in, and but for data Git tracks already (`tracked_by_git`), `git add -A` would
    take the data itself into Git. Git is asked once, about all of them."""
    if repo.git is None or not rels:
        return {}
    rules = repo.git.matching_rules(rels)
    return {rel: rules[rel][0] if rel in rules else None for rel in rels
            if not rules.get(rel, ("", False))[1]}


# A .gitignore in Git's index larger than this is taken to differ, unread
_INDEXED_IGNORE_FILE_MAX = 1 << 20


def ignore_files_unlike_git_s(repo: Repo, rels: list[str]) -> list[str]:
    """The .gitignore files beside those of `rels` (data just recorded, or no longer dvx's)
    whose entries for them differ from those of the version in Git's index (or Git's index
    lacks one that holds some), relative to the root: a command stopped after writing the
    entries and before naming the file for `git add` (killed, or refused) left it so, and
    the next run names it as if it wrote them, whatever it changed itself. The user's own
    rules there are not compared: an edit of theirs alone names nothing."""
    if repo.git is None or not rels:
        return []
    names: dict[str, list[str]] = {}
    for rel in rels:
        names.setdefault(posixpath.join(posixpath.dirname(rel), ".gitignore"), []).append(
            posixpath.basename(rel))
    indexed = repo.git.index_entries(sorted(names))
    found = []
    for ignore_file, held in names.items():
        try:
            here = gitignore.entries_held(read_git_file(repo.abspath(ignore_file)), held)
        except PathError:  # a symbolic link or a folder: not one dvx writes
            continue
        entry = indexed.get(ignore_file)
        indexed_text = None if entry is None else repo.git.small_blob(
            entry[1], _INDEXED_IGNORE_FILE_MAX)
        unread = entry is not None and indexed_text is None
        if unread or here != gitignore.entries_held(indexed_text, held):
            found.append(ignore_file)
    return found


def ignore_after_rules_taking_back(repo: Repo, rels: list[str]) -> list[str]:
    """Make Git ignore the data of those of `rels` (just recorded, or placed where dvx
    records them: by add, commit, repro, move, import) that a `!` rule after their
    .gitignore entry takes back into Git, where `git add -A` would commit the data itself:
    recording a path is asking dvx, not Git, to keep its data, so the entry is put after
    that rule, and a warning names the rule (a teammate's, perhaps). The .gitignore files
    changed, relative to the root. Git is asked only about data whose .gitignore has such a
    rule; data Git's index holds is left to the check that refuses it."""
    if repo.git is None:
        return []
    by_path = {repo.abspath(rel): rel for rel in rels}
    suspects = [by_path[path] for path in gitignore.negated_after_entry(list(by_path))]
    if not suspects:
        return []
    changed = []
    for rel, rule in sorted(not_ignored(repo, suspects).items()):
        if rule is None:
            continue
        gitignore.move_entry_last(repo.abspath(rel))
        changed.append(posixpath.join(posixpath.dirname(rel), ".gitignore"))
        log.warning("WARNING: The rule %s took '%s' back into Git, where `git add -A` would "
                    "commit the data itself: its entry is written again after that rule, so "
                    "Git ignores the data (commit the .gitignore; remove the rule if nothing "
                    "else needs it).", rule, for_command(repo.root, rel))
    return list(dict.fromkeys(changed))


def refuse_ignored_pointers(repo: Repo, rels: list[str]) -> None:
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


def refuse_left_out_tracking(repo: Repo, rels: list[str],
                             displays: list[str] | tuple[str, ...]) -> None:
    """Refuse to add data tracked by a pointer that Git's index holds while this sparse
    checkout leaves it out of the workspace (`tracked_data_left_out`): its own, a tracked
    directory's holding it, or one of data inside it. dvx cannot read such a pointer, so it
    cannot tell what it names (a teammate's change, brought by `git pull`) from the data on
    disk (Git leaves that as it was): adding would write over it, or track data twice."""
    left_out = tracked_data_left_out(repo, rels)
    for rel, display in zip(rels, displays, strict=True):
        found = left_out.get(rel)
        if found is None:
            continue
        pointer = found.pointers[0]
        tracked = pointer[: -len(POINTER_SUFFIX)]
        only_in_index = (f"its pointer file '{pointer}' is in Git's index only: this sparse "
                         "checkout leaves it out of the workspace, where dvx reads pointers")
        bring_back = f"Add it to the sparse checkout: {found.adding(repo.root)}"
        if tracked == rel:
            raise PathError(
                f"'{display}' is tracked by dvx already, but {only_in_index}. What it names "
                "now (a teammate's change, brought by `git pull`) cannot be told from the "
                "data on disk, and adding would write over it.",
                f"{bring_back}; then `dvx status {for_command(repo.root, rel)}` tells whether "
                "the data here is older or changed here.")
        if rel.startswith(tracked + "/"):
            raise PathError(
                f"'{display}' is inside '{tracked}', which dvx already tracks ({only_in_index}).",
                f"{bring_back}; then `dvx commit {for_command(repo.root, tracked)}` records "
                "changes inside it.")
        raise PathError(
            f"'{display}' contains '{tracked}', which dvx already tracks on its own "
            f"({only_in_index}).",
            f"{bring_back}; then `dvx remove {for_command(repo.root, pointer)}` first to "
            "track the whole directory instead.")


class TrackedPaths:
    """The paths of the tracked outputs, for `refuse_overlap` of many targets at once (an add
    of every file again): a parent is one set lookup, and what lies inside a path one binary
    search in the sorted paths, never a scan of every output per target."""

    def __init__(self, paths: Iterable[str], stages: Mapping[str, str] | None = None) -> None:
        self._paths = set(paths)
        self._sorted = sorted(self._paths)
        self._stages = stages or {}  # the pipeline stage whose output a path is, if one's

    def stage_of(self, path: str) -> str | None:
        """The pipeline stage whose output `path` is (dvx.lock records it); None for data
        tracked with `dvx add`."""
        return self._stages.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def first_inside(self, rel: str) -> str | None:
        """The first (in sorted order) tracked path inside the folder `rel`, if any: those
        starting with `rel/` sort together, from where `rel/` would go."""
        prefix = rel + "/"
        at = bisect.bisect_left(self._sorted, prefix)
        if at < len(self._sorted) and self._sorted[at].startswith(prefix):
            return self._sorted[at]
        return None


def refuse_long_names(rel: str, display: str, hint: str) -> None:
    """Refuse a path whose pointer file, or one of whose folders, would have a name longer
    than any filesystem holds: checked before anything is written, so nothing is left
    half-done when the filesystem refuses it."""
    *folders, name = rel.split("/")
    for folder in folders:
        if len(os.fsencode(folder)) > NAME_MAX:
            raise PathError(f"'{display}' has a folder name too long: '{folder}' is "
                            f"{len(os.fsencode(folder))} bytes, over the limit of {NAME_MAX}.",
                            hint)
    pointer_name = os.fsencode(name + POINTER_SUFFIX)
    if len(pointer_name) > NAME_MAX:
        raise PathError(f"'{display}' has a name too long to track: its pointer file's name "
                        f"would be {len(pointer_name)} bytes, over the limit of {NAME_MAX}.",
                        hint)


def refuse_overlap(root: str, rel: str, display: str, tracked: TrackedPaths,
                   again: str = "run this command again") -> None:
    """Refuse a new place for tracked data (`rel`) inside tracked data or holding some.
    `again`: the command to run again once the way out is taken (`dvx add res`)."""
    parent = rel.rpartition("/")[0]
    while parent:
        if parent in tracked:
            raise PathError(f"'{display}' is inside '{parent}', which dvx already tracks.",
                            f"Run `dvx commit {for_command(root, parent)}` to record changes "
                            "inside it.")
        parent = parent.rpartition("/")[0]
    inside = tracked.first_inside(rel)
    stage = tracked.stage_of(inside) if inside is not None else None
    if inside is not None and stage is not None and pipeline_declares(root, stage) is False:
        raise _holding_a_gone_output(root, display, inside, stage, again)
    if inside is not None and stage is not None:  # no pointer to remove: dvx.yaml declares it
        raise PathError(f"'{display}' contains '{inside}', an output of the pipeline stage "
                        f"'{stage}' (recorded in {LOCK_FILE}), which dvx tracks on its own.",
                        f"Change the stage in {PIPELINE_FILE} instead: have it output the whole "
                        f"directory ('{rel}'), then run `dvx repro {pasted_args(stage)}`; or "
                        "track the other paths in it one by one.")
    if inside is not None:
        raise PathError(f"'{display}' contains '{inside}', which dvx already tracks on its "
                        "own.", f"Run `dvx remove {for_command(root, inside + POINTER_SUFFIX)}`"
                        " first, then the `git add` it names, which stages the pointer's "
                        "removal (in a repository using Git), to track the whole directory "
                        "instead.")


def _holding_a_gone_output(root: str, display: str, inside: str, stage: str, again: str
                           ) -> PathError:
    """The refusal of `display`, holding `inside`, an output of the dvx.lock entry of `stage`,
    which dvx.yaml does not declare: no stage of dvx.yaml can take it in, so the way out is
    the run that drops that entry (dvx.yaml missing, `repro` drops nothing until one says
    the pipeline is given up)."""
    what = (f"'{display}' contains '{inside}', an output of the pipeline stage '{stage}' "
            f"that {LOCK_FILE} still records")
    if not os.path.lexists(os.path.join(root, PIPELINE_FILE)):
        return PathError(f"{what}, while {PIPELINE_FILE} is missing.",
                         f"Restore {PIPELINE_FILE} to keep the pipeline (`dvx status` says "
                         f"how); to give it up, write a {PIPELINE_FILE} holding `stages: {{}}` "
                         f"and run `dvx repro`, which drops that entry, then {again}.")
    return PathError(f"{what}, though {PIPELINE_FILE} no longer declares that stage.",
                     f"Run {dropping_gone_entry(stage)}, then {again}.")


def refuse_nested_targets(rels: list[str], displays: list[str] | tuple[str, ...]) -> None:
    """Paths given together are tracked as separate outputs, so none may hold another: the
    same rule `refuse_overlap` applies to what is tracked already, checked before anything
    is written."""
    given = dict(zip(rels, displays, strict=True))
    for rel, display in given.items():
        parent = rel.rpartition("/")[0]
        while parent:
            if parent in given:
                raise PathError(f"'{display}' is inside '{given[parent]}', which is named too; "
                                "dvx tracks each path named as its own output.",
                                f"Name only '{given[parent]}' to track it whole, or only the "
                                "paths inside it to track them one by one.")
            parent = parent.rpartition("/")[0]


def refuse_dvxignored(repo: Repo, rel: str, is_dir: bool, display: str, hint: str) -> None:
    """Data .dvxignore leaves out is never tracked: refused, naming the rule."""
    ignored = repo.dvxignore.check(rel, is_dir)
    if ignored is not None:
        raise PathError(f"'{display}' is ignored by {ignored.source} (rule '{ignored.pattern}' "
                        f"on line {ignored.line}).", hint)
