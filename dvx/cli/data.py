"""Data commands: add, status, diff, commit, checkout, remove, move, unprotect."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from dvx.cli.common import (
    DEFAULT_REMOTE,
    PATH,
    RemoteName,
    common_options,
    example,
    history_paths,
    holding_lock,
    is_quiet,
    one_of,
    open_repo,
    revision_options,
    targets_in_scope,
    transfer_jobs,
    warn_if_merge_driver_missing,
)
from dvx.cli.ui import (
    emit_json,
    kept_in_git,
    kept_untracked,
    out,
    report_staging,
    unignored_note,
    warn,
)
from dvx.logs import shell_quote, shown_path
from dvx.paths import for_command, names_the_root, repo_relpath
from dvx.pointer import recorded_wrongly
from dvx.wording import counted, human_size, named_list

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from dvx.errors import UsageError
    from dvx.ops.status import OutputStatus, StatusResult
    from dvx.outputs import Output, StagesDeclaring
    from dvx.pipeline.spec import Pipeline
    from dvx.repo import Repo

TARGETS = click.argument("targets", nargs=-1, type=PATH)


def _declared_outputs(repo: Repo) -> dict[str, str] | None:
    """What the workspace's dvx.yaml declares (pipeline.spec.declared_outputs), for the
    operations that ask only when they must: the pipeline code is loaded then, not before."""
    from dvx.pipeline.spec import declared_outputs

    return declared_outputs(repo)


def _stages_declaring(repo: Repo) -> StagesDeclaring:
    """What the workspace's dvx.yaml declares, stage by stage (pipeline.spec), for `dvx add`,
    which asks only when it must: the pipeline code is loaded then, not before."""
    from dvx.pipeline.spec import stages_declaring

    return stages_declaring(repo)


def _report_added(root: str, result: object, as_json: bool = False, command: str = "add"
                  ) -> None:
    """`command`: the dvx command that recorded it, which the advice names again."""
    from dvx.ops.commit import AddResult

    assert isinstance(result, AddResult)
    if as_json:
        emit_json(result.to_json())
        return
    for path in result.behind:
        moved = result.moved_since_synced[path]
        typed = for_command(root, path)
        if path in result.behind_not_cached:
            warn(f"Not recorded {shown_path(path)}: its pointer changed {moved}, and "
                 "the workspace still holds data from before that is no longer in the cache, "
                 f"which a checkout keeps; `dvx pull {typed}` replaces it if the remote holds "
                 f"it, `dvx commit --force {typed}` records it.")
            continue
        brings = f"`dvx pull {typed}` brings" if path in result.behind_not_pulled else \
            f"`dvx checkout {typed}` (or `dvx pull`) brings"
        warn(f"Not recorded {shown_path(path)}: its pointer changed {moved}, and the "
             f"workspace still holds the data from before; {brings} the data the pointer "
             "names.")
    if not is_quiet():
        for added in result.added:
            p = added.pointer
            what = f"{p.nfiles} file{'' if p.nfiles == 1 else 's'}, " if p.is_dir else ""
            shown = f"{shown_path(added.path)} ({what}{human_size(p.size)})"
            if added.path in result.stored_again:
                out(f"Stored {shown} in the cache again, from the workspace")
                continue
            out(f"{'Tracked' if added.changed else 'Unchanged'} {shown}")
            cached = [p for p in added.kept_outdated if p not in added.kept_not_cached]
            for files, deleted in _by_deletion(cached, added.deleted_in_pointer):
                out(_kept_outdated(root, added.path, files, deleted))
    for added in result.added:
        for files, deleted in _by_deletion(added.kept_not_cached, added.deleted_in_pointer):
            warn(_kept_not_cached(root, added.path, files, deleted, command))
    report_staging(root, result.staged, result.to_stage)


def _by_deletion(files: Sequence[str], deleted: Sequence[str]
                 ) -> list[tuple[list[str], bool]]:
    """`files` split into those the pointer's version holds and those it deleted (each part
    with True), leaving out an empty part."""
    parts = ([f for f in files if f not in deleted], False), (
        [f for f in files if f in deleted], True)
    return [part for part in parts if part[0]]


def _kept_outdated(root: str, path: str, files: list[str], deleted: bool) -> str:
    """What an add or commit of the directory `path` says of its `files` recorded as in the
    pointer's version (left out, when it `deleted` them) while the workspace holds an older
    version of them."""
    it = "it" if len(files) == 1 else "them"
    recorded = (f"left out, as the pointer's version deleted {it}" if deleted
                else "recorded as in the pointer's version")
    places = f"deletes {it}" if deleted else "places the pointer's"
    return (f"  {some_paths(files, 3)}: {recorded}, where the workspace holds the older "
            "version synced here before the pointer changed (`dvx checkout "
            f"{for_command(root, path)}` {places})")


def _kept_not_cached(root: str, path: str, files: list[str], deleted: bool,
                     command: str) -> str:
    """The same of `files` whose older version no cache holds: the workspace's is the only
    copy here, which the add or commit left as it is."""
    one = len(files) == 1
    it = "it" if one else "them"
    typed = for_command(root, path)
    recorded = (f"Left {some_paths(files, 3)} out of the record, as the pointer's version "
                f"deleted {it}, rather than record {it}" if deleted else
                f"Recorded {some_paths(files, 3)} as in the pointer's version, not")
    return (f"{recorded} as the workspace holds {it}: "
            f"{'it holds an older version' if one else 'they hold older versions'}, placed or "
            f"recorded here before the pointer changed, that no cache holds (gc deleted {it}, "
            f"say), so a checkout keeps {it}. `dvx pull {typed}` "
            f"{'deletes' if deleted else 'replaces'} {it} if the remote holds that version; "
            f"`dvx {command} --force {typed}` records {it} as the workspace holds {it}.")


@click.command(epilog=example("""
dvx add data/train.csv
dvx add data/images models/model.pt
"""))
@click.argument("paths", nargs=-1, required=True, type=PATH)
@click.option("-f", "--force", is_flag=True,
              help="Record the data even over a pointer that changed in Git since this "
                   "workspace was synced.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def add(paths: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Track files or directories: store them in the cache and write PATH.dvx pointers."""
    from dvx.ops.add import add as do_add

    repo = open_repo(from_git_directory=True)
    with holding_lock(repo):
        result = do_add(repo, list(paths), force, lambda: _stages_declaring(repo))
    _report_added(repo.root, result, as_json)


