"""Sync commands: remote (add/list/modify/remove/default/rename), push, fetch, pull."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from dvx.cli.common import (
    DEFAULT_REMOTE,
    PATH,
    UTF8,
    FiniteFloat,
    NumbersAsValues,
    RemoteName,
    common_options,
    example,
    is_quiet,
    open_repo,
    refuse_value_to_unset,
    revision_options,
    targets_in_scope,
    transfer_jobs,
)
from dvx.cli.data import report_checkout, warn_not_pushed
from dvx.cli.project import level_options
from dvx.cli.ui import (
    confirm,
    emit_json,
    is_terminal,
    objects,
    out,
    warn,
)
from dvx.errors import Interrupted
from dvx.logs import pasted_args, shell_quote, shown_path
from dvx.paths import POINTER_SUFFIX, for_command
from dvx.pointer import recorded_wrongly
from dvx.wording import counted, human_size, named_list

if TYPE_CHECKING:
    from dvx.ops.fsck import FsckResult
    from dvx.ops.gc import GcResult
    from dvx.ops.sync import Recorded, SyncResult
    from dvx.outputs import Target
    from dvx.repo import Repo


@click.group(epilog=example("""
dvx remote add -d storage /mnt/share/dvx-store
dvx remote list
"""))
@common_options
def remote() -> None:
    """Manage remotes: where `dvx push` sends data and `dvx pull` gets it."""


def _repo_for(level: str | None) -> Repo:
    """The repository here; for --global outside of any, a stand-in whose only config is the
    user's own (so credentials for remotes of other repositories can be set anywhere)."""
    from dvx.errors import NotARepoError
    from dvx.repo import Repo as RepoClass

    try:
        repo: Repo = open_repo()
    except NotARepoError:
        if level != "global":
            raise
        repo = RepoClass(os.getcwd())
    return repo


@remote.command("add", epilog=example("""
dvx remote add -d storage /mnt/share/dvx-store
dvx remote add backup file:///srv/backup/project
"""))
@click.argument("name", type=UTF8)
@click.argument("url", type=UTF8)
@click.option("-d", "--default", "make_default", is_flag=True, help="Make it the default.")
@click.option("-f", "--force", is_flag=True,
              help="Replace a remote of the same name in the config written.")
@level_options
@common_options
def remote_add(name: str, url: str, make_default: bool, force: bool, level: str | None
               ) -> None:
    """Add a remote NAME at URL: a directory, file://, s3://, ssh://, http(s)://, gs://,
    azure://, or one of fsspec's storage protocols abfs://, ftp://, hdfs://, smb://,
    webdav:// and webhdfs://. A relative directory path is taken from the current directory,
    and stored relative to the repository root (with --global: absolute). A remote of the
    same name at another config level is noted, with which URL is in effect."""
    from dvx.ops.remote import add_remote

    notice = add_remote(_repo_for(level), name, url, make_default, level, force)
    if not is_quiet():
        out(f"Added remote '{name}'" + (" (default)" if make_default else "") + ".")
    if notice:
        warn(notice)


@remote.command("list", epilog=example("dvx remote list --json"))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def remote_list(as_json: bool) -> None:
    """List remotes (credentials in URLs are hidden)."""
    from dvx.ops.remote import dangling_default, list_remotes

    repo = open_repo()
    infos = list_remotes(repo)
    if as_json:
        emit_json([{"name": i.name, "url": i.url, "default": i.is_default, "level": i.level}
                   for i in infos])
    else:
        for info in infos:
            out(f"{info.name}\t{info.url or '(no URL)'}"
                + ("\t(default)" if info.is_default else ""))
    for problem in [*(i.problem for i in infos), dangling_default(repo.config)]:
        if problem is not None:
            warn(f"WARNING: {problem}")


@remote.command("modify", cls=NumbersAsValues, epilog=example("""
dvx remote modify storage endpointurl http://127.0.0.1:9000
dvx remote modify --local storage secret_access_key "$SECRET"
dvx remote modify storage jobs 16
dvx remote modify storage jobs --unset
"""))
@click.argument("name", type=UTF8)
@click.argument("key", type=UTF8)
@click.argument("value", required=False, type=UTF8)
@click.option("-u", "--unset", is_flag=True, help="Remove the option.")
@level_options
@common_options
def remote_modify(name: str, key: str, value: str | None, unset: bool, level: str | None
                  ) -> None:
    """Set (or --unset) option KEY of remote NAME.

    \b
    S3:    endpointurl, region, profile, access_key_id, secret_access_key*, session_token*,
           ssl_verify (true, false, or a CA bundle file; relative: to the repository root),
           chunksize (multipart part size in bytes)
    SSH:   user, port, keyfile, password*, known_hosts (a file, or 'ignore'), connect_timeout
    HTTP:  user, password*, ssl_verify (as for S3)
    GS:    projectname, credentialpath, endpointurl, anonymous (true: no credentials)
    Azure: account_name, account_key*, connection_string*, sas_token*
    Dir:   shared (group: a directory several users of one Unix group push to)
    All:   url, jobs, retries, timeout (seconds without progress before a request fails),
           pack_threshold (objects below this many bytes go in packs; 0: none), pack_size
    Secrets (*) are written to .dvx/config.local (or, with --global, to your own config),
    never to the tracked config. A VALUE may be a negative number; any other VALUE that
    starts with '-' goes after `--`.
    """
    from dvx.errors import UsageError
    from dvx.ops.remote import modify_remote

    if value is None and not unset:
        raise UsageError("Give a VALUE, or --unset to remove the option.")
    if unset:
        flag = f"--{level} " if level else ""
        refuse_value_to_unset(value, f"dvx remote modify {flag}"
                                     f"{pasted_args(name, key, 'VALUE')}")
    notice = modify_remote(_repo_for(level), name, key, None if unset else value, level)
    if notice:
        warn(notice)


@remote.command("remove", epilog=example("""
dvx remote remove backup
dvx remote remove --local mine
"""))
@click.argument("name")
@level_options
@common_options
def remote_remove(name: str, level: str | None) -> None:
    """Remove remote NAME from the config of one level (without one: .dvx/config), and the
    default there if it is NAME. The data on the remote is not touched."""
    from dvx.ops.remote import remove_remote

    repo = _repo_for(level)
    notice = remove_remote(repo, name, level)
    if not is_quiet():
        out(f"Removed remote '{name}' from the {level or 'project'} config.")
    if notice:
        warn(notice)
    _warn_of_outputs_sent_to(repo, name, None)


@remote.command("default", epilog=example("""
dvx remote default            # show it
dvx remote default --project  # show the one .dvx/config sets
dvx remote default storage    # set it
dvx remote default --unset
"""))
@click.argument("name", required=False)
@click.option("-u", "--unset", is_flag=True,
              help="Remove the default from the level given (without one: .dvx/config).")
@level_options
@common_options
def remote_default(name: str | None, unset: bool, level: str | None) -> None:
    """Show or set the default remote. Shown without a level: the one in effect; with
    --global, --project or --local: the one that level's config sets."""
    from dvx.errors import UsageError
    from dvx.ops.remote import dangling_default, default_remote, set_default

    if unset and name:
        raise UsageError(f"-u (--unset) removes the default remote: give it no NAME ({name}).",
                         f"`dvx remote default {pasted_args(name)}` makes it the default instead.")
    if name == "":  # an unset variable: never "show it"
        raise UsageError("The remote name given is empty.",
                         "Name a remote (`dvx remote list`), or give none to show the default.")
    repo = _repo_for(level)
    if unset or name:
        notice = set_default(repo, None if unset else name, level)
        if notice:
            warn(notice)
        return
    # With a level: that level's own default, as `dvx config --LEVEL core.remote` shows it.
    current = default_remote(repo.config, level)
    if current is None:
        where = f" in the {level} config" if level else ""
        flag = f" --{level}" if level else ""
        raise UsageError(f"No default remote is set{where}.",
                         f"Set one with `dvx remote default{flag} NAME`.")
    out(current)
    problem = dangling_default(repo.config)
    if problem is not None and current == default_remote(repo.config):
        warn(f"WARNING: {problem}")


