"""`dvx exp apply`: make the workspace an experiment, its files written as its commit has
them and its outputs checked out, Git's index set to match, refused before anything is written
when that would lose work nothing else holds (saved_work.py judges what is saved; the files
are written by workspace_writes.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from dvx import faults
from dvx.errors import OtherAlgorithmError, UsageError
from dvx.experiment_refs import (
    Experiment,
    changed_files,
    experiment_path_problem,
    find,
    git_of,
    head,
)
from dvx.exps.saved_work import may_hold_changes, staged_unsaved, unsaved_files
from dvx.exps.workspace_writes import (
    attributes_keeping_installed,
    clashing_writes,
    ignore_files_keeping_data,
    saved_but_for_kept_entries,
    write_as_in_git,
)
from dvx.hash_setting import revision_algo_mismatch
from dvx.history import History
from dvx.lock import EXPERIMENT, Work, began_writing
from dvx.lockfile import (
    LOCK_FILE,
    MAX_LOCK_BYTES,
    PIPELINE_FILE,
    StageLock,
    parse_lock,
    uncached_paths,
)
from dvx.ops.checkout import (
    CheckoutResult,
    blocked,
    changed_in_cache,
    checkout,
)
from dvx.outputs import Output, Target, all_outputs, in_cache, scan_outputs
from dvx.paths import POINTER_SUFFIX, walk_directory
from dvx.repo import DVX_DIR, Repo
from dvx.scm import MAX_GIT_FILE_BYTES, Git
from dvx.wording import named_list
from dvx.workspace import holding_why, repository_inside, set_aside_changed

# This workspace's settings (a remote added, say), not an experiment's: the apply writes
# them only as an experiment that changed them has them, and never sets them back.
SETTINGS = f"{DVX_DIR}/config"


@dataclass
class Applied:
    experiment: Experiment
    files: list[str]  # workspace files written or removed as the experiment has them
    set_back: list[str]  # of those, the files it did not change that the workspace had
    kept: list[str]  # files and outputs it did not change, kept for their unsaved changes
    checkout: CheckoutResult
    unstaged: list[str]  # of `set_back`, those whose staged change Git's index no longer has
    kept_staged: list[str]  # of `files`, those whose staged change nothing else holds, kept
    unstaged_written: list[str]  # the experiment's files whose staged change a commit holds,
    # undone in Git's index (the workspace has the experiment's version)
    new_to_git: list[str]  # the experiment's files HEAD lacks, staged in Git's index
    moved_inputs: list[str]  # its stages' inputs HEAD has changed since its baseline


def apply(repo: Repo, name: str, force: bool = False) -> Applied:
    """Make the workspace the experiment for every file Git tracks: the files it changed
    against its baseline (params, code, dvx.lock, metrics) as it has them, the other files
    the workspace changed as HEAD has them (another experiment's run left its code, say),
    and check out the outputs they record. Refused, before anything is written, when HEAD
    does not contain the experiment's baseline (the results would go without the baseline's
    code) or has moved on from it and changed the same files (applying would undo those
    changes), and, unless `force`, when it would overwrite the experiment's files
    or outputs with changes that neither Git, an experiment of HEAD nor the cache holds.
    Such changes to the files it did not change (a `dvx add` of a new version, a hand edit)
    are kept, `force` or not, and named in `kept`: they are the user's work, not a run's.
    All of it under the repository lock: a run or another apply writing the workspace
    meanwhile would leave it a mix of two experiments, and, killed, the apply is named
    until it (or another apply) is run again."""
    with repo.lock() as lock:
        lock.working_on(Work(EXPERIMENT, None))
        applied = _apply(repo, name, force)
        if not applied.checkout.ok:  # outputs not all placed: not done
            lock.failed()
        return applied


def _apply(repo: Repo, name: str, force: bool) -> Applied:
    exp = find(repo, name)
    git = git_of(repo)
    files = changed_files(git, exp)  # a hostile one refused before anything is written
    current = head(repo)
    moved_inputs = []
    if exp.baseline != current:
        files = _since_baseline(git, exp, current, files)
        moved_inputs = _inputs_head_changed(repo, git, exp, current)
    uncached = _uncached_outputs(repo, git, exp, files)
    files += _uncached_outputs_behind(git, exp, files, uncached)
    files += _strays_in_uncached_directories(repo, git, exp, files, uncached)
    ours = set(files)
    set_back = [rel for rel in git.changed_since(current)
                if rel not in ours and rel != SETTINGS]  # the workspace's, not a run's
    sources = dict.fromkeys(files, exp.commit) | dict.fromkeys(set_back, current)
    modes = {rel: mode for commit in (exp.commit, current)
             for rel, mode in _modes_at(git, commit, sources).items()}
    # Git's index is set for all the experiment's files: also those the workspace has as the
    # apply would write them, taken out of `sources` below (a .gitignore HEAD lacks, say)
    its_files = [rel for rel in sources if rel in ours]
    # Written with the lines of dvx's the workspace has: its .gitignore entries for data it
    # keeps, and dvx install's .gitattributes lines (this clone's set-up, as SETTINGS is)
    dvx_lines = ignore_files_keeping_data(repo, git, sources, modes, _data_tracked_at(repo)) \
        | attributes_keeping_installed(repo, git, sources, modes)
    set_back = [rel for rel in set_back if rel in sources]
    # Work no commit or experiment holds in files the experiment did not change is kept,
    # --force or not: a `dvx add` of a new version, a hand edit (they are not a run's).
    kept = unsaved_files(repo, may_hold_changes(git, set_back), exp.commit)
    kept = [rel for rel in kept if not _saved_but_for_lines_of_dvx(repo, git, rel, sources,
                                                                   dvx_lines)]
    set_back = [rel for rel in set_back if rel not in kept]
    kept_outputs, recording = _unsaved_outputs_set_back(repo, current, set_back)
    for rel in kept + recording:
        sources.pop(rel, None)
        modes.pop(rel, None)
    set_back = [rel for rel in set_back if rel in sources]
    staged = git.staged(current, set_back)
    kept_staged = staged_unsaved(repo, git, staged, exp.commit)
    # A version staged of the experiment's own files: the workspace's goes (theirs is written)
    staged_written = git.staged(current, its_files)
    kept_staged_written = staged_unsaved(repo, git, staged_written, exp.commit,
                                         workspace_holds=False)
    new_files, new_to_git = _new_to_git(git, exp.commit, current, its_files,
                                        kept_staged_written)
    clashes = clashing_writes(repo, list(sources), set(modes))
    if clashes:
        raise UsageError(f"Applying '{exp.name}' would write files where the workspace has "
                         f"something else: {_some(clashes)}.",
                         "Move those out of the way first (--force does not replace them).")
    dirty = unsaved_files(repo, may_hold_changes(git, [rel for rel in sources if rel in ours]),
                          exp.commit)
    dirty = [rel for rel in dirty
             if not _saved_but_for_lines_of_dvx(repo, git, rel, sources, dvx_lines)]
    if dirty and not force:
        raise UsageError(f"Applying '{exp.name}' would overwrite changes not committed to Git: "
                         f"{_some(dirty)}.", "Commit or stash them first, or use --force.")
    targets = (_outputs_recorded_in(repo, exp.commit, files, exp.baseline)
               + _outputs_recorded_in(repo, current, set_back, current))
    absent = [t.output for t in targets if not in_cache(repo, t.output)]
    if absent:
        raise UsageError(f"Applying '{exp.name}' needs data that is not in the cache: "
                         f"{_some([o.path for o in absent])}.", _how_to_get(exp, absent))
    # A file of the outputs that the apply writes or removes as a commit has it (dvx's own
    # res/.gitignore, once Git's index no longer holds it) was judged with the files above
    stuck = [] if force else [(path, why) for path, why in blocked(repo, targets)
                              if path not in sources]
    if stuck:
        raise UsageError(f"Applying '{exp.name}' would overwrite outputs with changes that are "
                         "not in the cache, or were made here since the last checkout: "
                         f"{_some([path for path, _ in stuck])}.",
                         "`dvx commit` or move them first, or use --force.")
    _refuse_changed_in_cache(repo, exp, targets)
    began_writing(repo.tmp_dir)  # an error from here on may leave it half-applied
    for rel in sorted(sources, key=lambda rel: rel in modes):  # removals first: a file may
        write_as_in_git(repo.abspath(rel),  # take the place of a directory they empty
                        dvx_lines[rel] if rel in dvx_lines
                        else git.blob_at(sources[rel], rel, MAX_GIT_FILE_BYTES) if rel in modes
                        else None, modes.get(rel))
        faults.point("apply.after_file")
    # In Git's index too, or `git commit -a` would commit another experiment's staged
    # change (a `git rm` of code the pipeline needs) beside these files, and `git commit`
    # a version of the experiment's files other than the one the workspace has now
    unstaged = [rel for rel in staged if rel not in kept_staged]
    unstaged_written = [rel for rel in staged_written
                        if rel not in kept_staged_written and rel not in new_files]
    git.reset_index(current, unstaged + unstaged_written)
    # A file HEAD lacks (a metrics file the run wrote first) would be left out of `git commit
    # -a`, which then would not be the experiment. Staged, not `git add -N`: an entry holding
    # nothing is emptied by `git checkout -- .` and stops `git stash`.
    git.add_files(new_to_git)
    paths = {t.output.path for t in targets}
    written = [Target(o) for o in all_outputs(repo) if o.path in paths]
    return Applied(exp, list(sources), set_back, sorted(kept + kept_outputs),
                   checkout(repo, written, force=force), unstaged,
                   sorted(kept_staged + kept_staged_written), unstaged_written, new_to_git,
                   moved_inputs)


def _data_tracked_at(repo: Repo) -> Callable[[str], list[str]]:
    """The paths of the data a commit tracks (its pointers' and dvx.lock's cached outputs),
    each commit read once, and only when asked."""
    known: dict[str, list[str]] = {}

    def data_at(commit: str) -> list[str]:
        if commit not in known:
            with History(repo) as history:
                known[commit] = [o.path for o in history.at(commit).outputs]
        return known[commit]
    return data_at


def _saved_but_for_lines_of_dvx(repo: Repo, git: Git, rel: str, sources: dict[str, str],
                                dvx_lines: dict[str, bytes | None]) -> bool:
    """Whether the workspace's `rel`, unsaved as it is, is saved but for the lines of dvx's
    that what the apply writes of it (`dvx_lines`) keeps: a .gitignore's entries of data an
    uncommitted `dvx add` tracks, the .gitattributes lines of `dvx install`. Writing it loses
    none of the user's work."""
    return rel in dvx_lines and saved_but_for_kept_entries(repo, git, rel, sources[rel],
                                                         dvx_lines[rel])


