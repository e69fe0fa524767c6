"""Whether this clone has the history its teammates share, before a `gc --remote` over it.

gc keeps on the shared remote only what this clone's branches, tags and commits use, so it
would delete there the data of every branch, tag and commit the clone cannot see. A clone
lacks some when it is shallow (`git clone --depth`), fetches only some branches of the Git
remote its branches track (`--single-branch`, a negative refspec such as `^refs/heads/wip/*`),
never fetches that remote's tags (`--no-tags`), or has not fetched since teammates pushed:
then the branches and tags that remote holds (one `git ls-remote` each) differ from its
remote-tracking branches and tags. Teammates may push to every Git remote that fetches every
branch (a fork's upstream), so each is asked too (`Git.shared_remotes`), about the branches
it fetches where a negative refspec leaves some out. gc --remote over
history refuses when the clone is shallow, when a remote holds a branch or tag unlike this
clone's copy (a clone fetching only some branches, or no tags, loses nothing while the
remote holds no others), and when a Git remote cannot be reached or there is none (what
teammates pushed is unknown). A remote with no fetch refspec fetches no branch: each branch
it holds is one the clone lacks. Two remotes holding a tag of one name at different objects
leave the clone without one of them whatever it fetches: gc refuses until they agree. In
the cache alone gc loses no copy the remote lacks, so there it goes on, and in a shallow
clone says what it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

from dvx.errors import DvxError, UsageError
from dvx.history import Scope
from dvx.logs import get_logger
from dvx.repo import Repo
from dvx.scm import Git, SharedRemote, tracking_ref
from dvx.wording import named_list

log = get_logger(__name__)

_NAMED = 5  # unfetched branches and tags named one by one; more are counted


def history_scopes(scope: Scope) -> list[str]:
    """The options of `scope` whose revisions depend on how much history the clone has."""
    return [option for flag, option in ((scope.all_branches, "--all-branches"),
                                        (scope.all_tags, "--all-tags"),
                                        (scope.all_commits, "--all-commits"),
                                        (bool(scope.last_n), "-n")) if flag]


def refuse_history_a_clone_lacks(repo: Repo, scope: Scope, remote_name: str) -> None:
    """Refuse a gc over history that would delete from the remote `remote_name` ('' for
    none: the cache alone) the data of history that `repo` does not have."""
    git = repo.git
    options = history_scopes(scope)
    if git is None or not options:
        return
    shallow = git.is_shallow()
    if not remote_name:
        if shallow:
            log.warning("%s is a shallow clone: %s keeps only what the commits it has use; "
                        "the cached data of older commits goes too (their remote keeps it).",
                        repo.root, " ".join(options))
        return
    shared_remotes = git.shared_remotes()
    narrowed = git.narrowed_shared_remotes(shared_remotes)
    tagless = (git.tagless_shared_remotes(shared_remotes)
               if scope.all_tags or scope.all_commits else [])
    if shallow:
        _refuse_partial_clone(repo, git, options, remote_name, shallow, narrowed, tagless)
    held = _ask_shared_remotes(git, shared_remotes, scope, options, remote_name)
    unfetched = _unfetched(git, shared_remotes, scope, held)
    # A clone fetching only some branches, or no tags, lacks nothing while its remote holds
    # no others: its narrowing is named only where `git ls-remote` finds one left out.
    narrowed = {name: refspecs for name, refspecs in narrowed.items()
                if any(ref.kind == "branch" for ref in unfetched.get(name, []))}
    tagless = [name for name in tagless
               if any(ref.kind == "tag" for ref in unfetched.get(name, []))]
    if narrowed or tagless:
        _refuse_partial_clone(repo, git, options, remote_name, shallow, narrowed, tagless)
    disagreeing = _disagreeing_tags(held) if scope.all_tags or scope.all_commits else {}
    if disagreeing:
        _refuse_disagreeing_tags(git, options, remote_name, disagreeing)
    for shared, unseen in unfetched.items():
        _refuse_unfetched(options, remote_name, shared, unseen)


@dataclass(frozen=True)
class _Unfetched:
    """A branch or tag a Git remote holds that this clone has not, or not as it is now."""
    kind: str  # "branch" or "tag"
    name: str
    moved: bool  # a tag this clone holds elsewhere: a plain `git fetch` never moves it

    def __str__(self) -> str:
        return f"{'moved ' if self.moved else ''}{self.kind} {self.name}"


def _shared_remote(git: Git, shared: str) -> str:
    """The Git remote `shared`, said with why it holds the history teammates share."""
    tracked = git.tracked_remotes()
    if shared in tracked:
        return f"the Git remote '{shared}' that its branches track"
    if tracked:
        return (f"the Git remote '{shared}' (which fetches every branch, as a fork's upstream "
                "does, so it counts as shared too)")
    return (f"the Git remote '{shared}' (no branch here tracks a remote, so each one counts "
            "as shared)")


def _refuse_partial_clone(repo: Repo, git: Git, options: list[str], remote_name: str,
                          shallow: bool, narrowed: dict[str, list[str]],
                          tagless: list[str]) -> None:
    shared = next(iter(narrowed), tagless[0] if tagless else "")
    lacks = []
    if shallow:
        lacks.append(f"{repo.root} is a shallow clone (`git clone --depth`): the commits "
                     "beyond its boundary, and the branches and tags it did not fetch, are "
                     "not here")
    if narrowed and not narrowed[shared]:
        lacks.append(f"{repo.root} fetches no branch of {_shared_remote(git, shared)}, "
                     f"as remote.{shared}.fetch is not set (`git remote add --mirror=push` "
                     "leaves it so): its branches, and the tags on them, are not here")
    elif narrowed:
        refspecs = " and ".join(f"`{refspec}`" for refspec in narrowed[shared])
        lacks.append(f"{repo.root} fetches only some branches of "
                     f"{_shared_remote(git, shared)} (remote.{shared}.fetch is {refspecs}): "
                     "its other branches, and the tags on them, are not here")
    if tagless:
        lacks.append(f"{repo.root} never fetches the tags of {_shared_remote(git, tagless[0])} "
                     f"(remote.{tagless[0]}.tagOpt is --no-tags, as `git clone --no-tags` "
                     "sets): its tags, and the commits only they hold, are not here")
    # With no refspec to replace, a plain set-branches fails: --add is what sets one.
    add = " --add" if narrowed and not narrowed[shared] else ""
    steps = [f"`git remote set-branches{add} {shared} '*'`"] if narrowed else []
    steps += [f"`git config --unset remote.{name}.tagOpt`" for name in tagless]
    steps.append(f"`git fetch {'--unshallow ' if shallow else ''}--tags"
                 f"{' ' + shared if shared else ''}`")
    raise UsageError(
        f"Nothing was deleted: gc {' '.join(options)} --remote keeps only what this clone's "
        f"branches, tags and commits use, and {'; and '.join(lacks)}, so gc would delete their "
        f"data from the remote '{remote_name}' that every clone shares.",
        f"Fetch the whole history first ({' then '.join(steps)}), or run gc --remote from a "
        "full clone.")


def _ask_shared_remotes(git: Git, shared_remotes: dict[str, SharedRemote], scope: Scope,
                        options: list[str], remote_name: str) -> dict[str, dict[str, str]]:
    """The branches and tags each shared Git remote (of `shared_remotes`) holds now
    (`Git.remote_refs`), by remote; none for -n alone, which needs no remote's. Refused when
    there is no Git remote, or one cannot be asked."""
    if not (scope.all_branches or scope.all_tags or scope.all_commits):
        return {}  # -n alone: the last commits of HEAD, which this clone has
    if not shared_remotes:
        _refuse_without_a_git_remote(options, remote_name)
    held = {}
    for shared in shared_remotes:
        try:
            held[shared] = git.remote_refs(shared)
        except DvxError as exc:
            raise DvxError(
                f"Nothing was deleted: gc {' '.join(options)} --remote keeps only what this "
                f"clone's branches, tags and commits use, and {_shared_remote(git, shared)} "
                "cannot be reached to tell whether teammates pushed "
                "branches or tags this clone has not fetched, whose data gc would delete "
                f"from the remote '{remote_name}' that every clone shares "
                f"({exc.message.rstrip('.')}).",
                f"Run gc --remote where '{shared}' can be reached, after `git fetch --tags "
                f"{shared}`{_or_remove(git, shared)}.") from None
    return held


def _unfetched(git: Git, shared_remotes: dict[str, SharedRemote], scope: Scope,
               held: dict[str, dict[str, str]]) -> dict[str, list[_Unfetched]]:
    """The shared branches (with -a or -A) and the tags (with -T or -A) each shared Git
    remote (of `shared_remotes`) holds (`held`) that differ from this clone's copies of
    them, by remote."""
    branches = scope.all_branches or scope.all_commits
    tags = scope.all_tags or scope.all_commits
    ours = git.local_refs() if held else {}
    found: dict[str, list[_Unfetched]] = {}
    for shared, theirs in held.items():
        unseen = []
        for ref, sha in sorted(theirs.items()):
            if ref.startswith("refs/heads/") and branches:
                if not shared_remotes[shared].shares(ref):
                    continue
                here = tracking_ref(shared_remotes[shared].refspecs, ref)
                if here is None or ours.get(here) != sha:
                    unseen.append(_Unfetched("branch", ref.removeprefix("refs/heads/"), False))
            elif ref.startswith("refs/tags/") and tags and ours.get(ref) != sha:
                unseen.append(_Unfetched("tag", ref.removeprefix("refs/tags/"), ref in ours))
        if unseen:
            found[shared] = unseen
    return found


def _disagreeing_tags(held: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The tags that two shared Git remotes (`held`) hold at different objects: tag name ->
    {remote: object}. A clone holds one tag of a name, so it always lacks the other one."""
    by_tag: dict[str, dict[str, str]] = {}
    for shared, refs in held.items():
        for ref, sha in refs.items():
            if ref.startswith("refs/tags/"):
                by_tag.setdefault(ref.removeprefix("refs/tags/"), {})[shared] = sha
    return {tag: where for tag, where in sorted(by_tag.items())
            if len(set(where.values())) > 1}