@remote.command("rename", epilog=example("""
dvx remote rename storage main
dvx remote rename --local mine fast
"""))
@click.argument("old")
@click.argument("new")
@level_options
@common_options
def remote_rename(old: str, new: str, level: str | None) -> None:
    """Rename remote OLD to NEW in the config of one level (without one: .dvx/config), and
    the default there if it is OLD."""
    from dvx.ops.remote import rename_remote

    repo = _repo_for(level)
    notice = rename_remote(repo, old, new, level)
    if notice:
        warn(notice)
    _warn_of_outputs_sent_to(repo, old, new)


def _warn_of_outputs_sent_to(repo: Repo, name: str, new: str | None) -> None:
    """After remote `name` was renamed to `new` (None: removed): the pipeline outputs that
    dvx.yaml still sends to `name`, which no remote is called any more. dvx.yaml is not
    rewritten: it is tracked and shared, a --local or --global rename is this user's alone,
    and a changed `remote:` makes its stage run again (dvx.lock records it)."""
    from dvx.pipeline.spec import outputs_sent_to

    if name in repo.config.remote_names() or not os.path.isdir(repo.dvx_dir):
        return  # another level still defines it; or --global outside of any repository
    outputs = outputs_sent_to(repo, name)
    if not outputs:
        return
    shown = named_list(outputs, most=10)
    instead = (f"to '{new}' (or rename the remote back)" if new is not None
               else "to another remote, or remove them")
    warn(f"WARNING: dvx.yaml sends {shown} to the remote '{name}' (`remote:`), which no "
         "longer exists: push, fetch, pull and status -c of that data fail until a remote "
         f"has that name again. Change those `remote:` entries {instead}; `dvx repro` then "
         "records the change in dvx.lock, running those stages again. (Older commits' "
         "dvx.lock keep the name: their data goes to the default remote.)")


TARGETS = click.argument("targets", nargs=-1, type=PATH)
REMOTE = click.option("-r", "--remote", "remote_name", type=RemoteName(), metavar="NAME",
                      help="Remote to use (default: core.remote).")
JOBS = transfer_jobs("Objects to transfer at once (default: remote's jobs, or 4 per CPU).")
JSON = click.option("--json", "as_json", is_flag=True, help="Output a JSON summary.")
RUN_CACHE = click.option("--run-cache", is_flag=True,
                         help="Also transfer the run-cache: past runs of pipeline stages and "
                              "their outputs, so `dvx repro` can restore instead of running.")


def _with_runs(repo: Repo, result: SyncResult, push: bool, remote_name: str | None,
               jobs: int | None, as_json: bool) -> None:
    """Transfer the run-cache too, and add what it moved to `result`."""
    from dvx.pipeline import runcache

    if push:
        runs = runcache.push_runs(repo, remote_name, jobs, result)
    else:
        runs = runcache.fetch_runs(repo, remote_name, jobs, runcache.pipeline_stage_keys(repo),
                                   result)
    if runs.sync is not None:
        result.add_transfer(runs.sync)
    result.problems += runs.problems
    if not is_quiet() and not as_json:
        out(f"{'Pushed' if push else 'Fetched'} {runs.records} run record"
            f"{'' if runs.records == 1 else 's'} of the run-cache.")
        if runs.held_back:
            out(f"Kept {runs.held_back} run record{'' if runs.held_back == 1 else 's'} "
                "off the remote: an output of each has `push: false`, or "
                "`remote:` naming another remote, in dvx.yaml.")


# What push, fetch and pull with --run-cache do after their data's transfer.
RUNS_LEFT = "{} the past pipeline runs (--run-cache)"


@contextlib.contextmanager
def _said_as_ending(then: str) -> Iterator[None]:
    """A stop of the transfers within, said as the command that ends with them says it:
    `then`, what the command does after them (as running it again does it; "": nothing)."""
    from dvx.remote.workers import ends_command  # here: commands without transfers never load it

    try:
        yield
    except Interrupted as exc:
        raise ends_command(exc, then) from None


def _finish(repo: Repo, result: SyncResult, push: bool, run_cache: bool,
            remote_name: str | None, jobs: int | None, as_json: bool,
            allow_missing: bool = False, command: str = "fetch") -> None:
    """The common end of push, fetch and pull (`command`, for those two): the run-cache if
    asked, the report, the exit."""
    if run_cache:
        _with_runs(repo, result, push, remote_name, jobs, as_json)
    for oid in result.repaired:
        warn(f"Repaired {oid}: the remote copy was missing and was uploaded again."
             if oid in result.repaired_missing else
             f"Repaired {oid}: the remote copy was corrupt and was replaced.")
    report_sync("Pushed" if push else "Fetched", result, as_json, command)
    failure = result.remote_failure()
    if failure is not None:  # after the report of what the other remotes got
        raise failure
    if result.ok:
        return
    if allow_missing and result.ok_but_for_absent():
        absent = len(result.absent_on_remote())
        warn(f"WARNING: {absent} object{'' if absent == 1 else 's'} the remote "
             f"'{result.remote}' does not have {'was' if absent == 1 else 'were'} left out, "
             "as --allow-missing asks (named above); the rest was pulled.")
        return
    sys.exit(1)


def report_sync(verb: str, result: SyncResult, as_json: bool, command: str = "fetch") -> None:
    """What a push or fetch did: per remote, when it was split over several, then its
    problems and its checkout (pull). `command`: the fetch or pull a hint names again. The
    remotes whose transfer stopped are the caller's to name (`SyncResult.remote_failure`)."""
    if as_json:
        emit_json(result.to_json())
    for part in result.parts or [result]:
        _report_remote(verb, part, as_json, result.asked_by_checkout, command)
    for problem in result.problems:
        warn(f"Problem: {problem}")
    if result.checkout is not None and not as_json:
        report_checkout(result.checkout, "the download failed, above" if result.transfer.failed
                        else "not on the remote either", result.not_fetched)
    if result.not_pushed and not as_json:
        warn_not_pushed(result.not_pushed)