def _new_to_git(git: Git, applied: str, current: str, files: list[str], kept: list[str]
                ) -> tuple[list[str], list[str]]:
    """Those of the experiment's `files` that it has and HEAD `current` lacks, and of those,
    the ones whose entry in Git's index is not `applied`'s version: the apply stages these,
    so the `git commit -a` that follows takes them too. Not those whose staged version it
    `kept` (the user's)."""
    theirs = git.entries_at(applied, files)
    in_head = git.modes_at(current, list(theirs))
    new = [rel for rel in theirs if rel not in in_head]
    staged = git.index_entries(new) if new else {}
    return new, [rel for rel in new if rel not in kept and staged.get(rel) != theirs[rel]]


def _unsaved_outputs_set_back(repo: Repo, current: str, set_back: list[str]
                              ) -> tuple[list[str], list[str]]:
    """The outputs that setting back `set_back` (the files the experiment did not change, as
    HEAD `current` has them) would check out over changes the cache does not hold, and the
    pointers (or dvx.lock) of those that record them: both kept, --force or not, as the
    files are (--force is for the experiment's own files and outputs only)."""
    targets = _outputs_recorded_in(repo, current, set_back, current)
    skipped = [path for path, _ in blocked(repo, targets)]  # a directory's: files in it
    stuck = [t.output for t in targets
             if any(path == t.output.path or path.startswith(t.output.path + "/")
                    for path in skipped)]
    return (sorted({o.path for o in stuck}),
            sorted({LOCK_FILE if o.stage else o.pointer_path for o in stuck}))


