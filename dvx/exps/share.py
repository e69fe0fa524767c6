"""`dvx exp push` / `dvx exp pull`: experiments travel as Git refs through a Git remote, and
their data (the outputs their dvx.lock records) through the dvx remote."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field

from dvx.errors import DvxError, UsageError
from dvx.experiment_refs import (
    PREFIX,
    Experiment,
    experiment_path_problem,
    experiments,
    find,
    git_of,
    head,
    nested_own_files_held,
    ref_of,
)
from dvx.exps.queue import waiting
from dvx.history import Scope, scope_targets
from dvx.logs import shell_quote
from dvx.ops.remote import refuse_unknown_remote
from dvx.ops.sync import SyncResult, fetch, push, pushed, wanted_objects
from dvx.outputs import Target
from dvx.repo import Repo
from dvx.scm import Git
from dvx.wording import counted, named_list

# An abbreviated commit id, as Git takes one (core.abbrev's least).
_ABBREVIATED = re.compile(r"[0-9a-fA-F]{4,64}")


@dataclass(frozen=True)
class Unfit:
    """Why a pulled experiment is not stored. `in_baseline`: only the commit it started from,
    which the pull brought along, is at fault, not the experiment itself, so deleting the
    experiment from the remote is no remedy."""
    why: str
    in_baseline: bool = False


@dataclass
class Shared:
    git_remote: str
    experiments: list[str]  # names of those pushed or pulled: new or changed there
    data: SyncResult | None  # the data push or fetch (None: no data to move)
    left_out: UsageError | None = None  # a pull's experiments not taken, and why
    # A pull's experiments already here (names), whose data the cache lacked and it fetched:
    # an earlier pull got their refs but not all of their data, or a gc deleted the data of
    # one pulled or run here
    completed: list[str] = field(default_factory=list)
    # A push's experiments (names, as typed) not pushed because their data did not all move
    not_pushed: list[str] = field(default_factory=list)
    # The experiments asked for (names) that the other side held already, at the same commit:
    # neither pushed nor pulled, named or not (their data is still sent or fetched)
    up_to_date: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"git_remote": self.git_remote, "experiments": self.experiments,
                "up_to_date": self.up_to_date, "completed": self.completed,
                "not_pushed": self.not_pushed,
                "left_out": None if self.left_out is None else self.left_out.message,
                "data": None if self.data is None else self.data.to_json()}


def push_experiments(repo: Repo, git_remote: str, names: list[str],
                     dvx_remote: str | None = None, force: bool = False) -> Shared:
    """Push the data of the experiments `names` (none given: every experiment of HEAD) to the
    dvx remote first, then their refs to `git_remote`: a ref never arrives before its data.
    An experiment the Git remote holds under the same name with another commit is refused
    (nothing is pushed) unless `force`, which replaces it."""
    chosen = [find(repo, n) for n in names] if names else experiments(repo, head(repo))
    if not chosen:
        raise _nothing_to_push(repo, git_remote)
    try:
        theirs = remote_experiments(repo, git_remote)
    except DvxError as exc:
        raise _not_pushed(exc, chosen, git_remote, "nothing was pushed") from None
    clash = [e for e in chosen if theirs.get(e.ref, e.commit) != e.commit]
    if clash and not force:
        raise UsageError(
            f"'{git_remote}' has other experiments under the same names: "
            f"{', '.join(sorted(e.name for e in clash))} (of the same baseline). Pushing would "
            "replace them.", "Push with --force to replace theirs (the remote then keeps no "
                             "copy of them), or leave those names out.")
    skipped_before = len(repo.unreadable)
    try:
        data = _sync(repo, chosen, dvx_remote, push)
    except DvxError as exc:
        raise _not_pushed(exc, chosen, git_remote, "their data could not be pushed, so no "
                          "ref was") from None
    # Data left out for what names it (an invalid manifest) is named at the end of the command
    if data is not None and (not data.ok or len(repo.unreadable) > skipped_before):
        return Shared(git_remote, [], data, not_pushed=_labels(chosen))
    moving = [e for e in chosen if theirs.get(e.ref) != e.commit]
    refspecs = [f"{'+' if e in clash else ''}{e.ref}:{e.ref}" for e in moving]
    try:
        if refspecs:
            _git(repo, "push", "--quiet", "--", git_remote, *refspecs)
    except DvxError as exc:
        still = _still_to_push(repo, git_remote, chosen)
        raise _not_pushed(exc, still, git_remote, _pushed_before(chosen, still, data)) \
            from None
    return Shared(git_remote, [e.name for e in moving], data,
                  up_to_date=[e.name for e in chosen if e not in moving])


def _not_pushed(exc: DvxError, chosen: list[Experiment], git_remote: str, done: str
                ) -> DvxError:
    """`exc`, its message first naming the experiments `chosen` that are not on `git_remote`
    and saying what was pushed (`done`)."""
    labels = _labels(chosen)
    exc.message = f"Could not push the experiment{'s' if len(labels) > 1 else ''} " \
        f"{', '.join(labels)} to '{git_remote}' ({done}): {exc.message}"
    return exc


def _still_to_push(repo: Repo, git_remote: str, chosen: list[Experiment]) -> list[Experiment]:
    """Those of `chosen` that `git_remote` does not hold after a failed push (Git may have
    pushed some refs before it failed); all of them if it cannot be asked."""
    try:
        theirs = remote_experiments(repo, git_remote)
    except DvxError:
        return chosen
    return [e for e in chosen if theirs.get(e.ref) != e.commit] or chosen


def _pushed_before(chosen: list[Experiment], still: list[Experiment],
                   data: SyncResult | None) -> str:
    """What an exp push of `chosen` whose Git push failed, leaving out `still`, did push."""
    done = [label for e, label in zip(chosen, _labels(chosen), strict=True) if e not in still]
    pushed = f"{', '.join(done)} {'was' if len(done) == 1 else 'were'} pushed; " if done else ""
    if data is None:
        return f"{pushed}they have no data to push"
    return f"{pushed}the data of {', '.join(_labels(chosen))} is on the dvx remote"


def _nothing_to_push(repo: Repo, git_remote: str) -> UsageError:
    """Why a push of HEAD's experiments has nothing to push: none was run, or those there are
    belong to other baselines (HEAD moved on since, by a `git pull` say); then how to push
    them."""
    others = experiments(repo)
    if not others:
        return UsageError("There are no experiments to push.", "Run `dvx exp run` first.")
    labels = _labels(others)
    more = f" (and {len(labels) - 5} more: `dvx exp show -A` lists them)" if len(labels) > 5 \
        else ""
    return UsageError(
        f"HEAD ({head(repo)[:7]}) has no experiments to push (without names, `dvx exp push` "
        f"pushes HEAD's); this clone has {counted(len(others), 'experiment')} of other baselines: "
        f"{', '.join(labels[:5])}{more}.",
        f"Push them by name: `dvx exp push {shell_quote(git_remote)} {' '.join(labels[:5])}`.")


def _labels(found: list[Experiment]) -> list[str]:
    """How to name each experiment on a command line: its name, or its full ref where several
    baselines have one of that name."""
    counts = Counter(e.name for e in found)
    return [e.name if counts[e.name] == 1 else e.ref for e in found]


def pull_experiments(repo: Repo, git_remote: str, names: list[str],
                     dvx_remote: str | None = None, force: bool = False) -> Shared:
    """Fetch experiment refs from `git_remote` (the named ones, or all of them), then their
    data from the dvx remote. A name is an experiment's (every one of that name the remote
    has), its full ref or its commit. An experiment of the same baseline and name as one of
    ours but another commit is left out unless `force`, which replaces ours: Git keeps no
    record of a replaced ref, so ours would be gone. One whose name and baseline a queued
    experiment is to take is left out even with `force`: its run would fail. What is left
    out is in `left_out`; if that is everything asked for, nothing is pulled and it is
    raised."""
    if dvx_remote is not None:  # a -r no remote is called: refused before any Git fetch
        refuse_unknown_remote(repo.config, dvx_remote)
    theirs = remote_experiments(repo, git_remote)
    wanted = _wanted(git_remote, theirs, names)
    ours = {e.ref: e.commit for e in experiments(repo)}
    queued = {ref_of(e.baseline, e.name): e.name for e in waiting(repo).values()}
    held = sorted(ref for ref, commit in wanted.items()
                  if ref in queued and ours.get(ref) != commit)
    clash = sorted(ref for ref, commit in wanted.items()
                   if ours.get(ref, commit) != commit and ref not in queued)
    refused = held + ([] if force else clash)
    held_by = {ref: queued[ref] for ref in held}
    left_out = _left_out(git_remote, [] if force else clash, held_by)
    if left_out is not None and len(refused) == len(wanted):
        raise left_out
    taken = {ref: commit for ref, commit in wanted.items() if ref not in refused}
    new = [ref for ref in taken if ref not in ours or ref in clash]
    unfit: dict[str, Unfit] = {}
    if new:  # never forced but where asked: a ref of ours made meanwhile is kept
        unfit = _store_checked(repo, git_remote, {ref: taken[ref] for ref in new},
                               {ref: ours[ref] for ref in new if ref in clash})
    if unfit:
        taken = {ref: commit for ref, commit in taken.items() if ref not in unfit}
        new = [ref for ref in new if ref not in unfit]
        left_out = _left_out(git_remote, [] if force else clash, held_by, unfit)
        if not taken and left_out is not None:
            raise left_out
    after = experiments(repo)
    fetched = [e for e in after if e.ref in new]
    # The data of every experiment pulled, new or not: a pull that could not fetch it before
    # (pushed refs first, say) finishes the job (objects the cache has cost nothing).
    everything = [e for e in after if e.ref in taken]
    # Only those already here whose own data the cache lacked, and has now, were completed:
    # not every one of them whenever a new experiment's data came.
    incomplete = _lacking_data(repo, [e for e in everything if e not in fetched])
    data = _sync(repo, everything, dvx_remote, fetch) if everything else None
    still = _lacking_data(repo, incomplete)
    completed = [e.name for e in incomplete if e not in still]
    return Shared(git_remote, [e.name for e in fetched], data, left_out, completed,
                  up_to_date=[e.name for e in everything if e not in fetched])


def _store_checked(repo: Repo, git_remote: str, new: dict[str, str], replaced: dict[str, str]
                   ) -> dict[str, Unfit]:
    """Fetch the experiments `new` (ref -> commit, as the remote listed them) and store
    the refs of those fit to take, all at once; return the others, ref -> why, whose refs
    are not stored. A commit anyone could make by hand is unfit when the ref names no
    commit, when its baseline is not in its history (no apply or listing could use it), or
    when its files reach where an apply never writes (`experiment_path_problem`). Those in
    `replaced` (ref -> our commit) replace ours only if it is still that commit; the others
    are made only where no ref is (a ref of ours made meanwhile is kept)."""
    git = git_of(repo)
    # A baseline this clone has is one of its own commits; one the fetch brings (a parent
    # shipped with a hand-made experiment) could hold anything, so all of its files and
    # the experiment's are checked then, not only those the experiment changed.
    own = {baseline for baseline in {ref.split("/")[2] for ref in new}
           if git.has_commit(baseline)}
    # Objects only: an empty refmap keeps a configured `refs/exps/*` fetch refspec from
    # storing the refs before they are checked.
    _git(repo, "fetch", "--quiet", "--refmap=", "--", git_remote, *new)
    moved = [ref for ref, commit in new.items() if git.object_kind(commit) is None]
    if moved:
        raise DvxError(f"'{git_remote}' changed {named_list(sorted(moved), most=5)} while "
                       "they were pulled: nothing was pulled.", "Pull again.")
    unfit = {ref: why for ref, commit in new.items()
             if (why := _unfit(git, ref, commit, own))}
    fit = {ref: commit for ref, commit in new.items() if ref not in unfit}
    if fit:
        _set_pulled_refs(git, git_remote, {ref: (commit, replaced.get(ref))
                                           for ref, commit in fit.items()})
    return unfit


def _unfit(git: Git, ref: str, commit: str, own: set[str]) -> Unfit | None:
    """Why the experiment `ref` at `commit` (fetched) is not fit to store, or None; `own`:
    the baselines this clone had before the fetch."""
    _, _, baseline, _ = ref.split("/")
    if not git.has_commit(commit):
        kind = git.object_kind(commit)
        what = "an annotated tag of no commit" if kind == "tag" else f"a {kind}"
        return Unfit(f"names {what}, not an experiment's commit")
    if not git.is_ancestor(baseline, commit):
        return Unfit(f"whose commit {commit[:10]} does not descend from its baseline "
                     f"{baseline[:10]}, so dvx never made it")
    files = git.changed_between(baseline, commit)
    changed = _shown_unfit_paths(files, nested_own_files_held(git, baseline, files))
    if changed:
        return Unfit(f"whose commit {commit[:10]} changes files that are not the project's to "
                     f"write ({changed}), which dvx never records, so it was made by other "
                     "means")
    if baseline in own:
        held = None
    else:  # a file the baseline holds is one it held before: a nested project's is its own
        tree = [path for path, _ in git.ls_tree_files(baseline)]
        held = _shown_unfit_paths(tree, set(tree))
    if held:
        return Unfit(f"whose baseline {baseline[:10]}, which this clone did not have, holds "
                     f"files no commit of a project holds ({held}), so that commit was made "
                     "by other means", in_baseline=True)
    return None


def _shown_unfit_paths(files: Iterable[str], held_before: Container[str]) -> str:
    """Those of `files` no experiment's commit nor its baseline may hold
    (`experiment_path_problem`, with what the commit before held), each with why, as a
    refusal names them; "" if none."""
    bad = [(rel, why) for rel in sorted(files)
           if (why := experiment_path_problem(rel, held_before))]
    return named_list(bad, most=5, name=lambda b: f"'{b[0]}' ({b[1]})") if bad else ""


def _set_pulled_refs(git: Git, git_remote: str, refs: dict[str, tuple[str, str | None]]
                     ) -> None:
    """Store the pulled refs (ref -> (commit, ours it replaces or None)) all at once. Where
    Git refuses because refs changed here meanwhile, those now at their commits (a pull
    beside this one stored them) count as pulled, and the others are stored if none of
    them changed; else nothing is."""
    try:
        git.set_refs_at_once(refs)
    except DvxError:
        now = git.local_refs(PREFIX)
        there = {ref for ref, (commit, _) in refs.items() if now.get(ref) == commit}
        changed = sorted(ref for ref, (_, ours) in refs.items()
                         if ref not in there and now.get(ref) != ours)
        if changed:
            raise DvxError(f"Nothing was pulled from '{git_remote}': "
                           f"{named_list(changed, most=5)} changed here while "
                           f"{'it was' if len(changed) == 1 else 'they were'} pulled "
                           "(another `dvx exp run` or `exp pull` in this clone).",
                           "Pull again.") from None
        if not there:
            raise  # not a ref of the pull: Git's own reason
        rest = {ref: change for ref, change in refs.items() if ref not in there}
        if rest:
            _set_pulled_refs(git, git_remote, rest)


def _wanted(git_remote: str, theirs: dict[str, str], names: list[str]) -> dict[str, str]:
    """The experiments of the remote's (ref -> commit) that `names` name (none: all), as
    `_named` reads each."""
    if not names:
        return dict(theirs)
    chosen = {name: _named(git_remote, theirs, name) for name in names}
    missing = [name for name, refs in chosen.items() if not refs]
    if missing:
        raise UsageError(f"'{git_remote}' has no experiment called {', '.join(missing)}.",
                         f"See `git ls-remote {shell_quote(git_remote)} '{PREFIX}/*'`.")
    named = {ref for refs in chosen.values() for ref in refs}
    return {ref: commit for ref, commit in theirs.items() if ref in named}


def _named(git_remote: str, theirs: dict[str, str], name: str) -> list[str]:
    """The experiments of the remote's (refs) that `name` names: those of that name, its
    full ref or its commit; else, as Git reads a revision, the one whose commit starts with
    `name` (at least 4 hex digits), refused when the commits of several do."""
    exact = [ref for ref, commit in theirs.items()
             if name in (ref, commit, ref.rsplit("/", 1)[1])]
    if exact or not _ABBREVIATED.fullmatch(name):
        return exact
    starting = sorted(ref for ref, commit in theirs.items() if commit.startswith(name.lower()))
    if len({theirs[ref] for ref in starting}) > 1:
        shown = named_list(starting, most=5, name=lambda ref: f"{ref} ({theirs[ref][:12]})")
        raise UsageError(f"'{git_remote}' has several experiments whose commit starts with "
                         f"{name}: {shown}.",
                         "Name one by more digits of its commit, or by its full ref.")
    return starting


def _left_out(git_remote: str, clash: list[str], held: dict[str, str],
              unfit: dict[str, Unfit] | None = None) -> UsageError | None:
    """Why the remote's experiments `clash` (refs whose name and baseline one of ours has,
    with another commit), `held` (ref -> the name of the queued experiment that is to
    take it) and `unfit` (ref -> why, `_unfit`) are not pulled, and how to get them or be
    rid of them; None if there are none."""
    unfit = unfit or {}
    if not clash and not held and not unfit:
        return None
    remote = shell_quote(git_remote)
    why, what_to_do = [], []
    if clash:
        why.append(f"{', '.join(clash)}, of the same baseline and name as yours but another "
                   "commit (pulling would replace yours)")
        what_to_do.append(f"To replace yours with theirs, pull by full ref with --force: "
                          f"`dvx exp pull {remote} --force {' '.join(clash)}`.")
    if held:
        why.append(f"{', '.join(held)}, whose name and baseline a queued experiment waits "
                   "to take (`dvx queue status`; its run would fail)")
        what_to_do.append("Pull it once `dvx queue start` has recorded the queued one (with "
                          "--force then, to replace it), or take that one out of the queue "
                          f"first: `dvx queue remove {' '.join(sorted(set(held.values())))}`.")
    if unfit:
        why.extend(f"{ref}, {reason.why}" for ref, reason in sorted(unfit.items()))
        what_to_do.append(_unfit_remedy(git_remote, unfit))
    return UsageError(f"Not pulled from '{git_remote}': {'; '.join(why)}.",
                      " ".join(what_to_do))


def _unfit_remedy(git_remote: str, unfit: dict[str, Unfit]) -> str:
    """What to do about the experiments `unfit` left out: ask how they were made; delete
    from the remote those at fault themselves, never one whose baseline alone is (another
    experiment of that commit would be refused the same way)."""
    one = len(unfit) == 1
    said = (f"Nothing of {'it' if one else 'them'} was stored here. Ask whoever shared "
            f"{'it' if one else 'them'} how {'it was' if one else 'they were'} made")
    own_fault = sorted(ref for ref, reason in unfit.items() if not reason.in_baseline)
    if not own_fault:
        return f"{said}, and how the commit {'it' if one else 'they'} started from was."
    return (f"{said}; to delete {'it' if len(own_fault) == 1 else 'them'} from "
            f"'{git_remote}': `dvx exp remove -g {shell_quote(git_remote)} --force "
            f"{' '.join(own_fault)}`.")


@dataclass
class RemovedFromRemote:
    removed: list[tuple[str, str]]  # (name, baseline) of each
    left: list[str]  # names: experiments of HEAD this clone does not have (`--all`, no force)


def remove_from_remote(repo: Repo, git_remote: str, names: list[str],
                       everything: bool = False, force: bool = False) -> RemovedFromRemote:
    """Delete the experiments `names` from `git_remote`, as DVC's `exp remove -g` does; the
    clone's own refs stay. A name is looked up among the remote's experiments as `find` looks
    it up among ours: of HEAD's baseline first, else the one of that name. The remote's
    experiments that are not this clone's (another commit, or none here: a teammate's that
    this clone never saw, or replaced since) are deleted only with `force`, or when named by
    their commit: with `everything` (the remote's experiments of HEAD) they are left and
    listed, named they are refused. All are deleted or none: a ref the remote moved
    meanwhile fails the whole push."""
    theirs = remote_experiments(repo, git_remote)
    ours = {e.ref: e.commit for e in experiments(repo)}
    left: list[str] = []
    if everything:
        prefix = f"{PREFIX}/{head(repo)}/"
        chosen = sorted(ref for ref in theirs if ref.startswith(prefix))
        if not force:
            left = [ref for ref in chosen if ours.get(ref) != theirs[ref]]
            chosen = [ref for ref in chosen if ref not in left]
    else:
        named = [(name, _remote_ref(repo, git_remote, theirs, name)) for name in names]
        chosen = [ref for _, ref in named]
        others = [(name, ref) for name, ref in named if ours.get(ref) != theirs[ref]
                  and not _by_commit(name, ref, theirs[ref])]
        if others and not force:
            raise _not_ours(git_remote, others, theirs, ours)
    if chosen:
        _git(repo, "push", "--quiet", "--atomic",
             *[f"--force-with-lease={ref}:{theirs[ref]}" for ref in chosen], "--",
             git_remote, *[f":{ref}" for ref in chosen])
    return RemovedFromRemote([(ref.rsplit("/", 2)[2], ref.rsplit("/", 2)[1]) for ref in chosen],
                             [ref.rsplit("/", 1)[1] for ref in left])


def _by_commit(name: str, ref: str, commit: str) -> bool:
    """Does `name` name the experiment `ref` by its `commit` (whole or abbreviated), which
    picks that one experiment, whoever ran it, rather than by its name or ref?"""
    return name not in (ref, ref.rsplit("/", 1)[1]) and commit.startswith(name.lower())


def _not_ours(git_remote: str, others: list[tuple[str, str]], theirs: dict[str, str],
              ours: dict[str, str]) -> UsageError:
    """Why the remote's experiments `others` (name as typed, ref) are not deleted: each is
    another than this clone's of that name and baseline, or this clone has none."""
    def why(name: str, ref: str) -> str:
        mine = ours.get(ref)
        here = f"this clone's '{name}' is commit {mine[:7]}" if mine else \
            f"this clone has no experiment '{name}' of that baseline"
        return f"'{name}' there is commit {theirs[ref][:7]} ({ref}), but {here}"
    remote = shell_quote(git_remote)
    return UsageError(
        f"Not removed from '{git_remote}': {'; '.join(why(n, r) for n, r in others)}. "
        f"{'It is' if len(others) == 1 else 'They are'} not this clone's experiment (a "
        "teammate's, or replaced since you pushed or pulled it), so nothing was removed.",
        f"To delete {'it' if len(others) == 1 else 'them'} from '{git_remote}' all the same, "
        f"add --force: `dvx exp remove -g {remote} --force "
        f"{' '.join(shell_quote(n) for n, _ in others)}`.")


def _remote_ref(repo: Repo, git_remote: str, theirs: dict[str, str], name: str) -> str:
    matches = _named(git_remote, theirs, name)
    ours = [ref for ref in matches if ref.split("/")[2] == git_of(repo).head()]
    if ours or len(matches) == 1:
        return (ours or matches)[0]
    if matches:
        raise UsageError(f"'{git_remote}' has several experiments called {name!r} (of "
                         "different baselines).", "Name one by its full ref: "
                         + ", ".join(sorted(matches)[:5]))
    raise UsageError(f"'{git_remote}' has no experiment called {name!r}.",
                     f"See `git ls-remote {git_remote} '{PREFIX}/*'`.")


def remote_experiments(repo: Repo, git_remote: str) -> dict[str, str]:
    """The experiments `git_remote` holds: ref -> commit."""
    listed = _git(repo, "ls-remote", "--refs", "--", git_remote, f"{PREFIX}/*")
    found = {}
    for line in listed.decode("utf-8", "replace").splitlines():
        commit, _, ref = line.partition("\t")
        if ref.count("/") == 3:  # refs/exps/<baseline>/<name>
            found[ref] = commit
    return found


Move = Callable[[Repo, list[Target], str | None], SyncResult]


def _sync(repo: Repo, chosen: list[Experiment], remote: str | None, move: Move
          ) -> SyncResult | None:
    targets, _ = scope_targets(repo, Scope(workspace=False,
                                           revs=tuple(e.commit for e in chosen)))
    return move(repo, targets, remote) if targets else None


def _lacking_data(repo: Repo, chosen: list[Experiment]) -> list[Experiment]:
    """Those of `chosen` some of whose data the cache lacks: of the objects a fetch of them
    asks for, a manifest not in the cache, or a file not there (one stat each)."""
    if not chosen:
        return []
    targets, _ = scope_targets(repo, Scope(workspace=False,
                                           revs=tuple(e.commit for e in chosen)))
    lacking: set[str] = set()  # commits
    for target in pushed(targets):
        problems: list[str] = []
        wanted = wanted_objects(repo, [target], problems)
        if problems or any(size is None for _, size in repo.cache.sizes(wanted.files)):
            lacking.update(target.revisions)
    return [e for e in chosen if e.commit in lacking]


def _git(repo: Repo, *args: str) -> bytes:
    try:
        return git_of(repo).run(*args)
    except DvxError as exc:
        raise DvxError(f"{exc.message}", "Check the Git remote's name or URL and your access "
                       "to it.") from None