def _report_remote(verb: str, result: SyncResult, as_json: bool,
                   asked_by_checkout: bool = False, command: str = "fetch") -> None:
    """What the transfer with one remote did, and what failed there; that no remote was
    asked only where neither it nor the checkout after it (`asked_by_checkout`) asked one.
    `command`: the fetch or pull a hint names again."""
    t = result.transfer
    if not as_json and not is_quiet() and not result.asked:
        so = "." if asked_by_checkout else ", so no remote was asked."
        out(f"{verb} 0 objects: the cache already holds the {objects(t.already_there)} "
            f"needed{so}" if t.already_there else
            f"{verb} 0 objects: there is no data to fetch{so}")
    elif not as_json and not is_quiet():
        count = t.transferred
        out(f"{verb} {count} object{'' if count == 1 else 's'} ({human_size(t.bytes)}); "
            f"{t.already_there} already there; {len(t.failed)} failed "
            f"[remote '{result.remote}'].")
    for line in failure_lines(t.failed, result.paths.lookup(t.failed)):
        warn(line)
    if result.never_pushed and result.newer_indexes:
        named = "; ".join(map(str, result.never_pushed))
        warn(f"No pack index of the remote '{result.remote}' that this dvx can read names "
             f"that data ({named}), but some were written by a newer dvx "
             f"({', '.join(result.newer_indexes)}): the data is most likely in a pack they "
             "name. Upgrade dvx to read them.")
    elif result.never_pushed and result.refused_indexes:
        named = "; ".join(map(str, result.never_pushed))
        damaged = ", ".join(result.refused_indexes)
        warn(f"No usable pack index of the remote '{result.remote}' names that data "
             f"({named}), but some of its indexes are damaged ({damaged}, refused above): "
             "the data may be in a pack that a damaged index names. `dvx fsck --remote "
             f"{shell_quote(result.remote)}` lists what is damaged or missing there, and `dvx "
             f"push --repair -r {shell_quote(result.remote)}` from a clone whose cache has the "
             "data uploads again what only a damaged index names.")
    elif result.never_pushed and result.unindexed_packs:
        _report_unindexed_packs(result.remote, result.never_pushed, result.never_pushed_unnamed,
                                result.unindexed_packs)
    elif result.never_pushed:
        _report_never_pushed(result.remote, result.never_pushed, result.never_pushed_unnamed,
                             result.fetch_from if result.pushing else None,
                             result.fetch_from_default, result.default_remote, command)
    if result.lost:
        named = "; ".join(map(str, result.lost))
        warn(f"The remote '{result.remote}' lost that data ({named}): its "
             "pack indexes name it, so it was pushed, but the object is gone from the remote "
             "(deleted outside dvx). Run `dvx fsck --remote "
             f"{shell_quote(result.remote)}`, then `dvx push` from a clone whose cache has the "
             "data.")
    if result.cut_short:
        named = "; ".join(map(str, result.cut_short))
        warn(f"The remote '{result.remote}' holds that data damaged ({named}): its pack is "
             "shorter than the pack index says (cut short outside dvx). "
             + _repair_advice(result.remote))
    if result.damaged:
        named = "; ".join(map(str, result.damaged))
        warn(f"The copy of that data read from the remote '{result.remote}' ({named}) hashes "
             "to another oid, so it was not stored: most likely the remote's copy is damaged "
             "(outside dvx). " + _repair_advice(result.remote))


def _repair_advice(remote: str) -> str:
    """How a copy damaged on the remote is replaced (docs/remotes.md, "Checking and
    repairing")."""
    return (f"Run `dvx fsck --remote {shell_quote(remote)}`, then `dvx push` from a clone "
            "whose cache has the data (or `dvx push --repair` there, which does both).")


SHOWN_PACKS = 3  # packs no index names, named one by one


def _report_unindexed_packs(remote: str, never_pushed: list[Recorded], unnamed: int,
                            packs: list[str]) -> None:
    """Data no pack index names, on a remote holding packs no index names, older than the
    grace period: the data may be in one of them (an index lost, or a push stopped between
    its pack and its index), or never pushed. What the workspace here still holds is
    stored again all the same (`_report_never_pushed`)."""
    _report_never_pushed(remote, [r for r in never_pushed if r.held_here is not None],
                         unnamed)
    others = [r for r in never_pushed if r.held_here is None]
    if not others:
        return
    one = len(packs) == 1
    warn(f"No pack index of the remote '{remote}' names that data "
         f"({'; '.join(map(str, others))}), and {counted(len(packs), 'pack')} there, older "
         f"than the grace period, {'is' if one else 'are'} named by no index "
         f"({named_list(packs, most=SHOWN_PACKS)}). The data may be in "
         f"{'that pack' if one else 'one of them'}: the remote may have lost an index (as a "
         "copy of the remote that missed some does), or a push of the data may have stopped "
         "between its pack and its index. Otherwise, whoever committed it pushed the commit "
         "to Git without running `dvx push`. Look at the remote with "
         f"`dvx fsck --remote {shell_quote(remote)}` and put back the indexes it lacks, or "
         "run `dvx push` again from a clone whose cache has the data." + _imports_note(others))


def _report_never_pushed(remote: str, never_pushed: list[Recorded], unnamed: int,
                         fetch_from: list[str] | None = None,
                         from_default: bool = False, default: str | None = None,
                         command: str = "fetch") -> None:
    """Data no pack index of the remote names: held by the workspace here, where the cache
    lost it, it is stored again by `dvx commit`; else, most likely, it was never pushed by
    whoever committed it. `unnamed`: how many more files record such data. `fetch_from`
    (a push's, which found the data in neither this cache nor the remote): the other
    remotes configured, the default first (`from_default`: the first is the default),
    which a fetch may bring it from. A fetch's (`command`, with -r) names first the remote
    a plain push sends the data to (`Recorded.pushed_to`; `default`: the default remote),
    where it may be."""
    held = [r for r in never_pushed if r.held_here is not None]
    if held:
        # Naming only the few paths shown would leave the others failing the next push;
        # a plain `dvx commit` stores again all that the workspace holds.
        stores = f"`dvx commit {' '.join(str(r.held_here) for r in held)}` stores it in the " \
            "cache again" if not unnamed else (
                "`dvx commit`, with no path, stores it in the cache again, with all else the "
                f"workspace holds that the cache lost ({unnamed} more "
                f"file{'s' if unnamed > 1 else ''} than named here record data the remote "
                "does not have)")
        warn(f"The remote '{remote}' does not have that data ({'; '.join(map(str, held))}), "
             "and the cache here has lost it, but the workspace still holds it unchanged: "
             f"{stores}, and `dvx push` then uploads it.")
    others = [r for r in never_pushed if r.held_here is None]
    if others and fetch_from:
        warn(_fetch_before_pushing(remote, others, fetch_from, from_default)
             + _imports_note(others))
    elif others and fetch_from is None and any(r.pushed_to for r in others):
        _report_pushed_elsewhere(remote, others, default, command)
    elif others:
        nor_here = ", nor does the cache here, so it cannot be pushed" \
            if fetch_from is not None else ""
        warn(f"The remote '{remote}' does not have that data{nor_here} "
             f"({'; '.join(map(str, others))}). Either {_NEVER_PUSHED_CAUSES}"
             + _imports_note(others))


# Why a remote lacks data a commit records: a teammate's push never made, or a gc's deletion.
_NEVER_PUSHED_CAUSES = (
    "whoever committed it pushed the commit to Git without running `dvx push` (ask them "
    "to run it in their clone; `dvx install` makes their `git push` push the data too), or a "
    "`dvx gc --remote` whose scope left out that commit deleted it from the remote (then `dvx "
    "push -A` from a clone whose cache still has it uploads it again).")


def _report_pushed_elsewhere(remote: str, recorded: list[Recorded], default: str | None,
                             command: str) -> None:
    """Data a fetch with -r found missing on `remote`, by the remote a plain push sends it to
    (`pushed_to`): that one is named first, with the fetch without -r that reads it there,
    and the causes a teammate answers for only if it lacks it too."""
    by_remote: dict[str | None, list[Recorded]] = {}
    for r in sorted(recorded, key=lambda r: (r.pushed_to != default, r.pushed_to or "")):
        by_remote.setdefault(r.pushed_to, []).append(r)
    for sent_to, group in by_remote.items():
        named = "; ".join(map(str, group))
        if sent_to is None:
            warn(f"The remote '{remote}' does not have that data ({named}). Either "
                 f"{_NEVER_PUSHED_CAUSES}" + _imports_note(group))
            continue
        which = _plain_push_target(f"'{sent_to}'", sent_to == default)
        warn(f"The remote '{remote}' does not have that data ({named}); it may be on {which}, "
             f"where a plain `dvx push` sends it: `dvx {command}` without -r reads it from "
             f"there. If that remote lacks it too, either {_NEVER_PUSHED_CAUSES}"
             + _imports_note(group))


