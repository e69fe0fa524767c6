"""What a `git push` sends, as the pre-push hook reads it: the data its commits name, and
the pointer files (and dvx.lock) among them that dvx cannot read, sorted by what the push
does about each.

A push is measured against what the Git remote already has: for each ref pushed, the commit
the remote's ref had (where this clone has it) and the remote's commits nearest below the
pushed ones. A file of a pushed commit whose content one of those holds at the same path is
not this push's doing (a teammate's commit pushed with `--no-verify`, or by a newer dvx): it
is everyone's already, and the push neither stops for it nor names it. Of the others:

- damaged (a merge's conflict markers, malformed) and held by a tip being pushed: the push
  stops, naming it in the earliest pushed commit that holds it, where it is to be fixed;
- damaged in a pushed commit, but changed or removed by the tip: named only, since the
  branch goes on from its fix and a commit cannot be changed once a later one is built on it;
- not damaged (written by a newer dvx): named only, as its data is that dvx's to push.

A push to a remote this clone knows no commit of (a new mirror) is measured by its tips
alone: the history below them was published, and judged, by earlier pushes elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx.history import History
from dvx.outputs import Broken, Target

_GitFile = tuple[str, str]  # (path in the commit, blob sha)


@dataclass(frozen=True)
class PushedRef:
    """One line of what Git tells the pre-push hook."""
    local: str  # the commit pushed
    remote: str | None  # the commit the remote's ref has (None: a new ref)


@dataclass
class PushedCommits:
    targets: list[Target] = field(default_factory=list)  # the data the commits name
    damaged: list[Broken] = field(default_factory=list)  # the push stops for these
    mended: list[Broken] = field(default_factory=list)  # damaged, mended by a tip
    newer: list[Broken] = field(default_factory=list)  # a newer dvx's


def read_pushed(history: History, remote: str, refs: list[PushedRef]) -> PushedCommits:
    """The data and the unreadable files of the commits a push of `refs` to the Git remote
    `remote` sends (none of the remote's commits among them)."""
    git = history.git
    targets: dict[tuple[str, str], Target] = {}
    introduced: dict[_GitFile, Broken] = {}
    at_tips: set[_GitFile] = set()
    read: set[str] = set()
    for ref in refs:
        commits = git.commits_to_push(ref.local, ref.remote, remote)
        if not commits:
            continue
        tip = commits[0]  # each commit before its parents: the one pushed comes first
        below = git.remote_commits_below(ref.local, ref.remote, remote)
        had = {file for commit in below for file in history.files_at(commit)}
        at_tips.update(history.files_at(tip))
        for commit in reversed(commits):  # parents first: a file is named where it came in
            revision = history.at(commit)
            if commit not in read:
                read.add(commit)
                for output in revision.outputs:
                    targets.setdefault((output.path, output.pointer.oid), Target(output))
            if below or commit == tip:
                for item in revision.broken:
                    assert item.git_file is not None  # read from a commit
                    if item.git_file not in had:
                        introduced.setdefault(item.git_file, item)
    found = PushedCommits(list(targets.values()))
    for file, item in sorted(introduced.items()):
        if not item.damaged:
            found.newer.append(item)
        elif file in at_tips:
            found.damaged.append(item)
        else:
            found.mended.append(item)
    return found