def _refuse_disagreeing_tags(git: Git, options: list[str], remote_name: str,
                             disagreeing: dict[str, dict[str, str]]) -> None:
    """Refuse, as two shared Git remotes hold tags of one name at different objects: no
    fetch makes this clone hold both, so gc would delete the data of one."""
    tag, where = next(iter(disagreeing.items()))
    first = min(where)
    second = min(name for name in where if where[name] != where[first])
    tags = [name for name, at in disagreeing.items()
            if first in at and second in at and at[first] != at[second]]
    ours = git.local_refs("refs/tags/").get(f"refs/tags/{tag}")
    here = next((f"; this clone has {name}'s" for name in (first, second)
                 if where[name] == ours), "")
    more = f" (and on {', '.join(tags[1:])})" if len(tags) > 1 else ""
    raise UsageError(
        f"Nothing was deleted: gc {' '.join(options)} --remote keeps only what this clone's "
        f"branches, tags and commits use, and the Git remotes '{first}' and '{second}' "
        f"disagree on tag {tag}{more} ('{first}' has it at {where[first][:10]}, '{second}' at "
        f"{where[second][:10]}{here}): a clone holds one tag of a name, so whichever one this "
        f"clone fetches, gc would delete from the remote '{remote_name}' that every clone "
        "shares the data of the other.",
        f"Make the two agree, keeping the one you want: `git fetch --tags --force {second}` "
        f"then `git push -f {first} {' '.join(tags)}` keeps {second}'s; `git fetch --tags "
        f"--force {first}` then `git push -f {second} {' '.join(tags)}` keeps {first}'s. "
        "Then gc again; or name what to keep with --rev (gc -w --rev BRANCH ...), which asks "
        "no Git remote.")