def _modes_at(git: Git, commit: str, sources: dict[str, str]) -> dict[str, str]:
    """{path: mode} of those of the `sources` paths taken from `commit` that it has."""
    mine = [rel for rel, source in sources.items() if source == commit]
    return git.modes_at(commit, mine) if mine else {}


def _since_baseline(git: Git, exp: Experiment, current: str, files: list[str]) -> list[str]:
    """The experiment's changed `files` still to write on top of HEAD `current`, which is not
    its baseline. Refused when HEAD lacks some of what the baseline committed (HEAD is behind
    it, or went another way): the results would be paired with files other than those the run
    had, which the apply does not write. Refused too if HEAD changed any of `files`
    differently since the baseline (applying would undo that)."""
    moved = set(git.changed_between(exp.baseline, current))
    lacking = _baseline_changes_lacking(git, exp.baseline, current, moved)
    if lacking:
        start = exp.baseline[:7]
        _refuse_a_baseline_no_project_holds(git, exp)
        raise UsageError(
            f"'{exp.name}' started from commit {start}, which HEAD does not contain: HEAD "
            f"lacks its versions of {_some(lacking)}. Applying it would pair its results with "
            "files other than those it ran with.",
            f"Bring {start} into your branch first (`git pull`, or `git merge {start}`) and "
            f"apply again, or get the experiment with its files on a branch of its own: "
            f"`dvx exp branch {exp.name} BRANCH`.")
    differing = _held_otherwise(git, current, exp.commit, [rel for rel in files if rel in moved])
    clash = [rel for rel in files if rel in differing]
    if clash:
        raise UsageError(
            f"'{exp.name}' started from {exp.baseline[:7]}, and since then HEAD changed files "
            f"the experiment changed too: {_some(clash)}. Applying it would undo those "
            "changes.", f"Run it again from HEAD (`dvx exp run` with the same -S), or make a "
            f"branch of it (`dvx exp branch {exp.name} BRANCH`) and merge that with Git.")
    return [rel for rel in files if rel not in moved]