def _plain_push_target(shown: str, is_default: bool) -> str:
    """The remote a plain `dvx push` sends an output's data to, `shown` as its name: the
    default one, or the output's own (`remote:` in dvx.yaml)."""
    return f"the default remote {shown}" if is_default \
        else f"its own remote {shown} (`remote:` in dvx.yaml)"


def _fetch_before_pushing(remote: str, recorded: list[Recorded], others: list[str],
                          from_default: bool) -> str:
    """A push that found data in neither this cache nor `remote`, with other remotes
    configured (the default first): this clone never fetched it (a partial pull), so a fetch
    from the one holding it comes first. No teammate is blamed: the other remotes were not
    asked. The remote is always named (`-r`): a plain `dvx fetch` reads each output's own
    remote (`remote:` in dvx.yaml), which may not be the one holding this data."""
    from dvx.ops.sync import fetching_from

    fetch = fetching_from(others, from_default)
    return (f"Neither the cache here nor the remote '{remote}' has that data "
            f"({'; '.join(map(str, recorded))}), so it cannot be pushed there: this clone "
            "never fetched it (`git pull` brings no data, `dvx pull PATH` only that path's). "
            f"Fetch it from the remote that holds it, {fetch}, then push again (`dvx push -r "
            f"{shell_quote(remote)}`). If no remote holds it, whoever committed it pushed the "
            "commit to Git without running `dvx push`.")


def _imports_note(never_pushed: list[Recorded]) -> str:
    """For imports among the pointers whose data no remote has: what `dvx update` fetches
    from their source (pull reads only the remote)."""
    from dvx.ops.sync import imports_note

    note = imports_note([(r.pointer, r.update) for r in never_pushed if r.update is not None],
                        [(r.pointer, r.commit, r.import_again) for r in never_pushed
                         if r.import_again is not None])
    return f" {note}" if note else ""


SHOWN_FAILURES = 50  # lines; --json lists every failure
SHOWN_ALIKE = 3  # failures of one reason shown one by one; more are summed up in one line


def failure_lines(failed: dict[str, str], named: dict[str, str]) -> list[str]:
    """The failures a person reads: one line each, except that many failures for one reason
    (a remote that refuses everything) become one line with a few examples."""
    def shown(oid: str) -> str:
        path = named.get(oid)
        return f"{shown_path(path)} ({oid})" if path else oid

    by_reason: dict[str, list[str]] = {}
    for oid in sorted(failed, key=lambda oid: (named.get(oid, ""), oid)):
        by_reason.setdefault(failed[oid], []).append(oid)
    lines: list[str] = []
    for reason, oids in by_reason.items():
        if len(oids) > SHOWN_ALIKE:
            lines.append(f"Failed {len(oids)} objects: {reason} (for example "
                         f"{', '.join(shown(oid) for oid in oids[:2])})")
        else:
            lines += [f"Failed {shown(oid)}: {reason}" for oid in oids]
    if len(lines) > SHOWN_FAILURES:
        rest = len(lines) - SHOWN_FAILURES
        lines = [*lines[:SHOWN_FAILURES], f"... and {rest} more lines of failures (--json lists "
                                          "them all)."]
    return lines


@click.command(epilog=example("""
dvx push
dvx push -r backup data/images
dvx push --run-cache     # also share past pipeline runs
dvx push --repair        # after `dvx fsck --remote` found corrupt objects
"""))
@TARGETS
@REMOTE
@JOBS
@JSON
@RUN_CACHE
@revision_options
@click.option("--repair", is_flag=True,
              help="Also verify what the remote already has, and replace corrupt copies from "
                   "verified local ones.")
@common_options
def push(targets: tuple[str, ...], remote_name: str | None, jobs: int | None,
         as_json: bool, run_cache: bool, all_branches: bool, all_tags: bool,
         all_commits: bool, revs: tuple[str, ...], last_n: int | None, repair: bool) -> None:
    """Upload cached data that the remote lacks (directory manifests last): the workspace's,
    and with -a/-T/-A/--rev/-n that of other revisions too."""
    from dvx.ops.sync import push as do_push
    from dvx.outputs import overlapping

    repo = open_repo()
    # Pointers a merge left overlapping: both's data goes, harmless on a remote, so that
    # the team has whichever one is kept (dvx/overlapping.py); the conflict is noted.
    workspace, history = targets_in_scope(repo, targets, all_branches, all_tags, all_commits,
                                          revs, last_n, remote_branches=False,
                                          with_overlaps=True)
    with _said_as_ending(RUNS_LEFT.format("push") if run_cache else ""):
        result = do_push(repo, workspace + history, remote_name, jobs, repair=repair)
    for item in overlapping(repo.root, [t.output for t in workspace], pushed=True):
        warn(f"WARNING: {item.error.message} {item.error.hint}", (item.error,))
    _finish(repo, result, True, run_cache, remote_name, jobs, as_json)


@click.command(epilog=example("""
dvx fetch
dvx fetch -r backup data/images
dvx fetch --run-cache
"""))
@TARGETS
@REMOTE
@JOBS
@JSON
@RUN_CACHE
@revision_options
@common_options
def fetch(targets: tuple[str, ...], remote_name: str | None, jobs: int | None,
          as_json: bool, run_cache: bool, all_branches: bool, all_tags: bool,
          all_commits: bool, revs: tuple[str, ...], last_n: int | None) -> None:
    """Download data the cache lacks (verified by hash), without touching the workspace: the
    workspace's, and with -a/-T/-A/--rev/-n that of other revisions too (no checkout needed:
    CI can fetch any commit's data)."""
    from dvx.ops.sync import fetch_for_checkout

    repo = open_repo()
    workspace, history = targets_in_scope(repo, targets, all_branches, all_tags, all_commits,
                                          revs, last_n)
    with _said_as_ending(RUNS_LEFT.format("fetch") if run_cache else ""):
        result = fetch_for_checkout(repo, workspace, remote_name, jobs, also_fetch=history)
    _finish(repo, result, False, run_cache, remote_name, jobs, as_json)


@click.command(epilog=example("""
git clone URL project && cd project && dvx pull
dvx pull data/images/cat.png      # one file of a tracked directory
dvx pull --run-cache && dvx repro # restore a colleague's runs instead of running them
dvx pull --allow-missing          # CI: what the remote lacks is a warning, not a failure
"""))
@TARGETS
@REMOTE
@JOBS
@JSON
@RUN_CACHE
@revision_options
@click.option("-f", "--force", is_flag=True,
              help="Overwrite workspace changes: ones not in the cache, and ones made "
                   "here since the last checkout.")
@click.option("--allow-missing", is_flag=True,
              help="Exit 0 when the only failures are data the remote does not have (still "
                   "named on stderr), as in DVC; any other failure still exits 1.")
@common_options
def pull(targets: tuple[str, ...], remote_name: str | None, jobs: int | None, as_json: bool,
         run_cache: bool, all_branches: bool, all_tags: bool, all_commits: bool,
         revs: tuple[str, ...], last_n: int | None, force: bool, allow_missing: bool) -> None:
    """Fetch data from the remote, then check it out into the workspace (with
    -a/-T/-A/--rev/-n, other revisions' data is fetched too, and only the workspace's is
    checked out). Data the cache holds needs no remote: with all of it there, none is asked."""
    from dvx.ops.sync import pull as do_pull
    from dvx.outputs import resolve_targets
    from dvx.pipeline.spec import declared_outputs

    repo = open_repo()
    workspace, history = targets_in_scope(repo, targets, all_branches, all_tags, all_commits,
                                          revs, last_n)
    with _said_as_ending(RUNS_LEFT.format("fetch") if run_cache else ""):
        result = do_pull(repo, workspace, remote_name, jobs, force, also_fetch=history,
                         settle=None if targets else lambda: declared_outputs(repo),
                         targets_now=lambda: resolve_targets(repo, targets), named=bool(targets))
    _finish(repo, result, False, run_cache, remote_name, jobs, as_json, allow_missing, "pull")