def _or_remove(git: Git, shared: str) -> str:
    """The way out for an unreachable Git remote no branch tracks, which may be one no one
    pushes to any more."""
    if shared in git.tracked_remotes():
        return ""
    return f"; or, if no one pushes to it any more, remove it (`git remote remove {shared}`)"


def _refuse_without_a_git_remote(options: list[str], remote_name: str) -> None:
    """Refuse, as this clone has no Git remote to ask what branches and tags teammates
    pushed (it pushes by URL, or has no teammates: which is unknown here)."""
    raise UsageError(
        f"Nothing was deleted: gc {' '.join(options)} --remote keeps only what this clone's "
        "branches, tags and commits use, and this clone has no Git remote, so it cannot see "
        "the branches and tags teammates pushed, whose data gc would delete from the remote "
        f"'{remote_name}' that every clone shares.",
        "Add the Git remote teammates push to (`git remote add origin URL`, then `git fetch "
        "--tags origin`) and gc again; or name what to keep with --rev (gc -w --rev BRANCH "
        "...), which asks no Git remote.")


def _refuse_unfetched(options: list[str], remote_name: str, shared: str,
                      unseen: list[_Unfetched]) -> None:
    """Refuse, as the Git remote `shared` holds branches or tags (`unseen`) unlike this
    clone's copies."""
    moved = [ref.name for ref in unseen if ref.moved]
    tag = f"tag{'s' if len(moved) > 1 else ''} {', '.join(moved)}"
    fetch = (f"Run `git fetch --tags --force {shared}` first (this clone's {tag} "
             f"{'are' if len(moved) > 1 else 'is'} not where '{shared}' has "
             f"{'them' if len(moved) > 1 else 'it'}, and `git fetch` moves a tag only with "
             f"--force, which puts each tag of this clone where '{shared}' has it; a tag "
             f"moved here on purpose is pushed instead, with `git push -f {shared} TAG`)"
             if moved else f"Run `git fetch --tags {shared}` first")
    raise UsageError(
        f"Nothing was deleted: gc {' '.join(options)} --remote keeps only what this "
        f"clone's branches, tags and commits use, and the Git remote '{shared}' holds "
        "branches or tags that this clone has not fetched, or not as they are now "
        f"({named_list(unseen, most=_NAMED)}), so gc would delete their data from "
        f"the remote '{remote_name}' that every clone shares.",
        f"{fetch}, then gc again.")