def _refuse_a_baseline_no_project_holds(git: Git, exp: Experiment) -> None:
    """Refuse, never offering to merge it, a baseline HEAD lacks that holds files no
    project's commit does (experiment_path_problem): one shipped with a hand-made
    experiment, whose merge would write them."""
    tree = {rel for rel, _ in git.ls_tree_files(exp.baseline)}
    bad = sorted((rel, why) for rel in tree  # a nested project's files it holds are its own
                 if (why := experiment_path_problem(rel, tree)))
    if bad:
        shown = named_list(bad, most=5, name=lambda b: f"'{b[0]}' ({b[1]})")
        raise UsageError(
            f"'{exp.name}' started from commit {exp.baseline[:7]}, which HEAD does not "
            f"contain and which holds files no project's commit does: {shown}. It was made "
            "by other means than dvx, and merging it would write them.",
            f"Remove it (`dvx exp remove {exp.name}`) and ask whoever shared it how it was "
            "made.")


def _inputs_head_changed(repo: Repo, git: Git, exp: Experiment, current: str) -> list[str]:
    """The inputs of the experiment's stages that HEAD `current`, moved on since its
    baseline, has otherwise than the experiment ran with: dvx.yaml, the params files and
    dependencies its dvx.lock records (files at or below a dependency directory too), and
    the pointer files tracking those dependencies. The apply keeps HEAD's versions, so the
    stages using them are stale in the workspace."""
    locks = _experiment_locks(repo, git, exp)
    deps = {dep.path for lock in locks.values() for dep in lock.deps}
    params_files = {file for lock in locks.values() for file in lock.params}

    def is_input(rel: str) -> bool:
        data_path = rel[:-len(POINTER_SUFFIX)] if rel.endswith(POINTER_SUFFIX) else rel
        return rel == PIPELINE_FILE or rel in params_files or any(
            data_path == dep or data_path.startswith(dep + "/") or dep.startswith(data_path + "/")
            for dep in deps)

    inputs = [rel for rel in git.changed_between(exp.baseline, current) if is_input(rel)]
    return sorted(_held_otherwise(git, current, exp.commit, inputs))


def _held_otherwise(git: Git, one: str, other: str, files: list[str]) -> set[str]:
    """Those of `files` whose content the commits `one` and `other` differ in (or that only
    one of them has)."""
    if not files:
        return set()
    ours, theirs = git.entries_at(one, files), git.entries_at(other, files)
    absent = ("", "")  # (mode, blob id) of a file a commit lacks
    return {rel for rel in files if ours.get(rel, absent)[1] != theirs.get(rel, absent)[1]}