@click.command(epilog=example("""
dvx fsck                       # re-hash every object in the cache
dvx fsck --remote storage      # download and re-hash every object on a remote, and find
                               # the ones the workspace needs that it lacks
dvx fsck --remote storage -a -T   # ...that any branch or tag needs
dvx fsck --remote storage --fast
"""))
@click.option("--remote", "remote_name", type=RemoteName(), metavar="NAME",
              help="Check the objects on this remote instead of the cache.")
@click.option("--fast", is_flag=True,
              help="With --remote: compare sizes instead of downloading and hashing.")
@JOBS
@JSON
@revision_options
@common_options
def fsck(remote_name: str | None, fast: bool, jobs: int | None, as_json: bool,
         all_branches: bool, all_tags: bool, all_commits: bool, revs: tuple[str, ...],
         last_n: int | None) -> None:
    """Verify stored objects; move corrupt ones aside (quarantine), never delete them. In
    the cache, also name the pointer files whose size or number of files is not that of the
    data they name (`dvx commit PATH` writes them again). With --remote, also report the
    objects that the workspace's pointers (with -a/-T/-A/--rev/-n, those revisions' too)
    need and the remote lacks."""
    from dvx.errors import UsageError
    from dvx.objects.cache import kept_message
    from dvx.ops.fsck import fsck_cache, fsck_remote

    repo = open_repo()
    revisions = (all_branches, all_tags, all_commits, revs, last_n)
    if remote_name is None and (fast or jobs is not None or any(revisions)):
        raise UsageError("-j, --fast, -a, -T, -A, --rev and -n only apply to --remote.")
    if remote_name is not None:
        workspace, history = targets_in_scope(repo, (), *revisions)
        result = fsck_remote(repo, remote_name, fast, jobs, workspace + history,
                             None if all_commits else lambda: _every_commit(repo))
    else:
        result = fsck_cache(repo)
    if as_json:
        emit_json(result.to_json())
    elif not is_quiet():
        extra = f", {result.unchecked} not checked (size unknown)" if result.unchecked else ""
        missing = f", {len(result.missing)} missing, {len(result.lost)} lost" \
            if remote_name is not None else ""
        unreadable = f", {len(result.unreadable)} unreadable" if result.unreadable else ""
        wrong = f", {counted(len(result.wrong_pointers), 'pointer')} with wrong counts" \
            if result.wrong_pointers else ""
        out(f"Checked {objects(result.checked)} in the {result.where}: "
            f"{len(result.corrupt)} corrupt{missing}{unreadable}{wrong}{extra}.")
    for algo, count in result.other_algorithms.items():
        warn(f"Not checked: {count} object{'s' if count != 1 else ''} of the cache hashed with "
             f"{algo}. This repository hashes with {result.algo} (core.hash), so fsck checks "
             f"only those; if its data was added with {algo}, set it back (`dvx config "
             f"core.hash {algo}`).")
    for oid, why in sorted(result.corrupt.items()):
        moved = result.quarantined.get(oid)
        retired = "; taken out of the pack indexes" if oid in result.retired else ""
        warn(f"Corrupt {oid}: {why}" + (f"; moved to {moved}" if moved else retired))
    if result.kept:
        warn(kept_message(result.kept, "a corrupt object").strip())
    for path, miscounted in sorted(result.wrong_pointers.items()):
        typed = for_command(repo.root, path)
        # fsck reads no workspace: a commit records what is there, which may be gone or other
        warn(f"{shown_path(path + POINTER_SUFFIX)} {recorded_wrongly(miscounted)}: once the "
             f"workspace holds the data it names (`dvx checkout {typed}`), `dvx commit "
             f"{typed}` writes it again.")
    for oid, why in sorted(result.unreadable.items()):
        warn(f"Unreadable {oid}: {why}; not checked. Its owner can make it readable "
             "(`chmod a+r`), as `dvx config cache.shared group` makes every object stored "
             "from then on.")
    for oid, path in sorted(result.missing.items(), key=lambda kv: kv[1])[:50]:
        sent_to = result.pushed_to.get(oid)
        if remote_name and sent_to is not None:
            which = _plain_push_target(sent_to, sent_to == result.default_remote)
            push_here = _push_to(remote_name, result.read_only_kind)
            if oid in result.uncached:
                warn(f"Missing {oid}: {shown_path(path)} needs it, and neither the remote "
                     f"{remote_name} nor the cache here has it: it may be on {which}, where a "
                     f"plain `dvx push` sends it, and `dvx fetch` brings it into the cache from "
                     f"there; then {push_here} uploads it here.")
            else:
                warn(f"Missing {oid}: {shown_path(path)} needs it, and the remote {remote_name} "
                     f"does not have it: `dvx push` sends it to {which}, where it may be; "
                     f"{push_here} uploads it here.")
        else:
            warn(f"Missing {oid}: {shown_path(path)} needs it, and the remote does not have it.")
    if len(result.missing) > 50:
        warn(f"... and {len(result.missing) - 50} more missing.")
    for oid in sorted(result.lost)[:50]:
        warn(f"Lost {oid}: the remote's indexes named it, and no copy of it is left there.")
    if len(result.lost) > 50:
        warn(f"... and {len(result.lost) - 50} more lost.")
    for oid, path in sorted(result.not_objects.items()):
        if remote_name:
            warn(f"Not an object: what has the name of {oid} ({path}) on the remote is a "
                 "directory, not a file. It was not made by dvx: move it out of the remote's "
                 "files/ folder, then `dvx push` uploads the object.")
        else:
            warn(f"Not an object: what has the name of {oid} in the cache ({path}) is a "
                 "directory, not a file. It was not made by dvx: move it out of the cache, "
                 "then `dvx pull` (or `dvx add` of its data) stores the object.")
    for name, why in sorted(result.damaged_indexes.items()):
        warn(f"Damaged pack index {name}: {why} Nothing it names was used; move it out of "
             "the remote's indexes/ folder once its packs are accounted for.")
    for name, why in sorted(result.misstated_indexes.items()):
        warn(f"Damaged pack index {name}: {why}. " + (
            "It was replaced by one giving each pack the size it has (its entries that fit "
            "in the pack kept)." if result.restated else "It was not replaced: `dvx fsck "
            "--remote` replaces it by one giving each pack the size it has when it may write "
            "to the remote and no other command holds the remote's lock."))
    for _, why in sorted(result.newer_indexes.items()):
        warn(f"{why} Nothing it names was checked: upgrade dvx to check it (leave it where "
             "it is: the packs it names are a newer dvx's data).")
    _warn_unindexed_packs(result)
    if result.corrupt and result.read_only_kind:
        warn(f"The remote '{remote_name}' is read-only: nothing was moved aside. Repair the "
             "store it serves through a remote that writes to it (`dvx fsck --remote NAME`, "
             f"then {_push_to(str(remote_name), True, repair=True).rstrip(',')}).")
    elif result.corrupt and result.read_only and remote_name:
        name = shell_quote(remote_name)
        warn(f"The remote '{remote_name}' may not be written with these credentials: nothing "
             "was moved aside. With credentials that may write and delete there, "
             f"`dvx fsck --remote {name}`, then `dvx push --repair -r {name}` repair it.")
    elif result.corrupt and remote_name:
        _advise_repair(result, remote_name, _scope_options(*revisions), all_commits)
    if result.missing and result.newer_indexes:
        warn("What is missing may be in a pack that only the newer dvx's index names: "
             "upgrade dvx, then check again.")
    elif result.missing and remote_name:
        _advise_upload(result, remote_name)
    if result.lost and remote_name:
        warn("The lost objects were pushed once, and the revisions checked do not need "
             f"them: `dvx fsck --remote {shell_quote(remote_name)} -A` lists those any commit "
             f"needs as missing, and {_push_to(remote_name, result.read_only_kind, ' -A')} "
             "from a clone whose cache has them uploads them again.")
    if not result.ok:
        sys.exit(1)


