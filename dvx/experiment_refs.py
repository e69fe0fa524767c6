"""Where experiments live: one commit each, child of the commit it started from (its
baseline), under `refs/exps/<baseline sha>/<name>`. Git keeps them (gc never drops a ref) and
shares them like any ref (`git push origin 'refs/exps/*'`), while the user's branches, index
and HEAD never see them."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass

from dvx import faults
from dvx.errors import (
    DvxError,
    PathError,
    ShallowCloneRevisionError,
    UnknownRevisionError,
    UsageError,
)
from dvx.generated import written_by_dvx
from dvx.ignore import refuse_gitignores_git_waits_on
from dvx.lockfile import uncached_paths
from dvx.logs import get_logger
from dvx.paths import at_or_below_any, commit_path_problem
from dvx.repo import Repo, private_to_this_clone
from dvx.scm import Git, refuse_unreadable_files
from dvx.wording import named_list

log = get_logger(__name__)

PREFIX = "refs/exps"
QUEUE_REFS = "refs/exps-queue"  # queued experiments' snapshots (exps/queue.py), one per name
MAX_NAME = 100
NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME - 1}}}")
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_ADJECTIVES = ("amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hazy", "icy",
               "jolly", "keen", "lucid", "mellow", "nimble", "oaken", "plush", "quiet", "rapid",
               "sunny", "tidy", "urban", "vivid", "witty", "young", "zesty")
_NOUNS = ("acorn", "badger", "comet", "delta", "ember", "fjord", "galaxy", "harbor", "iris",
          "jackal", "kiwi", "lagoon", "meadow", "nebula", "otter", "pebble", "quartz", "raven",
          "summit", "tundra", "umber", "valley", "walrus", "yarrow", "zephyr")


@dataclass(frozen=True)
class Experiment:
    name: str
    baseline: str  # the commit it started from
    commit: str
    created: int  # committer time, Unix seconds

    @property
    def ref(self) -> str:
        return ref_of(self.baseline, self.name)


@dataclass(frozen=True)
class DamagedRef:
    """A ref where an experiment's goes that names no commit: a tree, a blob, a tag of one,
    or an object missing from the repository (a fetch cut short, a ref made by hand)."""
    name: str
    baseline: str
    names: str  # what it names instead, for messages (RefTarget.names)

    @property
    def ref(self) -> str:
        return ref_of(self.baseline, self.name)

    @property
    def problem(self) -> str:
        return f"The experiment ref {self.ref} names {self.names}, not an experiment's commit."

    @property
    def remedy(self) -> str:
        return (f"Remove it with `dvx exp remove {self.ref}` (or `git update-ref -d "
                f"{self.ref}`).")


def changed_files(git: Git, exp: Experiment) -> list[str]:
    """The files `exp` changed against its baseline, as an apply writes them into the
    workspace. An experiment pulled from a teammate is a commit anyone could have made by
    hand: one that would write outside the project's files is refused (PathError) before
    anything is written, naming each such path."""
    files = git.changed_between(exp.baseline, exp.commit)
    refuse_paths_no_experiment_writes(exp.name, exp.commit, files,
                                      nested_own_files_held(git, exp.baseline, files))
    return files


def refuse_paths_no_experiment_writes(name: str, commit: str, files: list[str],
                                      held_before: Container[str] = frozenset()) -> None:
    """Refuse (PathError) the experiment `name` (at `commit`) when a file it changed is one
    no experiment may write (`experiment_path_problem`, with its baseline's `held_before`)."""
    bad = [(rel, why) for rel in files if (why := experiment_path_problem(rel, held_before))]
    if bad:
        shown = named_list(sorted(bad), most=5, name=lambda b: f"'{b[0]}' ({b[1]})")
        raise PathError(
            f"The experiment '{name}' (commit {commit[:10]}) changes files that are not the "
            f"project's to write, so dvx takes nothing of it: {shown}. dvx never records "
            "such a path, so the commit was made by other means.",
            "Remove it (`dvx exp remove`) and ask whoever shared it how it was made.")


def experiment_path_problem(rel: str, held_before: Container[str] = frozenset()
                            ) -> str | None:
    """Why a commit of an experiment or of its baseline may not hold `rel` (a POSIX path Git
    lists), or None. Only what would lead out of the project or into a Git directory
    (`commit_path_problem`: '..', an absolute path, a `.git` component in any letter case),
    and a clone's own files (`private_to_this_clone`: config.local's credentials, the
    cache, dvx's temporaries) in the project's .dvx/, which no commit of dvx's holds, or in
    a nested dvx project's unless the commit before already tracks that path
    (`held_before`): then it is the project's content as Git holds it (a fixture kept with
    its cache), which `exp run` records like any tracked file. Any other file in a .dvx/ is
    the project's as Git tracks it (dvx's config and .gitignore, a test fixture's); so is a
    name dvx writes in no pointer (a backslash, a line break, bytes that are not UTF-8),
    which a tracked file may have."""
    if private_to_this_clone(rel, nested=False) or (
            private_to_this_clone(rel) and rel not in held_before):
        return "a clone's own file in .dvx, never in Git"
    return commit_path_problem(rel)


def nested_own_files_held(git: Git, commit: str, files: Iterable[str]) -> set[str]:
    """Those of `files` in a nested dvx project's clone-own places that `commit` tracks
    (its tree is listed only when one of them is asked about)."""
    nested = {rel for rel in files
              if private_to_this_clone(rel) and not private_to_this_clone(rel, nested=False)}
    if not nested:
        return set()
    return nested & {path for path, _ in git.ls_tree_files(commit)}


def ref_of(baseline: str, name: str) -> str:
    return f"{PREFIX}/{baseline}/{name}"


def git_of(repo: Repo) -> Git:
    if repo.git is None:
        raise UsageError("Experiments need a Git repository.", "Run `git init` first.")
    return repo.git


RESERVED = frozenset({"workspace", "HEAD"})  # rows and revisions of `exp show` / `exp diff`


def check_name(name: str) -> str:
    """`name` if it can name an experiment: one component of a Git ref name (as Git's
    check-ref-format rules it: no '..', no ending in '.' or '.lock'), in a narrower alphabet
    so it needs no quoting anywhere."""
    if not NAME.fullmatch(name) or name.endswith((".", ".lock")) or ".." in name:
        raise UsageError(f"Invalid experiment name {name!r}.",
                         "Use letters, digits, '.', '_' and '-' (at most 100), starting with a "
                         "letter or digit, not ending with '.' or '.lock', and without '..'.")
    if name in RESERVED:
        raise UsageError(f"'{name}' names something else in `dvx exp show` and `exp diff`.",
                         "Pick another name.")
    return name


# Names Git writes refs of itself, at any time, in its own directory, where a revision
# argument finds them first: HEAD and its kin (ORIG_HEAD, FETCH_HEAD, MERGE_HEAD,
# CHERRY_PICK_HEAD, ...: any name of capital letters and '_' ending in HEAD) and the few
# others Git writes there; `stash` is refs/stash, which `git stash` writes (any case: a
# case-insensitive disk).
GIT_WRITES = re.compile(r"[A-Z_]*HEAD|AUTO_MERGE|MERGE_AUTOSTASH|BISECT_EXPECTED_REV|"
                        r"NOTES_MERGE_PARTIAL|NOTES_MERGE_REF")


def _written_by_git(name: str) -> str | None:
    """What Git writes under `name`, for the refusal of an experiment taking it."""
    if name.casefold() == "stash":
        return "`git stash` writes refs/stash"
    if GIT_WRITES.fullmatch(name):
        return ("Git writes refs of that name in its own directory (HEAD, ORIG_HEAD, "
                "FETCH_HEAD, MERGE_HEAD and others), where a revision argument finds them first")
    return None


def check_new_name(repo: Repo, name: str) -> str:
    """`name` if a new experiment may take it: a valid name that Git does not read as a
    revision already, a branch, a tag or a (short) commit id (where both exist, a revision
    argument means what Git reads; see `resolve`), nor one Git writes a ref of itself."""
    check_name(name)
    written = _written_by_git(name)
    if written is not None:
        raise UsageError(f"'{name}' is a name Git gives its own refs ({written}): once Git "
                         f"writes it, a revision argument '{name}' means Git's, not the "
                         "experiment.", "Pick another name.")
    found = git_reads(repo, name)
    if found is None:
        return name
    kind, what = found
    if kind == "commit":
        raise UsageError(f"'{name}' already names the commit {what[:12]} of this repository "
                         "(Git reads it as a revision); an experiment of the same name could "
                         "not be told from it.", "Pick another name.")
    raise UsageError(f"'{name}' is the name of a {kind} of this repository; an experiment of "
                     "the same name could not be told from it.", "Pick another name.")


def git_reads(repo: Repo, name: str) -> tuple[str, str] | None:
    """What Git reads `name` as, as a revision argument: ("branch", its ref), ("tag", its
    ref) or ("commit", the commit it names: a short commit id, another ref); None if Git
    does not read it as a revision."""
    git = git_of(repo)
    for prefix, kind in (("refs/heads", "branch"), ("refs/tags", "tag")):
        if f"{prefix}/{name}" in git.ref_names(prefix):
            return kind, f"{prefix}/{name}"
    try:
        return "commit", git.resolve_revision(name)
    except UsageError:
        return None


def refuse_unmerged(repo: Repo) -> None:
    """An experiment snapshots the workspace: not while Git has a merge to resolve (the
    snapshot would keep the conflict markers)."""
    if git_of(repo).run("ls-files", "--unmerged").strip():
        raise UsageError("Git has an unresolved merge in this workspace; an experiment would "
                         "record its conflicts.", "Resolve it (and commit) first.")


def new_name(taken: set[str]) -> str:
    """A readable name not in `taken` (adjective-noun, then a suffix if needed)."""
    for _ in range(50):
        name = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"
        if name not in taken:
            return name
    return f"exp-{secrets.token_hex(4)}"


def experiments(repo: Repo, baseline: str | None = None) -> list[Experiment]:
    """The experiments of `baseline` (None: of every baseline), newest first; a ref that
    names an annotated tag is the experiment of the commit it tags, as for Git."""
    return [e for e in experiments_and_damaged(repo, baseline) if isinstance(e, Experiment)]


def damaged(repo: Repo, baseline: str | None = None) -> list[DamagedRef]:
    """The refs of `baseline`'s experiments (None: of every baseline) that name no commit,
    or one whose baseline is no commit here."""
    return [e for e in experiments_and_damaged(repo, baseline) if isinstance(e, DamagedRef)]


def taken_names(repo: Repo, baseline: str) -> set[str]:
    """The names of `baseline`'s experiments, damaged refs included: no new one can take
    them."""
    return {e.name for e in experiments_and_damaged(repo, baseline)}


def experiments_and_damaged(repo: Repo, baseline: str | None
                            ) -> list[Experiment | DamagedRef]:
    """`experiments`, then the refs of `damaged` (those too whose baseline is no commit
    here)."""
    prefix = f"{PREFIX}/{baseline}" if baseline else PREFIX
    found: list[Experiment | DamagedRef] = []
    git = git_of(repo)
    baselines: dict[str, bool] = {}  # baseline -> is it a commit here
    for target in git.ref_targets(prefix):
        parts = target.ref.split("/")
        if len(parts) != 4:  # refs/exps/<baseline>/<name>
            continue
        if target.commit is None:
            found.append(DamagedRef(parts[3], parts[2], target.names))
        elif not _known(baselines, parts[2], git.has_commit):
            # a ref made by hand (a plain `git fetch` stores it): nothing can compare it
            found.append(DamagedRef(parts[3], parts[2], f"commit {target.commit[:10]}, whose "
                                    f"baseline {parts[2][:10]} is no commit here"))
        else:
            found.append(Experiment(parts[3], parts[2], target.commit, target.created))
    return sorted(found, key=lambda e: (isinstance(e, DamagedRef),
                                        -e.created if isinstance(e, Experiment) else 0, e.name))


def _known(known: dict[str, bool], key: str, ask: Callable[[str], bool]) -> bool:
    """`ask(key)`, asked once per `key` (kept in `known`)."""
    if key not in known:
        known[key] = ask(key)
    return known[key]


def head(repo: Repo) -> str:
    commit = git_of(repo).head()
    if commit is None:
        raise UsageError("Experiments start from a commit, and this repository has none yet.",
                         "Commit your pipeline first.")
    return commit


def find(repo: Repo, name: str) -> Experiment:
    """The experiment called `name` (of the current baseline first, else of any), or its
    full ref or commit."""
    found = named(repo, name)
    if found is None:
        raise UsageError(f"No experiment called {name!r}.", "See `dvx exp show -A`.")
    return found


def named(repo: Repo, name: str) -> Experiment | None:
    """`find`'s experiment, or None if there is none; several of that name and none of the
    current baseline is an error naming them, and so is a damaged ref of that name."""
    found = named_or_damaged(repo, name)
    if isinstance(found, DamagedRef):
        raise UsageError(found.problem, found.remedy)
    return found


def named_or_damaged(repo: Repo, name: str) -> Experiment | DamagedRef | None:
    """The experiment, or the damaged ref where one goes, called `name` (of the current
    baseline first, else of any), or its full ref or commit: what `exp remove` deletes."""
    everything = experiments_and_damaged(repo, None)
    current = git_of(repo).head()
    matches = [e for e in everything
               if name in (e.name, e.ref) or (isinstance(e, Experiment) and name == e.commit)]
    ours = [e for e in matches if e.baseline == current]
    if ours or len(matches) == 1:
        return (ours or matches)[0]
    if matches:
        raise UsageError(f"Several experiments are called {name!r} (of different baselines).",
                         "Name one by its full ref: " + ", ".join(e.ref for e in matches[:5]))
    return None


def resolve(repo: Repo, rev: str) -> tuple[str, Experiment | None]:
    """The commit a revision argument names, and the experiment it is, if it is one. A Git
    revision (branch, tag, commit, `HEAD~1`, full ref) wins; a name Git does not know is an
    experiment's name, as `find` looks it up. An experiment's full ref or commit counts as
    the experiment; a branch or tag at the same commit does not. Text that is no experiment's
    name either keeps Git's word on it (a range, an exclusion, a blob) where it has one."""
    git = git_of(repo)
    try:
        commit = git.resolve_revision(rev)
    except UsageError as refused:
        if rev.startswith("-"):
            raise  # never an option, nor an experiment's name
        found = named(repo, rev)
        if found is None:
            if not isinstance(refused, UnknownRevisionError) or isinstance(
                    refused, ShallowCloneRevisionError):
                raise  # Git's word on it; a shallow clone's, with the fetch that ends it
            raise UsageError(f"Unknown revision {rev!r}.",
                             "Name a branch, tag or commit of this repository, or an "
                             "experiment (see `dvx exp show -A`).") from None
        return found.commit, found
    if not rev.startswith(f"{PREFIX}/") and not FULL_SHA.fullmatch(rev):
        return commit, None
    return commit, next((e for e in experiments(repo) if rev in (e.ref, e.commit)), None)


def snapshot(repo: Repo, baseline: str, name: str, queued_from: str | None = None) -> str:
    """Commit the workspace as the experiment `name` of `baseline` holds it, a child of
    `baseline`; no ref names the commit yet (`claim` makes one). A queued run names the
    snapshot it ran from (`queued_from`) in the message (`queued_snapshot`); the files of
    `baseline` that snapshot left out and its run made again are the run's, recorded."""
    return snapshot_workspace(repo, baseline, _message(name, queued_from),
                              from_snapshot=queued_from is not None)


def snapshot_workspace(repo: Repo, baseline: str, message: str, from_snapshot: bool = False
                       ) -> str:
    """A commit of the workspace, child of `baseline`, with `message`: the files Git tracks
    and the new files `_new_files_recorded` picks, those it leaves out for their size named
    in a warning. `from_snapshot`: the workspace is a queued run's worktree of a snapshot
    (`Git.snapshot`)."""
    left_out: list[str] = []

    def pick(new: list[str]) -> list[str]:
        recorded, too_large = _new_files_recorded(repo, new)
        left_out.extend(too_large)
        return recorded

    commit = git_of(repo).snapshot(baseline, message, pick, from_snapshot)
    if left_out:
        log.warning("Left out of the experiment: %s (new files larger than 1 MiB do not go "
                    "into Git; track them with `dvx add`, or make them a stage's output).",
                    named_list(left_out, most=5))
    return commit


def refuse_unreadable_files_to_record(repo: Repo) -> None:
    """Refuse, before anything is run or written, the command whose experiment's commit
    would record a file of the workspace this user may not read: a new one, or a tracked one
    changed since the user's index recorded it (made unreadable: its mode changed too), which
    the commit reads again (Git.snapshot, which refuses them too, would only find them once
    the run is over)."""
    git = git_of(repo)
    refuse_gitignores_git_waits_on(repo.root, repo.syncstate.paths())  # before Git's walk
    recorded, _ = _new_files_recorded(repo, git.untracked_unignored(["."]))
    refuse_unreadable_files(repo.root, recorded, git.changed_tracked_files())


LARGEST_NEW_FILE = 1 << 20  # a larger new file is data, for `dvx add`


def new_files_left_out(repo: Repo, new: list[str]) -> list[str]:
    """Those of the workspace's `new` files (Git neither tracks nor ignores them) that an
    experiment's commit leaves out for their size, as `snapshot_workspace` picks them."""
    return _new_files_recorded(repo, new)[1]


def _new_files_recorded(repo: Repo, new: list[str]) -> tuple[list[str], list[str]]:
    """Of the workspace's `new` files (Git neither tracks nor ignores them), those an
    experiment records, and those it leaves out for their size (over LARGEST_NEW_FILE). The
    `cache: false` outputs dvx.lock records (metrics, plots) are recorded whatever their
    size: the experiment's dvx.lock names them, and Git holds them once committed. dvx's own
    files (`generated`: a plots page, install's .gitattributes) and this clone's own
    (`private_to_this_clone`: config.local's credentials) are not recorded."""
    own = written_by_dvx(repo.root, new)
    uncached = _uncached_outputs(repo)
    recorded, too_large = [], []
    for rel in new:
        full = os.path.join(repo.root, rel)
        if rel in own or private_to_this_clone(rel) or not os.path.isfile(full):
            continue
        if at_or_below_any(rel, uncached) or os.path.getsize(full) <= LARGEST_NEW_FILE:
            recorded.append(rel)
        else:
            too_large.append(rel)
    return recorded, sorted(too_large)


def _uncached_outputs(repo: Repo) -> set[str]:
    """The paths of the `cache: false` outputs the workspace's dvx.lock records (none if it
    cannot be read: the commands that read it say why)."""
    try:
        locks = repo.read_lock()
    except DvxError:
        return set()
    return uncached_paths(locks)


def renamed(repo: Repo, commit: str, name: str, queued_from: str | None = None) -> str:
    """The snapshot `commit` to record as the experiment `name` instead (the name it was
    made for was taken meanwhile): the same files, its message naming `name`."""
    return git_of(repo).reworded(commit, _message(name, queued_from))


# The trailer of a queued run's experiment commit naming the queue snapshot it ran from: a
# Dask task that pushed its experiment is known by it when its result never came back.
QUEUED_FROM = "Dvx-Queued-Snapshot"
_QUEUED_FROM = re.compile(rf"^{QUEUED_FROM}: ([0-9a-f]{{40}}|[0-9a-f]{{64}})$", re.MULTILINE)


def _message(name: str, queued_from: str | None = None) -> str:
    trailer = f"\n\n{QUEUED_FROM}: {queued_from}" if queued_from else ""
    return f"dvx experiment {name}{trailer}"


def queued_snapshot(message: str) -> str | None:
    """The queue snapshot the experiment commit whose message is `message` ran from; None
    if it did not run from one (or a dvx that did not say so made it)."""
    found = _QUEUED_FROM.search(message)
    return found.group(1) if found else None


def claim(repo: Repo, baseline: str, name: str, commit: str) -> Experiment | None:
    """Record `commit` as the experiment `name` of `baseline`, if no experiment has that name
    and baseline; None, recording nothing, if one has. Git creates the ref only if it does
    not exist, in one step: an experiment of that name made since the caller looked (by
    another `exp run -n`, an `exp pull`, a `git fetch`) is never replaced."""
    if not git_of(repo).create_ref(ref_of(baseline, name), commit):
        return None
    faults.point("exp.ref_made")
    return next(e for e in experiments(repo, baseline) if e.name == name)