def _baseline_changes_lacking(git: Git, baseline: str, current: str, moved: set[str]
                              ) -> list[str]:
    """The files the commits from the common ancestors of `baseline` and HEAD `current` to
    `baseline` changed that HEAD does not have as `baseline` has them (`moved`: the files
    the two differ in). None when HEAD descends from `baseline`; those that differ when the
    two share no history."""
    bases = git.merge_bases(baseline, current)
    if baseline in bases:
        return []
    if not bases:
        return sorted(moved)
    ahead = {rel for base in bases for rel in git.changed_between(base, baseline)}
    return sorted(moved & ahead)


def _outputs_recorded_in(repo: Repo, commit: str, files: list[str], since: str
                         ) -> list[Target]:
    """The outputs that `commit`'s versions of `files` (pointers, dvx.lock) record, except
    those that neither changed since the commit `since` nor the workspace's records differ
    in, once the workspace holds them as placed (an unrelated stage's outputs are left as
    they are; one an apply killed half-way left unplaced is not)."""
    written = set(files)
    if not written:
        return []
    now = {o.path: o.pointer.oid for o in scan_outputs(repo)[0]}
    with History(repo) as history:
        before = {o.path: o.pointer.oid for o in history.at(since).outputs}
        outputs = history.at(commit).outputs
    return [Target(o) for o in outputs
            if (LOCK_FILE if o.stage else o.pointer_path) in written
            and (not now.get(o.path) == before.get(o.path) == o.pointer.oid
                 or _left_unplaced(repo, o))]


def _left_unplaced(repo: Repo, output: Output) -> bool:
    """Whether a checkout of `output` was left unfinished (an apply killed after it wrote
    dvx.lock, or while it placed the data), so the apply places it though the workspace's
    records agree: the sync records name another version, or a part of it only, and the
    cache holds it all. One changed here since (`blocked`) is the user's: left as it is."""
    synced = repo.syncstate.get(output.path)
    if synced is None or (synced.oid == output.pointer.oid and synced.placed is None):
        return False
    return in_cache(repo, output) and not blocked(repo, [Target(output)])


def _uncached_outputs(repo: Repo, git: Git, exp: Experiment, files: list[str]) -> list[str]:
    """The outputs the experiment's dvx.lock records with `cache: false` (metrics, plots: Git
    holds them), when the apply writes that dvx.lock (it is among `files`): they are written
    with it, as its cached outputs are checked out, so the metrics agree with the outputs
    (another experiment's run may have left its own)."""
    if LOCK_FILE not in files:
        return []
    return sorted(uncached_paths(_experiment_locks(repo, git, exp)))


def _experiment_locks(repo: Repo, git: Git, exp: Experiment) -> dict[str, StageLock]:
    """The stages the experiment's dvx.lock records ({} without one). One recorded with
    another algorithm than dvx hashes with here is refused as every revision's is
    (hash_setting.py): naming the setting that is off, or how this clone reads it."""
    data = git.blob_at(exp.commit, LOCK_FILE, MAX_LOCK_BYTES)
    if data is None:
        return {}
    try:
        return parse_lock(data, repo.algo)
    except OtherAlgorithmError as exc:
        raise revision_algo_mismatch(repo.config, repo.recorded_algorithms,
                                     f"'{exp.commit[:10]}:{LOCK_FILE}'", exc.recorded,
                                     repo.algo) from None


def _uncached_outputs_behind(git: Git, exp: Experiment, files: list[str], uncached: list[str]
                             ) -> list[str]:
    """The files of the `uncached` outputs that the workspace has otherwise than the
    experiment, and that the experiment's commit has (to write)."""
    if not uncached:
        return []
    out = git.run("diff", "--name-only", "-z", "--no-renames", exp.commit, "--",
                  *[":(literal)" + p for p in uncached])
    differing = [os.fsdecode(p) for p in out.split(b"\0") if p and os.fsdecode(p) not in files]
    held = git.modes_at(exp.commit, differing) if differing else {}
    return [rel for rel in differing if rel in held]