def _scope_options(all_branches: bool, all_tags: bool, all_commits: bool,
                   revs: tuple[str, ...], last_n: int | None) -> str:
    """The -a/-T/-A/--rev/-n options a command was given, as a hint repeats them."""
    flags = [flag for flag, given in (("-a", all_branches), ("-T", all_tags),
                                      ("-A", all_commits)) if given]
    flags += [f"--rev {shell_quote(rev)}" for rev in revs]
    if last_n is not None:
        flags.append(f"-n {last_n}")
    return "".join(f" {flag}" for flag in flags)


def _every_commit(repo: Repo) -> list[Target]:
    """The targets of the workspace and of every commit, as `-A` reads them."""
    workspace, history = targets_in_scope(repo, (), False, False, True, (), None)
    return workspace + history


def _advise_repair(result: FsckResult, remote_name: str, scope: str, all_commits: bool
                   ) -> None:
    """The push that uploads verified copies of the corrupt objects `fsck --remote` found:
    with the revisions fsck checked (`scope`, its options), which need some of them; those
    none of them needs but an older commit does only a push of every commit's data (-A)
    finds; those no commit needs (pushed but never committed, a deleted branch's) no push
    uploads again, and none is needed."""
    push = f"dvx push --repair -r {shell_quote(remote_name)}"
    unneeded = result.unneeded_corrupt
    if not unneeded:
        warn(f"Run `{push}{scope}` to upload verified copies.")
        return
    uncommitted = unneeded if all_commits else result.uncommitted_corrupt
    if len(uncommitted) == len(result.corrupt):
        warn(f"No commit needs the corrupt object{'' if len(uncommitted) == 1 else 's'} "
             "found: no push uploads a copy again, and none is needed.")
        return
    nobody = (f" {_of_them(len(uncommitted), len(result.corrupt))} needed by no commit, so no "
              f"push uploads {'it' if len(uncommitted) == 1 else 'them'} again."
              if uncommitted else "")
    older = len(unneeded) - len(uncommitted)
    if not older:
        warn(f"Run `{push}{scope}` to upload verified copies of those a commit needs:{nobody}")
        return
    warn(f"Run `{push} -A` to upload verified copies: {_of_them(older, len(result.corrupt))} "
         "needed by none of the revisions checked (an older commit's data, perhaps), which a "
         f"push of those leaves out; -A pushes the data of every commit.{nobody}")


def _of_them(count: int, total: int) -> str:
    """`count` of the `total` corrupt objects, as the subject of a sentence."""
    if count < total:
        return f"{count} of them {'is' if count == 1 else 'are'}"
    return "it is" if count == 1 else "they are"


def _warn_unindexed_packs(result: FsckResult) -> None:
    """What left the packs no index names, as far as `fsck --remote` can tell: a pack no
    longer hashing to its name was damaged, and an earlier fsck took its copies out of the
    indexes, or a push stopped before its index left it; the others were left by a push or
    gc, or their index was lost."""
    damaged, n = result.damaged_unindexed, result.unindexed_packs - result.damaged_unindexed
    if result.unindexed_unhashed:
        warn(f"--fast did not hash the {counted(n, 'pack')} no index names, so it cannot tell "
             "whether one was damaged after being written (an earlier `dvx fsck --remote` "
             "then took its copies out of the indexes); `dvx fsck --remote` without --fast "
             "tells.")
    if damaged and not (result.newer_indexes or result.damaged_indexes):
        warn(f"{counted(damaged, 'pack')} on the remote {'is' if damaged == 1 else 'are'} named "
             f"by no index and no longer hash{'es' if damaged == 1 else ''} to "
             f"{'its name' if damaged == 1 else 'their names'}: damaged after being written, "
             "which no push leaves. Either an earlier `dvx fsck --remote` found each copy in "
             f"{'it' if damaged == 1 else 'them'} damaged and took it out of the indexes, or "
             "a push stopped before writing the index that would name "
             f"{'it' if damaged == 1 else 'them'}: either way what "
             f"{'it' if damaged == 1 else 'they'} held is missing unless the remote has "
             "another copy, and the `dvx push --repair` below uploads verified copies.")
    if result.unindexed_packs and result.newer_indexes:
        warn(f"{result.unindexed_packs} pack(s) on the remote are named by no index this dvx "
             "can read: most likely by the newer dvx's index above.")
    elif result.unindexed_packs and result.damaged_indexes:
        warn(f"{result.unindexed_packs} pack(s) on the remote are named by no index dvx can "
             "read: perhaps by the damaged index above, whose data they may hold. `dvx gc "
             "--remote` deletes nothing until that index is out of the indexes/ folder.")
    elif result.missing_left_by_gc:
        _warn_left_by_gc(result)
    elif result.missing_unindexed and result.young_unindexed_packs == n:
        # As pull and push do, a pack younger than the grace period is taken for a push's.
        warn(f"{counted(n, 'pack')} on the remote {'is' if n == 1 else 'are'} named by no "
             f"index yet and younger than gc's grace period, while {result.missing_unindexed} "
             "of the objects missing above "
             f"{'is' if result.missing_unindexed == 1 else 'are'} named by none either: a push "
             "may be uploading them now, or one stopped between its pack and its index. Check "
             "again once pushes have ended; `dvx push` from a clone whose cache has the data "
             "uploads what is still missing.")
    elif result.missing_unindexed:
        warn(f"{n} pack(s) on the remote are named by no index, while "
             f"{result.missing_unindexed} of the objects missing above "
             f"{'is' if result.missing_unindexed == 1 else 'are'} named by none either: "
             "the remote looks damaged (an index lost, as by a copy of it that missed some), "
             "and those packs may hold them. Put back the indexes it lacks. `dvx gc "
             "--remote` deletes none of those packs that may hold objects its scope keeps "
             "that no index names and that are not stored loose.")
    elif n:
        warn(f"{n} pack(s) on the remote are named by no index "
             f"({_left_by(n, result.left_by_gc)}); `dvx gc --remote` "
             "deletes them after the grace period, unless "
             "objects its scope keeps that no index names and that are not stored loose may "
             "be in them (then some indexes look lost, and it deletes nothing).")


def _warn_left_by_gc(result: FsckResult) -> None:
    """Name the objects missing that an interrupted gc --remote was deleting: its scope left
    them out, so they are uploaded again (the advice after this says how)."""
    count, (oid, pack) = len(result.missing_left_by_gc), min(result.missing_left_by_gc.items())
    others = result.missing_unindexed - count
    warn(f"{count} of the objects missing above (such as {oid}) "
         f"{'was' if count == 1 else 'were'} being deleted with pack {pack} by an interrupted "
         "`dvx gc --remote` whose scope left them out (its log on the remote names them): "
         "no index names them any more, and `dvx push` from a clone whose cache has them "
         "uploads them again." + (
             f" {others} other{'' if others == 1 else 's'} missing {'is' if others == 1 else 'are'}"
             " named by no index either: the remote may also lack an index of the packs no "
             "index names. Put back the indexes it lacks." if others else ""))