@click.command(epilog=example("""
dvx commit                # record every tracked path that changed
dvx commit data/images
"""))
@TARGETS
@click.option("-f", "--force", is_flag=True,
              help="Record the data even over a pointer that changed in Git since this "
                   "workspace was synced.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def commit(targets: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Record workspace changes of tracked data in their pointer files (pipeline outputs: in
    dvx.lock).

    Data whose pointer changed in Git since this workspace was synced (a teammate's change
    brought by `git pull`) is not recorded over it: without targets it is skipped and listed,
    with targets it is an error, unless --force.
    """
    from dvx.ops.commit import commit as do_commit
    from dvx.outputs import resolve_targets

    repo = open_repo()
    with holding_lock(repo):
        resolved = resolve_targets(repo, targets, declared=lambda: _stages_declaring(repo))
        outputs = list({t.output.path: t.output for t in resolved}.values())
        pipeline = _pipeline_of(repo, outputs)
        result = do_commit(repo, outputs, force, only_changed=not targets)
        committed = {a.path for a in result.added}
        stages = [o.stage for o in outputs if o.stage is not None and o.path in committed]
        if stages:
            from dvx.pipeline.runcache import record_committed

            record_committed(repo, pipeline, stages)
    _report_added(repo.root, result, as_json, "commit")


def _pipeline_of(repo: Repo, outputs: list[Output]) -> Pipeline | None:
    """dvx.yaml, read before a commit writes anything when it may record a stage's output
    (whose run-cache entry it then updates): one that cannot be read stops the commit with
    dvx.lock and the pointers as they were, never half-recorded."""
    if not any(o.stage is not None for o in outputs):
        return None
    from dvx.pipeline.spec import load_pipeline

    return load_pipeline(repo)


def _remote_or_target(repo: Repo, word: str, remote_name: str | None,
                      targets: tuple[str, ...], revisions: tuple[Any, ...]
                      ) -> tuple[str | None, tuple[str, ...]]:
    """The remote and targets of `status --remote WORD`: WORD names the remote when one is
    configured by that name, as `dvc status --remote NAME` does; `--remote` is also dvx's
    switch (as -c), so click hands over the word after it whatever it is, and any other word
    is a target again (`dvx status --remote data/x`). A word that is neither a remote nor a
    path here (nor tracked in the `revisions` asked for) is a remote's name mistyped far more
    often than a path: it is refused as one."""
    from dvx.errors import UsageError

    if word == DEFAULT_REMOTE:
        return remote_name, targets
    remotes = repo.config.remote_names()
    if word not in remotes:
        if not _names_a_path(repo, word, revisions):
            listed = (f"The remotes are {', '.join(sorted(remotes))}" if remotes
                      else "No remote is configured")
            raise UsageError(f"There is no remote named '{word}', nor a path of that name that "
                             "dvx tracks.", f"{listed} (`dvx remote list`).")
        return remote_name, (word, *targets)
    if remote_name not in (None, word):
        raise UsageError(f"--remote {word} and -r {remote_name} name two remotes.",
                         "Name one remote.")
    return word, targets


def _names_a_path(repo: Repo, word: str, revisions: tuple[Any, ...]) -> bool:
    """Whether `word` is a path here, or names tracked data not checked out (a clone before
    its first pull) or tracked in the `revisions` asked for (a file since removed)."""
    import os

    from dvx.errors import UsageError

    if os.path.lexists(word):
        return True
    try:
        targets_in_scope(repo, (word,), *revisions)
    except UsageError:
        return False
    return True


@click.command(epilog=example("""
dvx status
dvx status data/images --json
dvx status -q || echo "data changed"
dvx status --remote backup     # what remote 'backup' and the cache lack (-c -r backup)
"""))
@TARGETS
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@click.option("-c", "--cloud", "compare_remote", is_flag=True,
              help="Compare the cache with a remote instead: what each one lacks (as in DVC).")
@click.option("--remote", "remote_word", is_flag=False, flag_value=DEFAULT_REMOTE,
              metavar="[NAME]",
              help="As -c; a NAME after it that is a configured remote is the one compared "
                   "with (as -r NAME, and as in DVC), any other word is a target, and one "
                   "that names no path either is refused as an unknown remote.")
@click.option("-r", "remote_name", type=RemoteName(), metavar="NAME",
              help="The remote for -c/--remote (without it: the default remote).")
@transfer_jobs("Checks at once (-c).")
@revision_options
@common_options
def status(targets: tuple[str, ...], as_json: bool, compare_remote: bool,
           remote_word: str | None, remote_name: str | None, jobs: int | None,
           all_branches: bool, all_tags: bool, all_commits: bool, revs: tuple[str, ...],
           last_n: int | None) -> None:
    """Show tracked data that is modified, deleted, not pulled or missing from the cache, and
    pipeline stages that are stale (what changed since `dvx repro` recorded them in dvx.lock).

    With -q, print nothing and exit with status 1 if anything changed (for CI).
    """
    from dvx.ops.status import status as do_status
    from dvx.outputs import resolve_targets

    repo = open_repo()
    revisions = (all_branches, all_tags, all_commits, revs, last_n)
    if remote_word is not None:
        compare_remote = True
        remote_name, targets = _remote_or_target(repo, remote_word, remote_name, targets,
                                                 revisions)
    if compare_remote or remote_name:
        _remote_status(repo, targets, remote_name, jobs, as_json, revisions)
        return
    if any(revisions) or jobs is not None:
        from dvx.errors import UsageError

        if jobs is not None:
            raise UsageError("-j sets how many checks of a remote run at once: use it with -c "
                             "(or --remote).")
        raise UsageError("-a, -T, -A, --rev and -n compare revisions with a remote: use them "
                         "with --remote.")
    warn_if_merge_driver_missing(repo)
    _warn_if_git_would_add_private_settings(repo)
    resolved = _without_unmerged(repo, resolve_targets(repo, targets), bool(targets))
    result = do_status(repo, resolved, _paths_named(repo, targets))
    if not targets:
        from dvx.ops.left_behind import find_left_behind

        found = find_left_behind(repo, lambda: _declared_outputs(repo))
        result.left_behind = [(x.path, x.why_kept, x.stage_output, x.ignored) for x in found
                              if x.declared_by is None]
        result.left_in_stash = {x.path: x.in_stash for x in found
                                if x.declared_by is None and x.in_stash is not None}
        result.left_beside_tracked = {x.path: sorted(x.tracked_inside) for x in found
                                      if x.declared_by is None and x.tracked_inside}
        result.unrecorded = [(x.path, x.declared_by) for x in found if x.declared_by is not None]
    pipeline = _pipeline_status(repo) if not targets and "dvx.lock" not in repo.unreadable \
        else None
    stages = pipeline.stages if pipeline is not None else []
    stale = [s for s in stages if s.reasons]
    # dvx.yaml deleted or emptied while dvx.lock records stages: `dvx repro` refuses to run
    none_declared = pipeline.recorded_while_none_declared if pipeline is not None else []
    checks = _check_imports(repo, resolved)
    moved = {c.path: c.detail for c in checks if c.moved}
    for check in checks:
        if not check.moved:  # offline, say: a warning, not a change
            warn(f"WARNING: {shown_path(check.path)}: {check.detail}")
    if as_json:
        doc = result.to_json()
        doc["stages"] = [s.to_json() for s in stages]
        doc["recorded_while_none_declared"] = none_declared
        doc["uncommitted_outputs"] = _uncommitted_json(repo, pipeline.uncommitted
                                                       if pipeline is not None else [])
        doc["outputs_in_git"] = _in_git_json(repo, pipeline.in_git
                                             if pipeline is not None else [])
        doc["imports"] = [{"path": p, "source": why} for p, why in moved.items()]
        doc["unreadable"] = [{"path": p, "error": str(e)}
                             for p, e in sorted(repo.unreadable.items())]
        doc["changed"] = bool(result.changed or stale or moved or none_declared
                              or repo.unreadable)
        emit_json(doc)
    elif not is_quiet():
        if repo.unreadable and not (result.changed or stale or none_declared):
            out("Everything else is up to date.")
        elif result.changed or not (stale or moved or none_declared):
            _print_status(repo.root, result, bool(stages), *_stages_for_hints(repo, result),
                          _moved_imports_not_cached(repo, resolved, result, checks),
                          own_data={p for s in stages for p in s.own_data},
                          former_algorithm={p for s in stages for p in s.former_algorithm},
                          # read here, not through ops.remote: status of data alone
                          # never loads the remote backends
                          has_remote=repo.has_default_remote,
                          unchecked={c.path for c in checks if c.failed})
        if result.left_out and result.outputs:  # else `_nothing_tracked` names them
            out(_left_out_pointers(repo.root, result.left_out))
        for s in stale:
            out(f"{s.name}: {'; '.join(s.reasons)}")
        for s in stages:
            if s.unknown:
                out(f"{s.name}: {s.unknown}")
        _own_data_hints(repo, pipeline)
        if stale and _runnable(stale):
            _say_how_repro_runs_them(repo, pipeline.uncommitted if pipeline else [],
                                     pipeline.in_git if pipeline else [],
                                     pipeline.holding if pipeline else [])
        if none_declared:
            out(_none_declared(repo, pipeline))
        for check in checks:
            if check.moved:
                out(f"{shown_path(check.path)}: {check.detail}" + (
                    f" (`dvx update {for_command(repo.root, check.path + '.dvx')}` brings it)"
                    if check.updatable else ""))
    if is_quiet() and (result.changed or stale or moved or none_declared):
        sys.exit(1)


def _uncommitted_json(repo: Repo, uncommitted: list[Any]) -> list[dict[str, object]]:
    """The `cache: false` output folders (`UncommittedOutput`) whose changes Git has not
    committed stop `dvx repro`, as `status --json` lists them."""
    from dvx.pipeline.uncommitted_outputs import to_json

    return [to_json(repo, found) for found in uncommitted]


def _in_git_json(repo: Repo, in_git: list[Any]) -> list[dict[str, object]]:
    """The cached outputs of stale stages whose files Git's index holds (`OutputInGit`) stop
    `dvx repro`, as `status --json` lists them."""
    from dvx.pipeline.outputs_in_git import to_json

    return [to_json(repo, found) for found in in_git]


def _own_data_hints(repo: Repo, pipeline: Any) -> None:
    """The ways out for each stage whose outputs hold data of the user's own (`OWN_DATA_OUTS`)
    or of a former hash algorithm (`FORMER_ALGORITHM_OUTS`), over which `dvx repro` refuses
    to run it."""
    if pipeline is None:  # data alone: no pipeline code is loaded
        return
    from dvx.pipeline.staleness import former_algorithm_way_out, own_data_ways_out

    for s in pipeline.stages:
        own = [path for path in s.own_data if path not in s.former_algorithm]
        if own:
            out(f"(stage '{s.name}': {own_data_ways_out(s.name, own)})")
        if s.former_algorithm:
            out(f"(stage '{s.name}': "
                f"{former_algorithm_way_out(repo, s.name, s.former_algorithm)})")


def _runnable(stale: list[Any]) -> list[Any]:
    """The stale stages `dvx repro` would run: not those an output holding a repository of
    its own (`HOLDING_OUTS`), data of the user's own (`OWN_DATA_OUTS`) or of a former hash
    algorithm (`FORMER_ALGORITHM_OUTS`) keeps from running, which their reason says."""
    from dvx.pipeline.staleness import FORMER_ALGORITHM_OUTS, HOLDING_OUTS, OWN_DATA_OUTS

    kept = tuple(label + ":" for label in (HOLDING_OUTS, OWN_DATA_OUTS, FORMER_ALGORITHM_OUTS))
    return [s for s in stale if not any(r.startswith(kept) for r in s.reasons)]


def _warn_if_git_would_add_private_settings(repo: Repo) -> None:
    """This clone's config.local (its credentials) is there and Git does not ignore it: a
    committed `!` rule takes it back, and the next `git add -A` stages it."""
    import os

    local = repo.config.paths["local"]
    if not os.path.lexists(local):
        return
    why = repo.private_settings_git_would_add()
    if why is not None:
        warn(f"WARNING: Git does not ignore {os.path.relpath(local, repo.root)}, this clone's "
             f"own settings and credentials ({why}): the next `git add -A` puts it into a "
             "commit. Keep `/config.local` in .dvx/.gitignore as `dvx init` writes it, with no "
             "`!` rule taking it back (`git check-ignore -v -n .dvx/config.local` names the "
             "rule that decides).")


def _say_how_repro_runs_them(repo: Repo, uncommitted: list[Any], in_git: list[Any],
                             holding: list[tuple[str, str]]) -> None:
    """The hint under the stale stages: `dvx repro` runs them, once what it refuses to
    delete is out of its way: the changes Git has not committed in `uncommitted` output
    folders (`UncommittedOutput`), and the files Git's index holds of `in_git` cached
    outputs (`OutputInGit`) of any stage, which stop it whole; and once no input folder
    holds a repository of its own (`holding`: path, its `.git` or `.dvx`), whose changes
    it cannot tell."""
    from dvx.pipeline.outputs_in_git import in_the_index, stop_tracking, what_a_run_does
    from dvx.pipeline.uncommitted_outputs import holding_changes, moving_away
    from dvx.workspace import way_out_of_holding

    for path, entry in holding:
        out(f"('{path}', which the stages read, holds '{entry}', a repository of its own, "
            "whose changed files cannot be told, so `dvx repro` refuses to run: "
            f"{way_out_of_holding(path, entry)} first)")
    for found in in_git:
        out(f"(stage '{found.stage}': its {in_the_index(found)}, and {what_a_run_does(found)}, "
            f"so `dvx repro` refuses to run: {stop_tracking(repo, found)})")
    for found in uncommitted:
        out(f"(stage '{found.stage}': {holding_changes(found)}, which its run would delete, "
            f"so `dvx repro` refuses to run it: commit them, or {moving_away(repo, found)})")
    out("(then `dvx repro` runs the stale stages)" if uncommitted or in_git or holding
        else "(`dvx repro` runs the stale stages)")


def _moved_import_hint(root: str, path: str, exact: Any, updatable: bool) -> str | None:
    """The hint for the import at `path` whose source moved on, whose data no remote may
    have: update brings another version (when `updatable`; else status says why it brings
    none); `exact` (an `ImportAgain`, or None) brings this. None: nothing to say."""
    known = exact is not None and exact.command is not None
    if not updatable:
        return (f"(`{exact.command}` brings the data {for_command(root, path + '.dvx')} names "
                f"from the commit it records, to a copy beside it: `dvx remove --outs "
                f"{exact.copy}` then drops the copy, the cache keeping the data, which `dvx "
                "checkout` places)") if known else None
    update = f"(`dvx update {for_command(root, path + '.dvx')}` brings the version its source " \
        "moved to, not the data its pointer names"
    if not known:
        why = f": {exact.why}" if exact is not None and exact.why else ""
        return f"{update}; no `dvx import` is known to bring that data{why})"
    return (f"{update}; `{exact.command}` brings that data from the commit the pointer records, "
            f"to a copy beside it: `dvx remove --outs {exact.copy}` then drops the copy, the "
            "cache keeping the data, which `dvx checkout` places)")


def _import_hints(root: str, imports: list[str], moved_imports: Mapping[str, tuple[Any, bool]],
                  unchecked: Collection[str]) -> None:
    """The ways to the data of the imports at `imports` that the cache lacks, which `dvx
    pull` brings only if a remote has it: from their sources (`moved_imports`: those whose
    source moved on, `_moved_imports_not_cached`; `unchecked`: those whose source check
    failed, which update would refuse the same way)."""
    staying = [p for p in imports if p not in moved_imports and p not in unchecked]
    if staying:
        pointers = " ".join(for_command(root, p + '.dvx') for p in staying)
        out(f"(`dvx update {pointers}` fetches the data of an import from its source, "
            "which `dvx pull` cannot when no remote has it)")
    for path in (p for p in imports if p in moved_imports):
        hint = _moved_import_hint(root, path, *moved_imports[path])
        if hint is not None:
            out(hint)


class UndoneRun(NamedTuple):
    """How a run of the user's own whose dvx.lock entry went back to HEAD's is recorded
    again: `way` (dvx.pipeline.undone_runs), once `inputs` (its tracked inputs whose own
    version was undone too) are recorded again, and `committed` (the outputs of upstream
    stages undone too whose way is COMMIT) committed; `frozen`: its stage is."""
    way: str
    inputs: list[OutputStatus]
    frozen: bool
    committed: tuple[str, ...] = ()


def _stages_for_hints(repo: Repo, result: StatusResult
                      ) -> tuple[set[str], dict[str, UndoneRun]]:
    """What the hints for stage outputs need of the pipeline, when an output of a stage is
    modified or its own version was undone: the frozen stages (`dvx repro` never rebuilds
    theirs), and of each output of the user's own run undone in dvx.lock, by path, how that
    run is recorded again. An unreadable dvx.yaml names none (status says why elsewhere)."""
    if not any(o.stage is not None and (o.workspace == "modified" or o.own_version_undone)
               for o in result.outputs):
        return set(), {}
    from dvx.errors import DvxError
    from dvx.pipeline.graph import load_dag
    from dvx.pipeline.undone_runs import COMMIT, INPUTS_GONE, REPRO, way_back

    try:
        dag = load_dag(repo)
    except DvxError:
        return set(), {}
    if dag is None:
        return set(), {}
    undone = [o for o in result.outputs
              if o.stage is None and o.own_version_undone and not o.stashed]
    runs: dict[str, UndoneRun] = {}
    place = {name: i for i, name in enumerate(dag.order())}
    # Upstream stages first: a stage reading an output of one whose run was undone too is
    # recorded again by that stage's way, a run of its own after it.
    for o in sorted(result.outputs, key=lambda o: place.get(o.stage or "", -1)):
        stage = dag.stages.get(o.stage or "")
        if stage is None or not o.own_version_undone or o.stashed or o.synced_oid is None:
            continue
        reads = set(stage.inputs)
        inputs = [i for i in undone if _reads(reads, i.path)]
        upstream = {path: run for path, run in runs.items() if _reads(reads, path)}
        ways = {run.way for run in upstream.values()}
        way = INPUTS_GONE if INPUTS_GONE in ways else REPRO if inputs or upstream else \
            way_back(repo, stage, o.path, o.synced_oid)
        runs[o.path] = UndoneRun(way, inputs, stage.frozen,
                                 tuple(path for path, run in upstream.items()
                                       if run.way == COMMIT))
    return {name for name, s in dag.stages.items() if s.frozen}, runs


def _reads(reads: set[str], path: str) -> bool:
    """Does a stage reading `reads` read `path`? One reading data/train reads the tracked
    directory data too, and the reverse."""
    from dvx.paths import at_or_below_any

    return at_or_below_any(path, reads) or any(at_or_below_any(r, {path}) for r in reads)


def _pull_hint(hinted: list[Any], imports: list[str], has_remote: bool) -> None:
    """The `dvx pull` that fetches what the cache lacks of `hinted` (`imports`: those of it
    that are imports, which their sources give): without a default remote, pull fetches
    nothing, so only data other than imports is named, with the remote it needs first."""
    if has_remote:
        out("(`dvx pull` fetches what is not in the cache)")
    elif any(not o.in_cache and o.workspace != "outdated" and o.pushed
             and not o.only_in_workspace and o.path not in imports for o in hinted):
        out("(`dvx pull` fetches what is not in the cache once a default remote is set: "
            "`dvx remote add -d NAME URL`)")


def _moved_imports_not_cached(repo: Repo, targets: list[Any], result: Any,
                              checks: list[Any]) -> dict[str, tuple[Any, bool]]:
    """The imports whose source moved on and whose data the cache lacks, each with the `dvx
    import` that brings exactly that data (`import_command`, None if none is known) and
    whether `dvx update` can bring the version the source moved to instead (`checks`:
    `_check_imports`)."""
    lacking = {o.path for o in result.outputs if not o.in_cache and o.imported}
    moved = {c.path: c.updatable for c in checks if c.moved}
    if not lacking & moved.keys():
        return {}  # and no import code to load
    from dvx.ops.imports import import_command

    return {t.output.path: (import_command(repo, t.output), moved[t.output.path])
            for t in targets
            if t.output.path in lacking and t.output.path in moved and t.subpath is None}


def _check_imports(repo: Repo, targets: list[Any]) -> list[Any]:
    """Whether the sources of the imports among `targets` moved on: asked only when there
    are imports (it may take the network)."""
    imports = [t.output for t in targets if t.output.pointer.source is not None
               and t.subpath is None]
    if not imports:
        return []
    from dvx.ops.imports import check_sources

    return check_sources(repo, imports)


@click.command(epilog=example("""
dvx diff                     # the workspace against HEAD
dvx diff v1                  # the workspace against the tag v1
dvx diff v1 v2 --json        # from v1 to v2
dvx diff HEAD~1 --targets data/images
"""))
@click.argument("a_rev", required=False, metavar="[A]")
@click.argument("b_rev", required=False, metavar="[B]")
@click.option("--targets", multiple=True, type=PATH,
              help="Only files at or below this path; repeat it for several paths.")
@one_of("fmt", ("--json", "json", "Output as JSON."),
        ("--md", "md", "Output as a Markdown table."))
@common_options
def diff(a_rev: str | None, b_rev: str | None, targets: tuple[str, ...],
         fmt: str | None) -> None:
    """Show tracked files added, deleted, modified or renamed between A (default: HEAD) and B
    (default: the workspace), including the files inside tracked directories.

    A and B are any Git revisions, experiment names, or `workspace`. Revisions are read from
    Git's objects, never checked out; manifests the cache lacks are downloaded from the
    default remote (never the data). Data not pulled here yet counts as what its pointer
    records, not as deleted, as does data whose pointer a sparse checkout leaves out. With
    -q, print nothing and exit with status 1 if anything changed, or if something could not
    be compared (a warning names it).
    """
    from dvx.ops.diff import diff as do_diff
    from dvx.paths import refuse_empty

    for target in targets:
        refuse_empty(target)
    repo = open_repo()
    paths = history_paths(repo, targets)
    result = do_diff(repo, a_rev, b_rev, paths)
    for problem in result.problems:
        warn(f"WARNING: {problem}")
    if fmt == "json":
        emit_json(result.to_json())
    elif fmt == "md":
        out(_diff_markdown(result), nl=False)
    elif not is_quiet():
        _print_diff(result)
    if is_quiet() and (result.changed or result.problems):  # a part not compared may differ
        sys.exit(1)


def _diff_rows(result: Any) -> list[tuple[str, str, str]]:
    """(change, path, size) rows, in the order the text output lists them."""
    rows = [("added", shown_path(p), human_size(size)) for p, _, size in result.added]
    rows += [("deleted", shown_path(p), human_size(size)) for p, _, size in result.deleted]
    rows += [("modified", shown_path(m.path),
              f"{human_size(m.old[1])} -> {human_size(m.new[1])}") for m in result.modified]
    rows += [("renamed", f"{shown_path(r.old)} -> {shown_path(r.new)}", human_size(r.size))
             for r in result.renamed]
    rows += [(MOVED_ASIDE, shown_path(p), human_size(size)) for p, _, size in result.moved_aside]
    return rows


def _print_diff(result: Any) -> None:
    if not result.changed:
        left_out = " in what could be compared (see the warnings)" if result.problems else ""
        out(f"No tracked data changed between {result.a} and {result.b}{left_out}.")
        return
    heading = None
    for change, path, size in _diff_rows(result):
        if change != heading:
            out(f"{change.capitalize()}:")
            heading = change
        out(f"    {path}  ({size})")
    left_out = " (of what could be compared: see the warnings)" if result.problems else ""
    aside = f", {len(result.moved_aside)} moved aside" if result.moved_aside else ""
    out(f"\nfiles summary: {len(result.added)} added, {len(result.deleted)} deleted, "
        f"{len(result.modified)} modified, {len(result.renamed)} renamed{aside}{left_out}")


def _diff_markdown(result: Any) -> str:
    lines = ["| Status | Path | Size |", "|---|---|---|"]
    escaped = "\\|"  # a '|' in a path would end the cell
    lines += [f"| {change} | {path.replace('|', escaped)} | {size} |"
              for change, path, size in _diff_rows(result)]
    return "\n".join(lines) + "\n"


def _without_unmerged(repo: Repo, resolved: list[Any], named: bool) -> list[Any]:
    """The targets whose pointer file (or dvx.lock) Git's index holds merged. Those it lists
    as unmerged, markers or none, are conflicts, named at the end (dvx/unmerged.py): of
    the targets `named`, or all."""
    if repo.git is None:
        return resolved
    from dvx.unmerged import unmerged_without_markers

    unmerged = unmerged_without_markers(repo.root)
    if not unmerged:
        return resolved
    asked = {t.output.record_file for t in resolved}
    for path, exc in unmerged.items():
        if not named or path in asked:
            repo.unreadable.setdefault(path, exc)
    return [t for t in resolved if t.output.record_file not in unmerged]


def _pipeline_status(repo: Repo) -> Any:
    import os

    from dvx.errors import MergeConflictError

    try:
        if not os.path.exists(os.path.join(repo.root, "dvx.yaml")):
            from dvx.outputs import warn_of_pipeline_files_not_read

            warn_of_pipeline_files_not_read(repo)  # what was meant for the pipeline, if any
            if not os.path.lexists(os.path.join(repo.root, "dvx.lock")):
                return None  # no pipeline, nothing recorded: no pipeline code to import
            from dvx.pipeline.none_declared import recorded_without_pipeline

            if not recorded_without_pipeline(repo):  # else deleted: named as repro names it
                return None
        from dvx.pipeline.repro import pipeline_status

        return pipeline_status(repo)
    except MergeConflictError as exc:  # named at the end; the data's status still counts
        repo.unreadable.setdefault(exc.path, exc)
        return None


def _none_declared(repo: Repo, pipeline: Any) -> str:
    """What status says of the stages dvx.lock records while dvx.yaml is missing or declares
    none."""
    from dvx.pipeline.none_declared import status_note

    return status_note(repo, pipeline.recorded_while_none_declared, pipeline.pipeline_missing)


def _remote_status(repo: Repo, targets: tuple[str, ...], remote_name: str | None,
                   jobs: int | None, as_json: bool, revisions: tuple[Any, ...]) -> None:
    from dvx.ops.sync import remote_status

    # The scope push sends, so that the `dvx push` its hints name clears what they report.
    workspace, history = targets_in_scope(repo, targets, *revisions, remote_branches=False)
    result = remote_status(repo, workspace + history, remote_name, jobs)
    if as_json:
        emit_json(result.to_json())
    elif not is_quiet():
        if result.compared_in_sync and result.compared:
            out(f"Cache and remote '{', '.join(result.compared)}' are in sync.")
        # The hints take the scope compared: a plain `dvx push` sends the workspace's only
        scope = _scope_options(revisions)
        named = f" -r {shell_quote(remote_name)}" if remote_name else ""  # a name, no path
        push = f"`dvx push{scope}{named}`"
        if result.read_only:  # it refuses a push: the store it serves is written elsewhere
            served = " and ".join(f"'{name}'" for name in result.read_only)
            push = (f"{served} {'is' if len(result.read_only) == 1 else 'are'} read-only: "
                    f"`dvx push{scope} -r NAME`, NAME being the remote that writes to the "
                    f"store {'it serves' if len(result.read_only) == 1 else 'each serves'}")
        labels = _revision_labels(repo, result) if scope else {}
        held = result.held_here
        for label, found, hint in (
                ("not on the remote", result.to_push(), push),
                ("not in the cache", result.to_fetch(), f"`dvx fetch{scope}{named}`"),
                ("in neither the cache nor the remote, held by the workspace",
                 {oid: path for oid, path in result.missing_from_both.items() if oid in held},
                 f"`dvx commit {' '.join(dict.fromkeys(sorted(held.values())))}` stores it "
                 f"in the cache again, then `dvx push{named}`"),
                ("in neither the cache nor the remote",
                 {oid: path for oid, path in result.missing_from_both.items()
                  if oid not in held},
                 _from_elsewhere(scope, result.other_remotes))):
            if found:
                out(f"{counted(len(found), 'object')} {label} ({hint}):")
                rows = sorted((path, labels.get(oid, "")) for oid, path in found.items())
                for path, needed_by in rows[:50]:
                    out(f"    {shown_path(path)}{needed_by}")
                if len(found) > 50:
                    out(f"    ... and {len(found) - 50} more")
        for problem in result.problems:
            warn(f"Problem: {problem}")
    failure = result.remote_failure()
    if failure is not None:  # after the report of what the other remotes hold
        raise failure
    if is_quiet() and not result.in_sync:
        sys.exit(1)


def _from_elsewhere(scope: str, others: list[str]) -> str:
    """The hint for data neither the cache nor the remotes compared hold: another remote
    configured may (not asked: that could be slow, or need other credentials, so the hint
    says so, and gives the status that asks it beside the fetch), or whoever committed it
    never pushed it."""
    ask = f"ask whoever committed it to run `dvx push{scope}` in their clone"  # their push
    # sends a past revision's data only with the same scope
    if not others:
        return ask
    named = shell_quote(others[0]) if len(others) == 1 else "NAME"
    among = "" if len(others) == 1 else f", NAME one of {', '.join(others)}"
    return (f"another remote, not checked, may hold it: `dvx status -c{scope} -r {named}` "
            f"checks, `dvx fetch{scope} -r {named}` fetches{among}; or {ask}")


def _scope_options(revisions: tuple[Any, ...]) -> str:
    """The -a/-T/-A/--rev/-n options of `revisions` as a command takes them (' -A')."""
    all_branches, all_tags, all_commits, revs, last_n = revisions
    flags = [flag for flag, given in (("-a", all_branches), ("-T", all_tags),
                                      ("-A", all_commits)) if given]
    flags += [f"--rev {shell_quote(rev)}" for rev in revs]
    flags += [f"-n {last_n}"] if last_n else []
    return "".join(f" {flag}" for flag in flags)


def _revision_labels(repo: Repo, result: Any) -> dict[str, str]:
    """For each missing object, the revisions that need it (' (in 3f2a1b0c9d (v1))'): one
    path may be missing in several versions."""
    from dvx.history import found_in, revision_labels

    names = revision_labels(repo, {n for found in result.revisions.values() for n in found})
    return {oid: " " + found_in(names, found) for oid, found in result.revisions.items()}


def _left_out_pointers(root: str, left_out: list[str]) -> str:
    """What status says of the pointers Git's index holds that the sparse checkout leaves
    out, beside those it compared: their data is tracked still, and whatever is on disk
    there (older data, after a `git pull`) is compared with nothing."""
    one = len(left_out) == 1
    them, their = ("it", "its") if one else ("them", "their")
    return (f"Not compared: {some_paths(left_out, 3)}, pointer file{'' if one else 's'} in "
            f"Git's index only (this sparse checkout leaves {them} out of the workspace); "
            f"{their} data is tracked still, and whatever is on disk there may be older. "
            f"{_bringing_back(root, left_out)} brings {them} back.")


def _bringing_back(root: str, pointers: list[str]) -> str:
    """The `git sparse-checkout add` that brings back the pointer files `pointers`."""
    import os

    from dvx.outputs import LeftOut, adding_to_sparse_checkout

    return adding_to_sparse_checkout(root, [LeftOut([p], os.path.dirname(p) or p)
                                            for p in pointers])


def _nothing_tracked(root: str, left_out: list[str]) -> str:
    """What status says of a workspace with no pointer: none yet, or all of them left out by
    the sparse checkout (the data is tracked still)."""
    if not left_out:
        return "No data is tracked yet; track some with `dvx add PATH`."
    return ("No data is tracked in this workspace: this sparse checkout leaves out the pointer "
            f"files that Git's index holds ({some_paths(left_out, 3)}). "
            f"{_bringing_back(root, left_out)} brings them back.")


def _paths_named(repo: Repo, targets: tuple[str, ...]) -> list[str] | None:
    """The repository paths status was asked about; None for the whole project (no path
    named, or its top)."""
    if not targets or any(names_the_root(repo.root, t) for t in targets):
        return None
    return [repo_relpath(repo.root, t) for t in targets]


def _said_as_git_s(result: StatusResult, o: OutputStatus) -> bool:
    """Is the output `o` said to be Git's (`tracked_by_git`) and nothing more, as checkout
    leaves it: a submodule there, whose files are the submodule's, or another repository in
    what Git tracks, which no `dvx checkout` would place data over?"""
    from dvx.ops.status import HOLDS_REPOSITORY

    return o.path in result.submodules or (o.path in result.tracked_by_git
                                           and o.workspace == HOLDS_REPOSITORY)


def _commit_of(root: str, result: StatusResult, changed: list[str], others: bool) -> str:
    """The commit that records the outputs `changed`: a bare `dvx commit`, unless an output
    holds another repository, which a commit without targets refuses (so nothing else is
    recorded), or `others` (other outputs changed, which it would record too, an edited
    stage output as its stage's result): then one naming them."""
    from dvx.ops.status import HOLDS_REPOSITORY

    if not others and all(o.workspace != HOLDS_REPOSITORY for o in result.outputs):
        return "`dvx commit`"
    return f"`dvx commit {' '.join(for_command(root, path) for path in changed)}`"


def _changed_only_by_kept_folders(o: OutputStatus) -> bool:
    """Are the changes of the directory `o` only files deleted where a checkout keeps a
    folder, --force or not (`kept_for_left_out`, `kept_for_a_get`)?"""
    kept = {rel for rel, _ in o.kept_for_left_out} | {rel for rel, _, _ in o.kept_for_a_get}
    return bool(kept) and not o.added and not o.modified and set(o.deleted) <= kept


def _discarded_by(root: str, changed: list[OutputStatus], others: bool,
                  has_remote: bool = True) -> str:
    """The commands that discard the changes made here to the outputs `changed`
    (`taking_recorded_versions`). A bare checkout where the cache holds all of them, unless
    `others` (other outputs changed, whose changes it would discard too)."""
    if all(o.in_cache for o in changed) and not others:
        return "`dvx checkout --force` discards them"
    return _taking_recorded(root, "discards them", changed, has_remote)


def _put_back_by(root: str, edited: list[OutputStatus], has_remote: bool = True) -> str:
    """The commands that put back what dvx.lock records for the stage outputs `edited`
    (`putting_back_outputs`): a checkout of those the cache holds, a `pull --force` of
    those a remote holds (all but an output of `push: false`)."""
    from dvx.outputs import putting_back_outputs

    return putting_back_outputs(root, [o.path for o in edited if o.in_cache],
                                [o.path for o in edited if not o.in_cache and o.pushed],
                                has_remote)


def _pointer_s_taken_by(root: str, moved: list[OutputStatus], has_remote: bool) -> str:
    """The commands that take the pointer's version of the data `moved`, changed here as
    its pointer was: a checkout places only what the cache holds, a `pull --force` fetches
    the rest from the default remote (none set: named with the one to set first), which
    holds no output of `push: false`, whose version is then nowhere to take."""
    if all(o.in_cache for o in moved):
        return "`dvx checkout --force PATH` takes the pointer's"
    return _taking_recorded(root, "takes the pointer's", moved, has_remote)


def _taking_recorded(root: str, does: str, outputs: list[OutputStatus], has_remote: bool
                     ) -> str:
    """`taking_recorded_versions` of `outputs`, split by where their recorded version is:
    the cache, a remote (all but an output of `push: false`), or neither."""
    from dvx.outputs import taking_recorded_versions

    return taking_recorded_versions(
        root, does, [o.path for o in outputs if o.in_cache],
        [o.path for o in outputs if not o.in_cache and o.pushed],
        [o.path for o in outputs if not o.in_cache and not o.pushed], has_remote)


THROUGH_LINK = "changed through its link into the cache"
# A file a killed get's folder holds in its `old`: not deleted (get_scratch.moved_aside)
MOVED_ASIDE = "moved aside by an interrupted `dvx get --force`"


def _changed_in_cache_hint(root: str, outputs: list[OutputStatus]) -> None:
    """How to go on from files changed through their link into the cache: the object itself
    was written, so no checkout can put the recorded version back; a remote can."""
    paths = [for_command(root, o.path) for o in outputs if o.changed_in_cache]
    if not paths:
        return
    named = " ".join(paths)
    out(f"(an edit through a link into the cache wrote the cached object itself, so the cache "
        f"no longer holds the recorded version: `dvx commit {named}` records the new bytes, "
        f"`dvx pull --force {named}` gets the recorded version back if a remote has it)")


def _print_status(root: str, result: object, has_stages: bool = False,
                  frozen: Collection[str] = (),
                  undone_runs: Mapping[str, UndoneRun] | None = None,
                  moved_imports: Mapping[str, tuple[Any, bool]] | None = None,
                  has_remote: bool = True, unchecked: Collection[str] = (),
                  own_data: Collection[str] = (),
                  former_algorithm: Collection[str] = ()) -> None:
    """`frozen` and `undone_runs`: as `_stages_for_hints` gives them; `moved_imports`:
    `_moved_imports_not_cached`; `has_remote`: a default remote is set, which `dvx pull`
    fetches from; `unchecked`: the imports whose source check failed (warned of), which
    `dvx update` would refuse as that check did; `own_data`: the stage outputs holding data
    of the user's own (`OWN_DATA_OUTS`) or, among them, of a former hash algorithm
    (`former_algorithm`: `FORMER_ALGORITHM_OUTS`, which a cache holds), whose ways out the
    stage's hint names, as `dvx repro` refuses to rebuild them."""
    from dvx.lock import SAVE
    from dvx.ops.checkout import former_output_kept_why
    from dvx.ops.data_places import in_git_note, submodule_why, tracked_by_git_ways
    from dvx.ops.kept_for_left_out import kept_for_left_out_why
    from dvx.ops.left_behind import LOCK_ENTRY_GONE
    from dvx.ops.status import StatusResult
    from dvx.scm import git_add_command, user_git
    from dvx.workspace import REPOSITORY_INSIDE, way_out_of_holding

    assert isinstance(result, StatusResult)
    if not result.outputs and not has_stages and not result.left_behind and not result.stopped:
        out(_nothing_tracked(root, result.left_out))
        return
    if not result.changed:
        out("Data, pointers and pipelines are up to date." if has_stages
            else "Data and pointers are up to date.")
        return
    for stopped in result.stopped:  # its warning says what it may have left half-done
        again = "run it again" if stopped.redo is None else \
            f"`{stopped.redo}` does its work: run it"
        if stopped.work is not None and stopped.work.state == SAVE:  # may have recorded it
            again = "look for its experiment in `dvx exp show` first, then save again"
        how = "ended by an error" if stopped.by_error else "stopped"
        out(f"{stopped.named}: {how} before it finished (pid {stopped.pid} on "
            f"{stopped.host}); {again} if you still want it done")
    for o in result.outputs:
        if not o.changed or _said_as_git_s(result, o):
            continue
        # A stage's record is its dvx.lock entry; said so where a stopped apply wrote it
        record = o.record_name if o.applying else "pointer"
        states = {"unchanged": [],
                  "outdated": [f"{record} changed {o.moved_where}, data not checked out"],
                  "modified": ["modified"] + ([f"and its {record} changed {o.moved_where}"]
                                              if o.pointer_moved else []),
                  "not_pulled": ["not pulled yet" if not o.in_cache
                                 else "not checked out yet"],
                  "linked_elsewhere": ["linked to another dvx cache (a moved or copied "
                                       "repository's)"],
                  "holds_repository": [
                      f"holds '{shown_path(o.repository_inside or o.path)}', the `.git` or "
                      "`.dvx` of a repository of its own (a clone, a submodule, a dvx "
                      "project), whose files are that repository's: checkout leaves it as "
                      "it is, --force or not, and `dvx commit` refuses it, without targets "
                      "too, while it holds that repository; "
                      f"{way_out_of_holding(o.path, o.repository_inside or o.path)}, "
                      f"then `dvx checkout {for_command(root, o.path)}` places the data"],
                  }.get(o.workspace, [o.workspace])
        if o.moved_aside_whole:  # no deletion: the warning naming the get's folder says more
            states = [MOVED_ASIDE]
        if o.synced_manifest_missing is not None:  # its differences cannot be sorted
            states = [f"its pointer changed {o.moved_where}, and which of its files changed "
                      "here is unknown (the version it was synced to is no longer in the "
                      "cache)"]
        not_cached = {path[len(o.path) + 1:] for path in o.outdated_not_cached}
        outdated = [path for path in o.outdated if path not in not_cached]
        if outdated:  # a file holding a version no longer in the cache is counted below
            states.append(f"{len(outdated)} file{'' if len(outdated) == 1 else 's'} outdated")
        if o.outdated_not_cached:
            count = len(o.outdated_not_cached)
            holding = "its data holds" if o.kind == "file" else \
                f"{count} file holds" if count == 1 else f"{count} files hold"
            states.append(f"{holding} a version no longer in the cache")
        if o.not_pulled:
            states.append(f"{len(o.not_pulled)} file{'' if len(o.not_pulled) == 1 else 's'} "
                          "not pulled")
        if o.kind == "file" and o.changed_in_cache:
            states.append(THROUGH_LINK)
        if o.only_in_workspace:
            states.append("not in cache (the workspace holds it)")
        elif not o.in_cache:
            states.append("not in cache")
        if o.wrong_counts is not None:
            states.append(f"its pointer {recorded_wrongly(o.wrong_counts)}")
        out(f"{shown_path(o.path)}: {', '.join(states)}")
        listed = (("added", o.added), ("modified", o.modified), ("deleted", o.deleted_here),
                  (MOVED_ASIDE, o.moved_aside))
        for label, paths in listed if o.synced_manifest_missing is None else ():
            for path in paths:
                how = f" ({THROUGH_LINK})" if f"{o.path}/{path}" in o.changed_in_cache else ""
                out(f"    {label}: {shown_path(path)}{how}")
    for path in result.unignored:
        rule = result.taken_back.get(path)
        why = "its .gitignore entry is gone" if rule is None else \
            f"the rule {rule} takes it back in"
        again = "" if rule is None else " after that rule (or remove the rule)"
        out(f"{shown_path(path)}: not ignored by Git ({why}), so `git add` would take the data "
            f"itself; `dvx commit {for_command(root, path)}` writes the entry again{again}")
    stages = {o.path: o.stage for o in result.outputs}
    for path, indexed in sorted(result.tracked_by_git.items()):
        if path in result.submodules:
            out(f"{shown_path(path)}: "
                + submodule_why(root, path, result.submodules[path], stages.get(path)))
            continue
        where = "it" if indexed == path else f"'{shown_path(indexed)}'"
        out(f"{shown_path(path)}: tracked by Git too ({in_git_note(root, path, where)}), "
            f"so Git versions the data itself; "
            + tracked_by_git_ways(root, path, stages.get(path)))
    for path in result.own_gitignores_in_git:
        out(f"{shown_path(path)}: dvx's own .gitignore of a former output, which dvx "
            "deleted as no data, is still in the Git index; "
            f"`{git_add_command(root, [path])}` records its removal (then "
            f"`{user_git(root)} commit`)")
    for path, why_kept, stage_output, ignored in result.left_behind:
        stash = result.left_in_stash.get(path)
        gone = LOCK_ENTRY_GONE if stage_output else "its pointer left Git"
        if stash is not None:
            gone = (f"its {'dvx.lock entry' if stage_output else 'pointer'} is in a stash "
                    f"(stash@{{{stash}}})" + ("" if ignored else
                                              ", and Git does not ignore the data meanwhile"))
        out(f"{shown_path(path)}: no longer tracked, {gone}" + (
            f"; {why_kept}" if why_kept else ""))
    for path, stage in result.unrecorded:
        out(f"{shown_path(path)}: an output of stage '{stage}' in dvx.yaml, which has not "
            f"recorded it in dvx.lock yet (`dvx repro {stage}` does)")
    # No hint names a command for data Git tracks too, which checkout and commit leave to Git,
    # nor for a folder where a file goes that holds what a killed get moved aside, which
    # checkout leaves as it is, --force or not: its own hint says how to get past it
    hinted = [o for o in result.outputs if o.path not in result.tracked_by_git
              and o.get_folder_inside is None]
    for o in result.outputs:
        if o.get_folder_inside is not None and o.changed:
            out(f"({former_output_kept_why(root, o.path, o.get_folder_inside, o.get_replaced)})")
    _changed_in_cache_hint(root, hinted)
    # A commit records the workspace's data: the pointer's, only where it holds it unchanged
    miscounted = [for_command(root, o.path) for o in hinted
                  if o.wrong_counts is not None and o.workspace == "unchanged"]
    if miscounted:
        out(f"(`dvx commit {' '.join(miscounted)}` writes the "
            f"pointer{'' if len(miscounted) == 1 else 's'} again)")
    placed_first = [for_command(root, o.path) for o in hinted if o.wrong_counts is not None
                    and o.workspace in ("deleted", "not_pulled")]
    if placed_first:
        typed = " ".join(placed_first)
        out(f"(once `dvx checkout {typed}` places the data, `dvx commit {typed}` writes the "
            f"pointer{'' if len(placed_first) == 1 else 's'} again)")
    # No checkout puts back what the cache no longer holds (`_changed_in_cache_hint`)
    restorable = [o for o in hinted if not o.changed_in_cache]
    # A commit refuses data holding changes in the way of files not pulled (`in_the_way`)
    # A commit refuses too while a killed get holds a file of it aside: the warning naming
    # that get's folder says how to put it back, or a folder of the user's in it is named as
    # a get's: the warning naming it says to rename it
    changed_here = [o for o in restorable if o.workspace == "modified"
                    and not o.pointer_moved and o.stage is None and not o.in_the_way
                    and not o.moved_aside and not o.named_as_a_get_s]
    # No forced checkout places a file where a folder stands kept for a file .dvxignore
    # leaves out (`kept_for_left_out`): it is named with the way past it instead
    discarded = [o for o in changed_here if not _changed_only_by_kept_folders(o)]
    if changed_here:
        # a bare commit or checkout --force would take every other change too
        others = any(o.workspace == "modified" and o not in changed_here for o in hinted)
        # and of those, a bare checkout --force would try the kept folders too
        named = others or len(discarded) != len(changed_here)
        out(f"({_commit_of(root, result, [o.path for o in changed_here], others)} records "
            "changes" + (f"; {_discarded_by(root, discarded, named, has_remote)})" if discarded
                         else ")"))
    for o in restorable:
        verb = "checkout" if o.in_cache else "pull"
        for rel, left_out in o.kept_for_left_out:
            if rel in o.in_the_way:  # named by its own hint (`_in_the_way_hints`)
                continue
            path = f"{o.path}/{rel}"
            out(f"({shown_path(path)}: {kept_for_left_out_why(root, path, left_out, verb)})")
        for rel, folder, replaced in o.kept_for_a_get:
            out(f"({former_output_kept_why(root, f'{o.path}/{rel}', folder, replaced)})")
    edited_outputs = [o for o in restorable
                      if o.workspace == "modified" and not o.pointer_moved and o.stage is not None]
    own = [o for o in edited_outputs if o.stage not in frozen and o.path in own_data
           and o.path not in former_algorithm]
    rebuilt = [o for o in edited_outputs if o.stage not in frozen and o.path not in own_data]
    if own:  # a put-back deletes them as a run would: said so
        put_back = _put_back_by(root, own, has_remote)
        out("(`dvx repro` refuses to delete stage outputs holding data that no cache has, "
            "until you move them away (no cache or remote holds a copy)"
            + (f"; {put_back}, deleting them)" if put_back else ")"))
    if rebuilt:  # half-written by a stopped stage?
        put_back = _put_back_by(root, rebuilt, has_remote)
        out("(`dvx repro` rebuilds changed stage outputs; `dvx commit PATH` records an edit "
            "of yours instead" + (f"; {put_back})" if put_back else ")"))
    for stage in dict.fromkeys(o.stage for o in edited_outputs
                               if o.stage is not None and o.stage in frozen):
        put_back = _put_back_by(root, [o for o in edited_outputs if o.stage == stage],
                                has_remote)
        out(f"(stage '{stage}' is frozen, so `dvx repro` leaves its outputs as they are: "
            "`dvx commit PATH` records an edit of yours, "
            + (f"{put_back}, " if put_back else "")
            + f"`dvx unfreeze {shell_quote(stage)}` lets `dvx repro` rebuild them)")
    both_sides = [o for o in hinted
                  if o.workspace == "modified" and o.pointer_moved and not o.moved_in_workspace
                  and not o.new_manifest_missing and o.synced_manifest_missing is None
                  and not o.past_versions_kept]
    if both_sides:
        # a checkout places only what the cache holds: Git's version not fetched yet, a pull
        takes = ("`dvx checkout --force PATH` takes Git's" if all(o.in_cache for o in both_sides)
                 else "`dvx pull --force PATH` takes Git's, fetching it if the cache lacks it")
        out(f"(changed both here and in Git: `dvx commit --force PATH` keeps yours, {takes})")
    too_layered = [for_command(root, o.path) for o in hinted if o.past_versions_kept]
    if too_layered:
        out(f"(changed both here and in Git, over more partial pulls than dvx keeps track of: "
            f"a full `dvx pull {' '.join(too_layered)}` places Git's version and keeps your "
            "changes that are not in the cache, to tell yours from Git's)")
    moved_here = [o for o in hinted if o.workspace == "modified" and o.moved_in_workspace
                  and not o.new_manifest_missing and o.synced_manifest_missing is None]
    if moved_here:
        out("(data and pointer both changed here: `dvx commit --force PATH` keeps the data, "
            f"{_pointer_s_taken_by(root, moved_here, has_remote)})")
    for o in hinted:
        if o.synced_manifest_missing is not None:
            out(f"({o.synced_manifest_missing.fetch_command(root)} brings back the version "
                f"{shown_path(o.path)} was synced to, to tell your changes from Git's)")
    unsorted = [for_command(root, o.path) for o in hinted if o.new_manifest_missing]
    if unsorted:
        out(f"(changed both here and in Git: `dvx fetch {' '.join(unsorted)}` brings the "
            "new version's manifest, to tell your changes from Git's)")
    if any(o.workspace == "outdated" and (o.pushed or o.in_cache) and not o.outdated_not_cached
           and not o.own_version_undone and not o.applying for o in hinted):
        out("(`dvx checkout` brings the data the pointers name, `dvx pull` fetches it first)")
    for applying in dict.fromkeys(o.applying for o in hinted if o.applying):
        out(f"(running {applying} again checks out the experiment's data)")
    _own_version_undone_hint(root, hinted, undone_runs or {})
    _outdated_not_cached_hint(root, hinted)
    if any(o.in_cache and o.workspace == "not_pulled" for o in hinted):
        out("(`dvx checkout` places the data the pointers name)")
    if any(o.workspace == "linked_elsewhere" for o in hinted):
        out("(`dvx checkout --relink` links the data to this repository's cache"
            + (", once `dvx pull` has fetched what it lacks)" if any(
                not o.in_cache and o.workspace == "linked_elsewhere" for o in hinted)
               else ")"))
    # A frozen stage's outputs are left as they are: its own hint says what rebuilds them
    if any(not o.in_cache and not o.pushed and not o.only_in_workspace and o.stage not in frozen
           and o.path not in own_data for o in hinted):
        out("(`dvx repro` rebuilds the stage outputs with `push: false`: no remote holds them)")
    if any(o.only_in_workspace for o in hinted):
        out("(`dvx commit` stores in the cache again the data the workspace holds)")
    fetchable = any(not o.in_cache and o.workspace != "outdated" and o.pushed
                    and not o.only_in_workspace for o in hinted)
    if fetchable:
        _pull_hint(hinted, [o.path for o in hinted
                            if not o.in_cache and o.workspace != "outdated" and o.imported
                            and not o.only_in_workspace], has_remote)
    else:
        _files_not_pulled_hint(root, hinted)
    # An outdated import (a teammate's update whose data no remote may have) is named too:
    # the checkout or pull offered for it above fails if whoever updated it did not push.
    _import_hints(root, [o.path for o in hinted
                         if o.imported and not o.in_cache and not o.only_in_workspace
                         and (o.workspace == "outdated" or fetchable)], moved_imports or {},
                  unchecked)
    _in_the_way_hints(root, hinted)
    _stashed_pointers_hint(result)
    left_git = [item for item in result.left_behind if item[0] not in result.left_in_stash]
    hinted_beside = _beside_tracked_hint(root, result, left_git)
    left_git = [item for item in left_git if item[0] not in hinted_beside]
    # Data holding a repository of its own is that repository's: no command of dvx is the way
    kept = [(output, ignored) for _, why, output, ignored in left_git
            if why is not None and not why.startswith(REPOSITORY_INSIDE)]
    if any(why is None for _, why, _, _ in left_git):
        out("(`dvx checkout` removes data whose pointer or dvx.lock entry left Git, as it is in "
            "the cache)")
    if (False, False) in kept:
        out("(delete what you no longer need, or `dvx add` it again: Git no longer ignores it)")
    if (False, True) in kept:  # its pointer went, its .gitignore entry stayed
        out("(delete what you no longer need, or `dvx add` it again)")
    if any(output for output, _ in kept):
        out("(delete the stage outputs you no longer need, or bring back a commit that records "
            "them, which `git reflog` may list" + (": Git no longer ignores them)" if (
                True, False) in kept else ")"))


def _beside_tracked_hint(root: str, result: StatusResult,
                         left: list[tuple[str, str | None, bool, bool]]) -> set[str]:
    """The way out, checkout's too, for data kept in a directory that now holds paths Git or
    dvx track (a teammate's pointers of its files), never the whole directory's; returns
    the paths it was given for."""
    from dvx.ops.left_behind import ways_beside_tracked
    from dvx.workspace import REPOSITORY_INSIDE

    hinted = {path for path, why, stage_output, _ in left
              if why is not None and not why.startswith(REPOSITORY_INSIDE)
              and not stage_output and path in result.left_beside_tracked}
    for path in sorted(hinted):
        out(f"({shown_path(path)}: {ways_beside_tracked(for_command(root, path))})")
    return hinted


def _stashed_pointers_hint(result: StatusResult) -> None:
    """The way back for data whose pointer `git stash` took (`left_in_stash`): the pop of
    each stash entry holding such pointers, what Git takes meanwhile, and what `dvx checkout`
    does with that data before and after."""
    stashed = [(path, why, ignored) for path, why, _, ignored in result.left_behind
               if path in result.left_in_stash]
    if not stashed:
        return
    for entry in sorted({result.left_in_stash[path] for path, _, _ in stashed}):
        pop = "git stash pop" + (f" stash@{{{entry}}}" if entry else "")
        paths = [shown_path(path) for path, _, _ in stashed if result.left_in_stash[path] == entry]
        out(f"(`{pop}` brings back the pointer{'' if len(paths) == 1 else 's'} of "
            f"{', '.join(paths)}, and the .gitignore entries the stash took with them)")
    unignored = [why for _, why, ignored in stashed if not ignored]
    if unignored:  # the hook stops a commit of the bytes dvx placed, not of an edit of yours
        out("(until then `git add -A` would put that data into Git" + (
            ", which the pre-commit hook of `dvx install` stops)" if all(
                why is None for why in unignored) else ")"))
    if any(why is None for _, why, _ in stashed):
        out("(`dvx checkout` removes that data meanwhile, as it is in the cache; after the "
            "pop, `dvx checkout` places it again)")


def _own_version_undone_hint(root: str, outputs: list[OutputStatus],
                             undone_runs: Mapping[str, UndoneRun]) -> None:
    """The ways out for outdated data of the user's own, whose pointer `git stash` (or a
    reset, a checkout of the pointer file or dvx.lock) took back to HEAD's: place the
    pointer's data, or bring their pointer back (the stash) or record their data again (a
    file's with `dvx add --force`; a stage output's as `undone_runs` says, never with a
    commit that pairs it with inputs it was not made from)."""
    undone = [o for o in outputs if o.workspace == "outdated" and o.own_version_undone
              and not o.outdated_not_cached]
    for o in undone:
        typed = for_command(root, o.path)
        run = undone_runs.get(o.path)
        # A stage output with no run (dvx.yaml unreadable, its stage gone) is refused by add.
        yours = "`git stash pop` brings yours back" if o.stashed else \
            (_run_again(root, o.stage, typed, run) if run else "") if o.stage is not None else \
            f"`dvx add --force {typed}` records yours again" if _recordable(o) else ""
        version = "the version dvx.lock records" if o.stage is not None else \
            "the pointer's version"
        out(f"(`dvx checkout {typed}` places the data of {version}"
            + (f"; {yours})" if yours else ")"))


def _run_again(root: str, stage: str, typed: str, run: UndoneRun) -> str:
    """How the user's run of `stage` that made the output `typed`, undone in dvx.lock, is
    recorded again (`run`): `dvx repro` of it (the run-cache restores it), after its tracked
    inputs undone too are recorded again, and an unfreeze of a frozen stage; or `dvx commit
    --force` of an output the run-cache's run of the inputs the workspace holds made."""
    from dvx.pipeline.undone_runs import COMMIT, INPUTS_GONE

    if run.way == COMMIT:
        return f"`dvx commit --force {typed}` records yours again"
    repro = f"`dvx repro {shell_quote(stage)}`"
    if run.frozen:
        repro = f"`dvx unfreeze {shell_quote(stage)}`, then {repro},"
    if run.way == INPUTS_GONE:
        return (f"yours was made from other inputs than the workspace holds now: {repro} "
                "records it again once they are back")
    if not all(_recordable(i) for i in run.inputs):
        return ""  # an input of the user's own version that no command records again
    added = " ".join(for_command(root, i.path) for i in run.inputs)
    committed = " ".join(for_command(root, path) for path in run.committed)
    first = ([f"`dvx add --force {added}`"] if added else []) + (
        [f"`dvx commit --force {committed}`"] if committed else [])
    return f"{repro} records your run again" + (
        f", after {' and '.join(first)}" if first else "")


def _recordable(undone: OutputStatus) -> bool:
    """Does `dvx add --force` record again the user's own version of tracked data that
    `undone` says was undone: a file's, or a directory's the workspace holds whole?"""
    return undone.kind == "file" or undone.own_version_whole


def _outdated_not_cached_hint(root: str, outputs: list[OutputStatus]) -> None:
    """The ways out for outdated data holding a version no longer in the cache: a pull
    replaces it if the remote holds that version, or it is recorded over the pointer's (with
    `dvx add --force`; a stage output's, which add refuses, by its stage run again in its
    place, or from the inputs that made it, which records it: a commit would pair it with the
    inputs dvx.lock records)."""
    holding = [o for o in outputs if o.outdated_not_cached]
    if any(o.stage is None for o in holding):
        out("(`dvx pull` replaces outdated data holding a version no longer in the cache, if the "
            "remote holds that version, where `dvx checkout` keeps it; `dvx add --force PATH` "
            "records it instead, over the version the pointer names, undoing the change that "
            "brought that version)")
    from dvx.ops.checkout import rerun_from_its_inputs

    for o in holding:
        if o.stage is not None:
            typed = for_command(root, o.path)
            out(f"(`dvx pull {typed}` replaces the version no longer in the cache that "
                f"{shown_path(o.path)} holds, if the remote holds that version, where `dvx "
                f"checkout` keeps it; `dvx repro --force {shell_quote(o.stage)}` runs its "
                f"stage again instead; {rerun_from_its_inputs(o.stage)})")


def _in_the_way_hint(root: str, o: OutputStatus) -> str:
    """The ways that place the files not pulled of the directory `o` where paths of the
    user's own, with changes, are in the way (`in_the_way`): a plain checkout (or pull) skips
    them again and a commit records them there only with `--force`, dropping those files, so
    they are moved away first, or discarded by a forced checkout of those paths alone (of
    the directory, it would discard the user's other changes in it too)."""
    verb = "checkout" if o.in_cache else "pull"
    typed = for_command(root, o.path)
    paths = [shown_path(f"{o.path}/{path}") for path in o.in_the_way]
    one = len(paths) == 1
    it = "it" if one else "them"
    where = _where_not_pulled_go(o)
    return (f"({', '.join(paths)}, yours, with changes not in the cache, {where}: "
            f"`dvx {verb} {typed}` keeps {it}, placing only the other files not pulled, and "
            f"`dvx commit` records {it} there only with --force; "
            f"{o.ways_past_in_the_way(root)})")


def _where_not_pulled_go(o: OutputStatus) -> str:
    """Where the `in_the_way` paths of `o` stand, as the hint says it: where a file not
    pulled goes (a folder of the user's), or a folder of them (a file of the user's)."""
    kinds = {o.stands_in_place_of(path) for path in o.in_the_way}
    if len(o.in_the_way) == 1:
        return ("is where a file not pulled goes" if kinds == {"file"}
                else "is where a folder of files not pulled goes")
    return {frozenset({"file"}): "are where files not pulled go",
            frozenset({"folder"}): "are where folders of files not pulled go"}.get(
        frozenset(kinds), "are where files or folders of files not pulled go")


def _in_the_way_hints(root: str, outputs: list[OutputStatus]) -> None:
    """The ways around paths of the user's in the way of files not pulled, whatever else is
    hinted: a plain pull, offered for other data the cache lacks, keeps them again."""
    for o in outputs:
        if o.in_the_way and (o.in_cache or o.pushed):
            out(_in_the_way_hint(root, o))


def _places_files_not_pulled(o: OutputStatus) -> bool:
    """Does a checkout (or pull) of the directory `o` place files not pulled: some, with
    nothing of the user's in the way (`_in_the_way_hints`), and not all where a folder stands
    that it keeps for a file .dvxignore leaves out or for what a killed get moved aside
    (named apart, `kept_for_left_out`, `kept_for_a_get`)?"""
    kept = {rel for rel, _ in o.kept_for_left_out} | {rel for rel, _, _ in o.kept_for_a_get}
    return not o.in_the_way and any(rel not in kept for rel in o.not_pulled)


def _files_not_pulled_hint(root: str, outputs: list[OutputStatus]) -> None:
    """How to bring the files not pulled of directories, those of the user's in the way set
    apart (`_in_the_way_hints`): a checkout, of those whose files are all in the cache (it
    places nothing the cache lacks); a pull, of the others."""
    placeable = [for_command(root, o.path) for o in outputs
                 if _places_files_not_pulled(o) and o.in_cache]
    fetched = [for_command(root, o.path) for o in outputs
               if _places_files_not_pulled(o) and not o.in_cache and o.pushed]
    if placeable:
        out(f"(`dvx checkout {' '.join(placeable)}` places the files not pulled)")
    if fetched:
        out(f"(`dvx pull {' '.join(fetched)}` fetches the files not in the cache and places "
            "them)")


@click.command(epilog=example("""
git checkout v1.0 && dvx checkout
dvx checkout data/images/cat.png
dvx checkout --force data/train.csv   # discard local changes
dvx config cache.type copy && dvx checkout --relink   # links become copies
"""))
@TARGETS
@click.option("-f", "--force", is_flag=True,
              help="Overwrite or delete workspace changes: ones not in the cache, and "
                   "ones made here since the last checkout.")
@click.option("--relink", is_flag=True,
              help="Place again the files that already match, as cache.type now says.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def checkout(targets: tuple[str, ...], force: bool, relink: bool, as_json: bool) -> None:
    """Make the workspace match the pointer files, linking data from the cache."""
    from dvx.ops.checkout import checkout as do_checkout
    from dvx.outputs import resolve_targets

    repo = open_repo()
    with holding_lock(repo):
        resolved = resolve_targets(repo, targets)
        result = do_checkout(repo, resolved, force=force, relink=relink,
                             settle=None if targets else lambda: _declared_outputs(repo))
    if as_json:
        emit_json(result.to_json())
    else:
        report_checkout(result, not_pushed=[t.output.path for t in resolved
                                            if not t.output.push])
    if not result.ok:
        sys.exit(1)


def report_checkout(result: object, missing_hint: str = "run `dvx pull`",
                    not_fetched: dict[str, str | None] | None = None,
                    not_pushed: Collection[str] = ()) -> None:
    """What a checkout did, and what it could not place and why; `not_fetched`: the missing
    paths whose remote a pull could not use, each with that remote (its error follows);
    `not_pushed`: the stage outputs of `push: false`, which no remote holds, so no pull
    fetches them: only a run of their stage makes them again."""
    from dvx.ops.checkout import CheckoutResult

    assert isinstance(result, CheckoutResult)
    if not is_quiet():
        parts = [f"{len(result.restored)} restored"]
        if result.removed:
            parts.append(f"{len(result.removed)} removed")
        parts.append(f"{result.unchanged} unchanged")
        out("Checkout: " + ", ".join(parts) + ".")
    if result.ignored_again and not is_quiet():
        out("Wrote again the .gitignore entry a merge or `git mv` dropped, so that `git add` "
            f"leaves the data out of Git (commit the .gitignore): "
            f"{some_paths(result.ignored_again)}.")
    for path, why in result.skipped:
        warn(f"Skipped {shown_path(path)}: {why.rstrip('.')}.")  # some reasons are sentences
    damaged = set(result.damaged)
    unread = not_fetched or {}
    for remote in dict.fromkeys(unread.values()):
        which = f"the remote '{remote}' could not be read" if remote else "no remote is set"
        warn(f"Not in the cache (not fetched: {which}, below): "
             f"{some_paths([p for p in result.missing if p in unread and unread[p] == remote])}.")
    absent = [path for path in result.missing if path not in damaged and path not in unread]
    remade = [path for path in absent if _under_any(path, not_pushed)]
    if pulled := [path for path in absent if path not in remade]:
        warn(f"Not in the cache ({missing_hint}): {some_paths(pulled)}.")
    if remade:
        warn_not_pushed(remade)
    if result.damaged:  # in the cache, but not its bytes: the remote may well have them
        # a file keeping the changed bytes is a change a plain pull skips
        pull = (f"dvx pull --force {' '.join(result.kept_changed)}" if result.kept_changed
                else "dvx pull")
        warn("Not placed (its object in the cache was changed or damaged, and is moved aside, "
             f"above; `{pull}` fetches it again): {some_paths(result.damaged)}.")


def warn_not_pushed(paths: list[str]) -> None:
    """Say that `paths`, of `push: false` outputs, were not placed: the cache lacks them and
    no remote holds them, so no pull brings them; a run of their stage makes them again."""
    them = "it" if len(paths) == 1 else "them"
    warn(f"Not in the cache, and no remote holds {them} (`push: false`: `dvx repro` makes "
         f"{them} again): {some_paths(paths)}.")


def _under_any(path: str, outputs: Collection[str]) -> bool:
    return any(path == out or path.startswith(out.rstrip("/") + "/") for out in outputs)


def some_paths(paths: list[str], shown: int = 20) -> str:
    return named_list(paths, most=shown, name=shown_path)


@click.command(epilog=example("""
dvx remove data/train.csv.dvx          # stop tracking, keep the file
dvx remove --outs data/images.dvx      # stop tracking and delete the data
"""))
@click.argument("targets", nargs=-1, required=True, type=PATH)
@click.option("--outs", is_flag=True, help="Also delete the data from the workspace.")
@click.option("-f", "--force", is_flag=True, help="With --outs, delete even unsaved changes.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def remove(targets: tuple[str, ...], outs: bool, force: bool, as_json: bool) -> None:
    """Stop tracking data: delete its pointer file and .gitignore entry."""
    from dvx.errors import UsageError
    from dvx.ops.manage import remove as do_remove
    from dvx.ops.manage import unfinished_removal
    from dvx.outputs import resolve_targets

    if force and not outs:  # without --outs nothing is deleted, so nothing to force
        raise UsageError("-f (--force) goes with --outs: it deletes the data even with unsaved "
                         "changes, and without --outs the data stays.")
    repo = open_repo()
    with holding_lock(repo):
        # A remove killed half-way, run again: what is left of it is finished.
        unfinished = {t: rel for t in targets
                      if (rel := unfinished_removal(repo, t)) is not None}
        rest = [t for t in targets if t not in unfinished]
        try:
            # Removing one of two overlapping pointers is the way out of their conflict.
            resolved = resolve_targets(repo, rest, with_overlaps=True) if rest else []
        except UsageError as exc:
            raise _stage_named(repo, rest) or exc from None
        if any(t.subpath for t in resolved):
            raise UsageError("`dvx remove` works on whole tracked paths, not on files inside "
                             "them.")
        changed = do_remove(repo, [t.output for t in resolved], outs, force,
                            list(unfinished.values()))
    removed = [*unfinished.values(), *(t.output.path for t in resolved)]
    # With --outs, a path Git's index holds itself (a file `git add -f` put there) stays whole
    kept_whole = set(changed.kept_in_git).intersection(removed)
    if as_json:
        emit_json({"removed": removed,
                   "deleted_data": outs and any(p not in kept_whole for p in removed),
                   "kept": changed.kept, "kept_in_git": changed.kept_in_git,
                   "unignored": changed.unignored, **changed.to_json()})
        return
    if not is_quiet():
        for path in removed:
            done = "" if not outs else " and kept it (Git tracks it)" if path in kept_whole \
                else _deleted_but_git_s(path, changed.kept_in_git)
            out(f"Stopped tracking {shown_path(path)}{done}")
    if changed.kept:
        warn(kept_untracked(changed.kept))
    if changed.kept_in_git:
        warn(kept_in_git(changed.kept_in_git))
    if changed.unignored:
        warn(unignored_note(repo.root, changed.unignored))
    report_staging(repo.root, changed.paths if changed.staged else [], changed.paths)


def _deleted_but_git_s(path: str, kept_in_git: list[str]) -> str:
    """How `remove --outs` ends the line for the data at `path`: never that it deleted all
    of it when the files Git's index holds in it stay (named below)."""
    if any(kept.startswith(path + "/") for kept in kept_in_git):
        return " and deleted its data, keeping the files Git tracks in it"
    return " and deleted it"


def _stage_named(repo: Repo, targets: list[str]) -> UsageError | None:
    """For `dvx remove STAGE` (DVC's way to remove a stage): the error pointing to `dvx stage
    remove`, if a target that is no path here names a stage (or a foreach/matrix group)."""
    import os

    from dvx.errors import DvxError, UsageError
    from dvx.pipeline.spec import load_pipeline, stage_target

    try:
        pipeline = load_pipeline(repo)
        names = {stage_target(t): t for t in targets if not os.path.lexists(t)}
    except DvxError:
        return None
    for stage in pipeline.stages if pipeline is not None else ():
        group = stage.group or stage.name  # what `dvx stage remove` takes out of dvx.yaml
        for name in (stage.name, stage.group):
            if name is not None and name in names:
                what = ("a stage" if name == group else
                        f"an item of the foreach/matrix stage '{group}'")
                return UsageError(f"'{names[name]}' is not tracked data: it names {what} of "
                                  "dvx.yaml.", f"Remove the stage with `dvx stage remove "
                                  f"{group}`.")
    return None


@click.command(epilog=example("""
dvx move data/train.csv data/raw/train.csv
dvx move data/images archive/     # into an existing directory
"""))
@click.argument("src", type=PATH)
@click.argument("dst", type=PATH)
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def move(src: str, dst: str, as_json: bool) -> None:
    """Move tracked data together with its pointer file, and fix .gitignore."""
    from dvx.errors import UsageError
    from dvx.ops.manage import finish_done_move
    from dvx.ops.manage import move as do_move
    from dvx.outputs import resolve_targets
    from dvx.paths import refuse_empty, repo_relpath

    refuse_empty(src, "the tracked path to move")
    refuse_empty(dst, "where to move it")  # never the top, as an unset variable gives
    repo = open_repo()
    with holding_lock(repo):
        done = finish_done_move(repo, src, dst)  # a rerun of one stopped at its very end
        if done is not None:
            old_path, new_path, changed = done
        else:
            resolved = resolve_targets(repo, [src])
            if len(resolved) != 1 or resolved[0].subpath:
                raise UsageError(f"'{src}' is not one tracked path.",
                                 "Move whole tracked paths.")
            target = resolved[0]
            named = repo_relpath(repo.root, src)
            if named not in (target.output.path, target.output.pointer_path):  # a folder
                raise UsageError(f"'{src}' is not tracked by dvx: it is a folder holding the "
                                 f"tracked path {target.output.path}.",
                                 "Move that with `dvx move`, and the folder's other files "
                                 "with `git mv` or `mv`.")
            old_path = target.output.path
            new_path, changed = do_move(repo, target.output, dst)
    if as_json:
        emit_json({"from": old_path, "to": new_path, **changed.to_json()})
        return
    if not is_quiet():
        out(f"Moved {shown_path(old_path)} to {shown_path(new_path)}")
    report_staging(repo.root, changed.paths if changed.staged else [], changed.paths)


@click.command(epilog=example("""
dvx unprotect models/model.pt
"""))
@click.argument("targets", nargs=-1, required=True, type=PATH)
@common_options
def unprotect(targets: tuple[str, ...]) -> None:
    """Replace linked, read-only tracked files with writable copies so they can be edited."""
    from dvx.ops.manage import unprotect as do_unprotect
    from dvx.outputs import resolve_targets

    repo = open_repo()
    with holding_lock(repo):
        outputs = list({t.output.path: t.output
                        for t in resolve_targets(repo, targets)}.values())
        done = do_unprotect(repo, outputs)
    for path in done:
        if not is_quiet():
            out(f"Unprotected {shown_path(path)}; `dvx add` or `dvx commit` it after editing.")


@click.command("check-ignore", epilog=example("""
dvx check-ignore data/images/thumbs.db
dvx check-ignore -d data/images/*.tmp     # with the rule that ignores each
"""))
@click.argument("targets", nargs=-1, required=True, type=PATH)
@click.option("-d", "--details", is_flag=True,
              help="Show the .dvxignore file, line and pattern that ignore each path.")
@click.option("-n", "--non-matching", is_flag=True,
              help="Also list the paths that are not ignored (with -d).")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def check_ignore(targets: tuple[str, ...], details: bool, non_matching: bool,
                 as_json: bool) -> None:
    """Say which paths .dvxignore leaves out of tracked directories (exit status 1 if none
    of them is ignored), as `git check-ignore` does for .gitignore."""
    import os

    from dvx.errors import UsageError
    from dvx.paths import repo_relpath

    if non_matching and not details:
        raise UsageError("-n/--non-matching only applies with -d/--details.")
    repo = open_repo()
    rows = []
    for target in targets:
        rel = repo_relpath(repo.root, target)
        rows.append((target, repo.dvxignore.deciding_rule(rel, os.path.isdir(target))))
    if as_json:
        emit_json([{"path": t, "ignored": m is not None and m.ignores,
                    "source": m and m.source, "line": m and m.line,
                    "pattern": m and m.pattern} for t, m in rows])
    elif not is_quiet():  # names quoted as status shows them (the JSON keeps them as given)
        for target, match in rows:
            if match is not None and (match.ignores or non_matching):
                out(f"{shown_path(match.source)}:{match.line}:{_shown_pattern(match.pattern)}"
                    f"\t{shown_path(target)}" if details else shown_path(target))
            elif details and non_matching:
                out(f"::\t{shown_path(target)}")
    if not any(m is not None and m.ignores for _, m in rows):
        sys.exit(1)


def _shown_pattern(pattern: str) -> str:
    """A .dvxignore pattern as written (its backslashes are its own escapes), quoted only
    when it holds a character a terminal acts on."""
    return pattern if pattern.isprintable() else shown_path(pattern)


COMMANDS = [add, status, diff, commit, checkout, remove, move, unprotect, check_ignore]