def _strays_in_uncached_directories(repo: Repo, git: Git, exp: Experiment, files: list[str],
                                    uncached: list[str]) -> list[str]:
    """The files in the directories among the `uncached` outputs that the experiment's commit
    lacks (to remove: another experiment's plot, say), so the directory is what its dvx.lock
    records. Files .dvxignore keeps out are not the output's and stay. A file that neither
    HEAD, an experiment of HEAD nor the cache holds is nobody's run to redo: refused, even
    with --force, rather than deleted; so is a directory holding another repository."""
    directories = [p for p in uncached if os.path.isdir(repo.abspath(p))
                   and not os.path.islink(repo.abspath(p))]
    if not directories:
        return []
    out = git.run("ls-tree", "-r", "-z", "--name-only", "--full-tree", exp.commit, "--",
                  *[":(literal)" + p for p in directories])
    kept = {os.fsdecode(p) for p in out.split(b"\0") if p} | set(files)
    strays = []
    for top in directories:
        recorded = {rel.removeprefix(top + "/") for rel in kept if rel.startswith(top + "/")}
        walk = walk_directory(repo.abspath(top))
        _refuse_writing_over_a_repository(exp, top, repository_inside(repo, top, walk.reserved))
        walk = repo.dvxignore.filter_walk(top, walk, recorded)
        found = [e.relpath for e in walk.files] + walk.symlinks
        strays += [f"{top}/{rel}" for rel in found if f"{top}/{rel}" not in kept]
    unsaved = unsaved_files(repo, strays, exp.commit)
    if unsaved:
        raise UsageError(f"Applying '{exp.name}' would leave files in its outputs that it does "
                         f"not have, and neither Git nor any experiment holds them, so they "
                         f"are not deleted: {_some(unsaved)}.",
                         "Move them out of the way first (--force does not delete them).")
    return sorted(strays)


def _refuse_writing_over_a_repository(exp: Experiment, top: str, held: str | None) -> None:
    """Refuse, --force or not, to write the `cache: false` output directory `top` when it
    holds `held`, another repository's `.git` or `.dvx` (`repository_inside`): its files
    are that repository's, and the apply would delete or overwrite them."""
    if held is not None:
        raise UsageError(f"Applying '{exp.name}' would write the output '{top}', but "
                         f"{holding_why(held)}: dvx deletes nothing of it, --force or not.",
                         "Move that repository out of the way first.")


def _refuse_changed_in_cache(repo: Repo, exp: Experiment, targets: list[Target]) -> None:
    """Before the apply writes anything: an object of its outputs that the cache holds changed
    since it was stored (written through a link to it) is moved aside, and the apply refused,
    as checkout would place nothing of it."""
    changed = changed_in_cache(repo, targets)
    if not changed:
        return
    set_aside_changed(repo, changed)
    raise UsageError(
        f"Applying '{exp.name}' needs data whose copy in the cache was changed after it was "
        f"stored (written through a link to it, say): {_some(sorted(set(changed.values())))}. "
        f"Nothing was written; the changed objects are moved to "
        f"{os.path.join(repo.cache.root, 'quarantine')}.",
        "`dvx exp pull` (or `dvx pull`) brings the data back from a remote that has it; "
        "data never pushed is made again by running the experiment again.")


def _how_to_get(exp: Experiment, absent: list[Output]) -> str:
    """What brings back the data an experiment lacks: a fetch what was pushed; an output
    marked `push: false` is on no remote by design, and the remote may have lost the rest
    to a gc whose scope left the experiment out, so then only a new run makes it."""
    rerun = (f"run the experiment again (`dvx exp run` with the params `dvx exp show` lists "
             f"for it), or `dvx exp branch {exp.name} BRANCH` and `dvx repro` on that branch")
    local = [o.path for o in absent if not o.push]
    if len(local) == len(absent):
        return f"Marked `push: false`, it is on no remote: {rerun}."
    if local:
        return (f"{_some(local)}, marked `push: false`, is on no remote: {rerun}. Fetch the "
                f"rest with `dvx fetch --rev {exp.commit[:10]}`.")
    return (f"Fetch it first: `dvx exp pull GIT_REMOTE {exp.name}`, or `dvx fetch --rev "
            f"{exp.commit[:10]}`. If no remote has it any more, {rerun}.")


def _some(paths: list[str]) -> str:
    return named_list(sorted(paths), most=5)