def _advise_upload(result: FsckResult, remote_name: str) -> None:
    """How what `fsck --remote` found missing gets there: what the workspace here still holds
    (the cache lost it before a push) is stored again by `dvx commit`, then pushed; the rest
    is pushed from a clone whose cache has it, with --repair where an earlier fsck took
    damaged copies out of the indexes (`_warn_unindexed_packs`), as that fsck named it."""
    held = sorted({result.held_here[oid] for oid in result.missing if oid in result.held_here})
    push = _push_to(remote_name, result.read_only_kind, repair=bool(result.damaged_unindexed))
    if held:
        it = "it" if len(held) == 1 else "them"
        commit = f"`dvx commit {' '.join(held)}`" if len(held) <= _NAMED_HELD else \
            "`dvx commit`, with no path,"
        warn(f"The cache here lost {named_list(held, most=_NAMED_HELD)}, which the workspace "
             f"still holds unchanged: {commit} stores {it} in the cache again, and {push} "
             f"then uploads {it}.")
    if any(oid not in result.held_here for oid in result.missing):
        warn(f"Run {push} from a clone whose cache has {'the others' if held else 'them'} "
             "(with the same -a/-T/-A/--rev options) to upload them.")


_NAMED_HELD = 10  # paths to store again named in the advice; beyond, a plain `dvx commit`


def _push_to(remote_name: str, read_only: bool, options: str = "", repair: bool = False
             ) -> str:
    """The push that uploads what `fsck --remote` found missing: a read-only remote (HTTP)
    serves a store that another remote writes to."""
    push = "dvx push --repair" if repair else "dvx push"
    if read_only:
        return (f"`{push} -r NAME{options}`, NAME being the remote that writes to the store "
                f"'{remote_name}' serves (it is read-only),")
    return f"`{push} -r {shell_quote(remote_name)}{options}`"


@click.command(epilog=example("""
dvx gc --workspace --dry-run         # what would go: objects the workspace does not use
dvx gc --all-branches --all-tags -f  # keep what any branch or tag needs
dvx gc --all-commits --remote storage -f
dvx gc -w -c -r storage -f           # DVC's spelling; -c alone: the default remote
dvx exp pull origin && dvx gc -a -T --all-experiments -c storage -f
"""))
@click.option("-w", "--workspace", is_flag=True,
              help="Keep what the workspace, Git's index, stashes and queued experiments use "
                   "(always kept).")
@click.option("-a", "--all-branches", is_flag=True,
              help="Keep what any branch's tip uses, remote-tracking branches (origin/*, as "
                   "the last fetch saw them) included.")
@click.option("-T", "--all-tags", is_flag=True, help="Keep what any tag uses (fetched tags too).")
@click.option("-A", "--all-commits", is_flag=True,
              help="Keep what any commit uses, including commits only reflogs reach and the "
                   "experiments this clone has.")
@click.option("--all-experiments", is_flag=True,
              help="Keep what every experiment this clone has uses (`dvx exp show -A`); "
                   "teammates' pushed experiments count once `dvx exp pull` brought them.")
@click.option("--rev", "revs", multiple=True, metavar="REV", help="Keep what REV uses.")
@click.option("-c", "--cloud", "cloud", is_flag=False, flag_value=DEFAULT_REMOTE,
              type=RemoteName(), metavar="[NAME]",
              help="Also delete unused objects from remote NAME; without NAME, from the "
                   "remote -r names, else the default remote (as DVC's -c).")
@click.option("--remote", "remote_name", type=RemoteName(), metavar="NAME",
              help="Also delete unused objects from this remote.")
@click.option("-r", "dvc_remote", type=RemoteName(), metavar="NAME",
              help="The remote -c cleans, as in DVC; refused without -c.")
@click.option("--force-last-copy", is_flag=True,
              help="Also delete cached objects that commits outside the scope use and "
                   "their remote does not hold (the only copy a pull of them could get).")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--grace", type=FiniteFloat(min=0), default=3600, metavar="SECONDS",
              show_default=True,
              help="Keep objects written less than this many seconds ago (on a remote, "
                   "by the remote's own clock).")
@click.option("-p", "--projects", multiple=True, metavar="PATH",
              help="Also keep what the repository at PATH uses in the same scope (one that "
                   "shares the cache or the remote); repeatable.")
@JSON
@common_options
def gc(workspace: bool, all_branches: bool, all_tags: bool, all_commits: bool,
       all_experiments: bool, revs: tuple[str, ...], cloud: str | None,
       remote_name: str | None, dvc_remote: str | None, force_last_copy: bool,
       dry_run: bool, force: bool, grace: float, projects: tuple[str, ...], as_json: bool) -> None:
    """Delete cached (and, with -c or --remote, a remote's) objects nothing in scope uses.

    The scope must be explicit. If any pointer or directory manifest in scope cannot be
    read, nothing is deleted. A cached object that a commit outside the scope uses is
    deleted only if its remote holds it (else it is kept and reported), unless
    --force-last-copy; without it, a pointer of such a commit that cannot be read yet (a
    newer dvx's, or one a partial clone cannot fetch) stops gc too, as what that commit
    uses is unknown. A damaged one names nothing: gc goes on without it (-v names it).
    """
    from dvx.errors import UsageError
    from dvx.exps.queue import forget_lost_worktrees
    from dvx.history import Scope
    from dvx.ops.gc import SCOPE_OPTIONS, RunRecords
    from dvx.ops.gc import gc as do_gc
    from dvx.pipeline.runcache import cached_records_needing, records_needing

    if not (workspace or all_branches or all_tags or all_commits or all_experiments or revs):
        raise UsageError("gc needs an explicit scope of what to keep.", SCOPE_OPTIONS)
    # The workspace, the index and stashes are always kept; -A keeps what reflogs reach too.
    scope = Scope(True, all_branches, all_tags, all_commits, revs, index=True, stashes=True,
                  reflogs=all_commits, all_experiments=all_experiments)
    repo = open_repo()
    remote_name = _remote_to_clean(repo, cloud, remote_name, dvc_remote)
    if not dry_run and not force and not is_terminal(sys.stdin):
        raise UsageError("gc deletes data and needs confirmation.",
                         "Pass -f to confirm, or --dry-run to only list what would go.")
    confirm = None if dry_run or force else _confirm_gc
    # A queued run's worktree whose folder is gone would stop gc: nothing of the user's is there.
    forget_lost_worktrees(repo)
    results = do_gc(repo, scope, remote_name, dry_run, grace, force_last_copy, confirm,
                    projects, RunRecords(cached_records_needing, records_needing))
    if as_json:
        emit_json([r.to_json() for r in results])
    elif not is_quiet():
        verb = "Would remove" if dry_run else "Removed"
        named = _paths_of_removals(repo, results) if dry_run else {}
        for r in results:
            out(f"{verb} {objects(len(r.removed), r.bytes_freed)} from the "
                f"{r.where}; kept {r.reachable} in use" + (
                    f" and {r.kept_young} newer than the grace period" if r.kept_young else "")
                + ("." if not (dry_run and r.removed) else ":"))
            if dry_run:
                _list_removals(r, named)
            if r.uploads_report:
                out(r.uploads_report)
            _report_packs(r, dry_run)
            if r.run_records_removed:
                n = r.run_records_removed
                out(f"{verb} {n} run record{'' if n == 1 else 's'} of the run-cache from the "
                    f"{r.where}: {'its' if n == 1 else 'their'} outputs "
                    f"{'would be' if dry_run else 'were'} removed.")
    for r in results[1:]:  # damage found on the remote is said even with -q
        if r.lost and remote_name is not None:
            warn(_lost_packs(r, remote_name))
    if is_quiet():
        return  # what gc kept and why are notices, not errors
    for r in results[1:]:
        if r.used_outside_scope:
            warn(_used_outside_scope(r, dry_run))
    last = results[0].last_copies
    if last is not None and last.oids:
        why = f" ({'; '.join(last.notes)})" if last.notes else ""
        kept = "Would keep" if dry_run else "Kept"
        # "Their remote": another remote may hold a copy, which no pull of them reads.
        warn(f"{kept} {objects(len(last.oids), last.bytes)} that their remote does not hold "
             f"(their output's `remote:`, else the default remote){why}: commits outside the "
             "scope use them, and a `dvx pull` of those commits could get them nowhere else. "
             "Push them (`dvx push -A`), or pass --force-last-copy to delete them anyway."
             + _manifests_kept(last.manifests, dry_run))


def _left_by(packs: int, by_gc: int) -> str:
    """What left `packs` packs no index names, `by_gc` of which a gc's log names."""
    gc = ("left by an interrupted `dvx gc --remote`, which had taken the objects it was "
          "deleting with them out of the indexes")
    other = ("left by an interrupted push or `dvx gc --remote`, or holding only copies "
             "`dvx fsck --remote` took out of the indexes as damaged")
    by_gc = min(by_gc, packs)
    if by_gc == packs:
        return gc
    return f"{by_gc} {gc}; the others {other}" if by_gc else other


def _report_packs(result: GcResult, dry_run: bool) -> None:
    """The packs a remote's gc deletes besides its dead objects': those no index names, and
    the bytes of second or damaged copies that no index needs."""
    if result.unindexed_packs:
        n = result.unindexed_packs
        out(f"{'Would delete' if dry_run else 'Deleted'} {n} pack{'' if n == 1 else 's'} "
            f"({human_size(result.unindexed_bytes)}) on the {result.where} that no index "
            f"named ({_left_by(n, result.unindexed_by_gc)}).")
    if result.copies_freed:
        out(f"{'Would free' if dry_run else 'Freed'} {human_size(result.copies_freed)} more "
            f"on the {result.where} from packs holding copies no index needed (an object "
            "packed twice by two pushes at once, a damaged copy `dvx fsck --remote` took "
            "out).")


def _lost_packs(result: GcResult, name: str) -> str:
    """The packs gone from the remote `name` whose indexes name them, which held objects gc
    keeps that the remote holds nowhere else: lost there, and how they are uploaded again."""
    from dvx.remote.repack import repair_advice

    packs, count = result.lost_packs, len(result.lost)
    which = packs[0] if len(packs) == 1 else \
        f"{packs[0]} and {counted(len(packs) - 1, 'more pack')}"
    these = "1 object gc keeps" if count == 1 else f"{count} objects gc keeps"
    return (f"The {result.where} lost pack {which} (deleted outside dvx, or missed by a copy "
            f"of the remote), which its indexes name: {these} (such as {result.lost[0]}) "
            f"{'has' if count == 1 else 'have'} no other copy there, and a pull says that "
            f"data is lost. {repair_advice(name)}")


def _remote_to_clean(repo: Repo, cloud: str | None, remote_name: str | None,
                     dvc_remote: str | None) -> str | None:
    """The remote gc also deletes from: dvx's `-c NAME` and `--remote NAME`, or DVC's
    `-c -r NAME`, where `-c` alone is a switch meaning the default remote. DVC's `-r NAME`
    without `-c` only chooses a remote and deletes nothing from it, so it is refused rather
    than read either way: one reading deletes what a DVC user meant to keep."""
    from dvx.errors import UsageError
    from dvx.ops.remote import required_default_remote

    given = [(flag, name) for flag, name in (("-c", cloud), ("--remote", remote_name),
                                             ("-r", dvc_remote))
             if name not in (None, DEFAULT_REMOTE)]
    if len({name for _, name in given}) > 1:
        first, other = given[0], next(g for g in given if g[1] != given[0][1])
        raise UsageError(f"{first[0]} {first[1]} and {other[0]} {other[1]} name two remotes; "
                         "gc cleans one.",
                         "Name one remote: -c NAME, --remote NAME, or -c -r NAME as in DVC.")
    if dvc_remote is not None and cloud is None and remote_name is None:
        raise UsageError(f"-r {dvc_remote} names the remote that -c cleans, and no -c is "
                         "given: dvx cleans no remote on -r alone (in DVC it chooses the "
                         "remote and deletes nothing from it).",
                         f"Add -c to also delete unused objects from '{dvc_remote}' "
                         "(`-c -r NAME`, or `--remote NAME`), or leave -r out to clean only "
                         "the cache.")
    if given:
        return given[0][1]
    return required_default_remote(repo.config) if cloud == DEFAULT_REMOTE else None


def _manifests_kept(manifests: set[str], dry_run: bool) -> str:
    """The manifests a remote holds that stay in the cache: only they say what files of
    an old directory version are, so later gcs keep protecting those files."""
    if not manifests:
        return ""
    if len(manifests) == 1:
        which, verb = "The directory manifest that lists them", "stays"
    else:
        which, verb = f"The {len(manifests)} directory manifests that list them", "stay"
    return f" {which} {'would stay' if dry_run else verb} in the cache too."


SHOWN_REMOVALS = 50  # a dry run lists this many objects per place; -v and --json all


def _paths_of_removals(repo: Repo, results: list[GcResult]) -> dict[str, str]:
    from dvx.ops.gc import paths_of

    wanted = {oid for r in results for oid in r.removed}
    return paths_of(repo, wanted) if wanted else {}


def _list_removals(result: GcResult, named: dict[str, str]) -> None:
    """One line per object a dry run would delete: its oid, its size and a path that used it
    (none for data that no commit, stash or workspace ever recorded)."""
    from dvx import logs

    shown = result.removed if logs.is_enabled_for(logs.INFO) else \
        result.removed[:SHOWN_REMOVALS]
    for oid in shown:
        path = named.get(oid)
        out(f"    {oid}  {human_size(result.sizes.get(oid, 0)):>9}"
            + (f"  {shown_path(path)}" if path else ""))
    if len(result.removed) > len(shown):
        out(f"    ... and {len(result.removed) - len(shown)} more (-v or --json lists them "
            "all)")


def _used_outside_scope(result: GcResult, planned: bool) -> str:
    """What a remote's gc takes from commits outside its scope, said where it is done."""
    count = len(result.used_outside_scope)
    these, it = (f"{count} of the objects", "them") if count > 1 else ("1 object", "it")
    if planned:
        removed, after = "to be removed", f"after this gc, `dvx pull` there cannot get {it}"
    else:
        removed, after = "removed", f"`dvx pull` there can no longer get {it}"
    return (f"{these} {removed} from the {result.where} {'are' if count > 1 else 'is'} used "
            f"by commits outside the scope (an older commit, a tag, another branch): {after} "
            "from that remote.")


def _confirm_gc(plan: list[GcResult]) -> bool:
    """Ask, naming what would go from where; a remote's other users are not consulted."""
    if not any(r.removed for r in plan):
        return True
    parts = [f"{objects(len(r.removed), r.bytes_freed)} from the {r.where}"
             for r in plan if r.removed]
    shared = [r.where for r in plan[1:] if r.removed]
    note = (f" Other repositories that share the {shared[0]} are not consulted: what only "
            "they use is deleted too." if shared else "")
    note += "".join(f" {_used_outside_scope(r, True)}" for r in plan[1:] if r.used_outside_scope)
    if not confirm(f"Delete {' and '.join(parts)}?{note}"):
        raise click.Abort()  # "Aborted!", exit status 1
    return True


COMMANDS = [remote, push, fetch, pull, fsck, gc]
