"""Data from elsewhere: `dvx get` / `dvx import` from another dvx repository (ops/source.py),
`dvx get-url` / `dvx import-url` from a path or a URL of a kind a remote may be on
(`backends.source_backend`), and `dvx update`.

An import is tracked like added data (its objects in the cache, a pointer, a .gitignore entry),
and its pointer records where it came from (`source:` in docs/formats.md): the repository,
path, requested revision and the commit it resolved to, or the URL and the version (ETag or
checksum) its server reported. `dvx update` asks the source again and brings newer data; the
workspace copy is replaced only under checkout's safety rule (its content is in the cache, or
--force).
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import functools
import os
import posixpath
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from dvx import faults, fsutil, get_scratch, gitignore
from dvx.config import Config
from dvx.errors import (
    STOPPED_BY,
    ConflictError,
    DvxError,
    Interrupted,
    NotARepoError,
    PathError,
    UsageError,
    interruption,
    stop_within,
)
from dvx.hash_setting import (
    PERSONAL,
    own_setting_fixes,
    repository_algorithm,
    setting_named,
    switch_fixes,
)
from dvx.hashing import CHUNK_SIZE
from dvx.lock import Work, began_writing, stopped_commands
from dvx.logs import get_logger, pasted_args, quoted, shell_quote
from dvx.objects.blobs import STREAM_BLOCK
from dvx.objects.tree import Tree, TreeEntry
from dvx.ops.checkout import OBJECT_MISSING, CheckoutResult, checkout
from dvx.ops.commit import Added, AddResult, finish
from dvx.ops.data_places import (
    Staging,
    TrackedPaths,
    ignore_after_rules_taking_back,
    refuse_dvxignored,
    refuse_git_tracked,
    refuse_ignored_pointers,
    refuse_overlap,
    stage_for_git,
)
from dvx.ops.source import (
    Found,
    GitDirectory,
    Names,
    Source,
    clone_url,
    fetching_once,
    file_url_path,
    holds_commit,
    local_source_top,
    objects_of,
    read_in_place,
    refuse_absolute_path,
    source_path,
)
from dvx.outputs import (
    Output,
    Target,
    check_data_path,
    pointer_change,
    pointer_written,
    same_pointer,
    scan_outputs,
    skip_broken,
    write_pointer,
)
from dvx.paths import (
    POINTER_SUFFIX,
    at_or_below_any,
    for_command,
    from_here,
    refuse_empty,
    relpath_problem,
    repo_relpath,
    safe_join,
)
from dvx.pointer import Pointer
from dvx.remote.backends import (
    DEFAULT_TIMEOUT,
    credentials_in_url,
    local_source_path,
    redact_url,
    redact_urls,
    scheme_of,
    source_fs,
)
from dvx.remote.fs import is_local_url
from dvx.remote.retry import describe, is_timeout
from dvx.repo import Repo
from dvx.scm import holding_index_files
from dvx.stop_signals import stops_held
from dvx.wording import commands_in_a_sentence, counted, named_list
from dvx.workspace import keep_links_on_set_aside

log = get_logger(__name__)


@dataclass
class ImportResult:
    added: AddResult
    checkout: CheckoutResult


# -- from another dvx repository -----------------------------------------------------------

def import_repo(repo: Repo, url: str, path: str, out: str | None = None,
                rev: str | None = None, force: bool = False) -> ImportResult:
    _refuse_credentials(url, _GIT_CREDENTIALS)
    path = _named_in_source(url, path)
    source = Source(url, rev, reader=repo)
    _refuse_own_moving_revision(repo, source, rev)
    found = source.find(path)
    origin = {"repo": _recorded_location(repo, url), "path": found.path}
    rel = _out_path(repo, out, found.path, origin)
    with left_gets_tidied(os.path.dirname(repo.abspath(rel))):
        is_dir = functools.partial(_is_dir, source, found)
        replaced = _refuse_taken(repo, rel, origin, force, is_dir)
        source_info = {**origin, "rev_lock": source.commit or _head_of(source)}
        if rev is not None:
            source_info["rev"] = rev
        pointer = _bring(repo, source, found, source_info, lambda: _import_hashed_otherwise(
            repo, source, found, out, force))
        return _track(repo, rel, pointer.with_user_fields_of(replaced), force,
                      lambda: _refuse_taken_again(repo, rel, origin, force, is_dir, replaced,
                                                  "import"))


def get_repo(url: str, path: str, out: str | None = None, rev: str | None = None,
             force: bool = False) -> str:
    """Copy `path` of the source to `out` (default: its name, in the current directory),
    untracked; the path written."""
    path = _named_in_source(url, path)
    source = Source(url, rev)
    target = _get_target(out, path, force)
    source.refuse_pointer_file(path)  # Git tracks it, but no copy of it tracks data
    try:
        found = source.find(path)
    except PathError:
        directory = source.git_directory(path)  # a directory Git tracks files in
        if directory is not None:
            _get_git_directory(source, directory, target)
            return target
        data = source.git_blob(path.strip("/"))  # a file Git tracks there
        if data is None:
            raise
        _put_in_place(target, lambda built: _write_file(built, data))
        return target
    files = list(source.files_below(found))
    own_remote = found.output.remote
    oids, sizes, names = objects_of(found.path, files)
    source.fetch(oids, sizes, own_remote, names)

    def copy_files(built: str) -> None:
        if not files:  # an empty directory
            os.mkdir(built)
        _copy_objects(source, files, built, own_remote, names)

    _put_in_place(target, copy_files)
    return target


# What PATH of get and import names: never the top, whose files are not one thing to copy.
COPIED = "a file or directory of the repository"
# The hint for an absolute PATH that names the top: get and import copy what is in it.
AT_TOP = ("It names the top of the repository, not a file or directory in it: list what it "
          "holds with `dvx ls URL`.")


def _named_in_source(url: str, path: str) -> str:
    """PATH of get and import, repository-relative (`source_path`); the top is refused: it is
    not one file or directory to copy, and an absolute path too, naming the relative one
    where it leads into the local source at `url`. An empty one is refused as such, never
    read as the top: an unset variable of a script gives it."""
    refuse_empty(path, COPIED)
    refuse_absolute_path(path, local_source_top(url), "PATH names", "Name", at_top=AT_TOP)
    named = source_path(path)
    if not named:
        raise UsageError(f"'{path}' is the top of the repository, not a file or directory in "
                         "it.", "List what it holds with `dvx ls URL`.")
    problem = relpath_problem(named)
    if problem:
        raise PathError(f"Invalid path {quoted(named)}: {problem}.",
                        "Name a path inside the repository, as `dvx ls URL -R` lists them.")
    return named


def _copy_objects(source: Source, files: list[tuple[str, str, int, bool]], built: str,
                  own_remote: str | None, names: Names) -> None:
    """Write each file (path relative to `built`, oid, size, executable) from the cache
    (`own_remote`: the remote their output names, read if the source's copy is damaged;
    `names`: what each is in the source, `objects_of`)."""
    for rel, oid, _, executable in files:
        dst = safe_join(built, rel) if rel else built
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        source.copy_object(oid, dst, own_remote, names)  # checked as it is copied
        if executable:
            os.chmod(dst, fsutil.workspace_mode(True))
        faults.point("get.after_file")


def _get_git_directory(source: Source, directory: GitDirectory, target: str) -> None:
    """Copy a directory Git tracks files in, as `dvx ls -R` lists it: Git's files as Git has
    them at the revision (executable bits kept, a symbolic link written as the link), and
    the data of what dvx tracks inside it."""
    top = directory.path + "/"
    data: dict[str | None, list[tuple[str, str, int, bool]]] = {}  # by the outputs' remote
    for o in directory.outputs:
        data.setdefault(o.remote, []).extend(
            (f"{o.path[len(top):]}/{rel}" if rel else o.path[len(top):], oid, size, executable)
            for rel, oid, size, executable in source.files_below(Found(o, None)))
    names: Names = {}  # what each object is in the source, for an error to name it
    for own_remote, files in data.items():
        oids, sizes, named = objects_of(directory.path, files)
        names.update(named)
        source.fetch(oids, sizes, own_remote, named)

    def copy_files(built: str) -> None:
        os.mkdir(built)
        for path, mode in directory.files:
            dst = safe_join(built, path[len(top):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            content = source.git_file(path)
            if mode == "120000":  # a symbolic link: its content is where it leads
                os.symlink(os.fsdecode(content), dst)
                continue
            _write_file(dst, content)
            if mode == "100755":
                os.chmod(dst, fsutil.workspace_mode(True))
        for own_remote, files in data.items():
            _copy_objects(source, files, built, own_remote, names)

    _put_in_place(target, copy_files)


def _get_target(out: str | None, path: str, force: bool, out_arg: str = "-o") -> str:
    """Where `dvx get` / `get-url` writes (`_resolve_output`); something there already only
    with `force`, and never the current directory or one above it, which replacing would pull
    out from under the user. `out_arg`: how the command's user names `out` (get-url: OUT)."""
    target = os.path.abspath(_resolve_output(out, path.strip("/")) or ".")
    here = os.getcwd()
    if target == here or here.startswith(target.rstrip(os.sep) + os.sep):
        raise PathError(f"'{target}' is the current directory or holds it; it is never "
                        "replaced.", f"Name a new path ({out_arg}).")
    _refuse_own_files(target, out_arg)
    if os.path.lexists(target) and not force:
        raise PathError(f"'{target}' already exists.", f"Choose another {out_arg}, or --force.")
    return target


def _refuse_own_files(target: str, out_arg: str) -> None:
    """`target` is not among the Git's or dvx's own files of the repository here (if any), as
    for `plots show -o`: a download there would replace its configuration or its hooks."""
    from dvx.errors import NotARepoError
    from dvx.own_files import own_files_holding

    try:
        repo = Repo.find()
    except NotARepoError:
        return
    holder = own_files_holding(repo, target)
    if holder is not None:
        raise UsageError(f"'{target}' is inside {holder}, which holds Git's or dvx's own "
                         "files, so nothing was written.", f"Name another path ({out_arg}).")
    repo.exclude_temporaries()  # Git ignores the folder a killed get would leave


def _put_in_place(target: str, fill: Callable[[str], None]) -> None:
    """Build the output at a new name beside `target` (`fill` writes it), then put it in
    place of whatever is at `target`. What was there is moved aside and deleted, never
    written into: a symlink or hard link there leaves the file it shares untouched, and a
    directory is replaced, not merged with the new files. What a killed get left beside it
    is dealt with around it (`left_gets_tidied`)."""
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise PathError(f"Cannot write into '{parent}': {exc.strerror}.") from None
    with left_gets_tidied(parent):
        try:
            scratch = get_scratch.Scratch(target)
        except OSError as exc:
            raise PathError(f"Cannot write into '{parent}': {exc.strerror}.") from None
        try:
            built = os.path.join(scratch.path, get_scratch.BUILT)
            fill(built)
            _swap_in(scratch, built, target)
        finally:
            scratch.drop()


def _swap_in(scratch: get_scratch.Scratch, built: str, target: str) -> None:
    """Move what is at `target` aside into the scratch folder, then `built` into its place.
    Stopped in between (Ctrl-C, SIGTERM, an error), the former content goes back to `target`;
    if it cannot, it stays in the scratch folder, kept past the command, and a warning names
    it: the user's files are never lost."""
    former = os.path.join(scratch.path, get_scratch.FORMER)
    # Stops are held from before the first rename, so none can land where the giving back
    # would be skipped (as one arriving while an error is being handled could); one held
    # once the former content is aside gives it back, then takes effect.
    with stops_held() as held:
        try:
            if os.path.lexists(target):
                os.rename(target, former)
            faults.point("get.between_renames")
            if held:  # decided once: a stop held after the copy is in place finds it done
                _give_back(scratch, former, target)
            else:
                os.rename(built, target)
        except BaseException:
            _give_back(scratch, former, target)
            raise


def _give_back(scratch: get_scratch.Scratch, former: str, target: str) -> None:
    """Put the former content (if any) back at `target` while nothing is there; else say
    where it stays."""
    if not os.path.lexists(former):
        return
    if not os.path.lexists(target):
        with contextlib.suppress(OSError):
            os.rename(former, target)
            return
    scratch.keep()
    shown = os.path.relpath(scratch.path)
    left = get_scratch.LeftFolder(scratch.path, target, holds_former=True)
    log.warning("WARNING: %s", get_scratch.what_to_do(left, shown))


@contextlib.contextmanager
def left_gets_tidied(directory: str) -> Iterator[None]:
    """Around a get or import writing into `directory`: first remove the scratch folders a
    killed `dvx get` left there holding only a partial copy (`_ours_to_remove`); last,
    whether the new copy was written or not, name in a warning those holding what was at the
    path it replaced (never deleted: the user's former output), with a way to keep it that
    is true by then."""
    kept = []
    for left in _ours_to_remove(directory, get_scratch.left_beside(directory)):
        if get_scratch.remove(left):
            log.info("Removed '%s', the partial copy of an interrupted `dvx get`",
                     os.path.relpath(left.path))
        elif left.holds_former:
            kept.append(left)
    try:
        yield
    finally:
        for left in kept:
            log.warning("WARNING: %s", get_scratch.what_to_do(left, os.path.relpath(left.path)))


def _ours_to_remove(directory: str, found: list[get_scratch.LeftFolder]
                    ) -> list[get_scratch.LeftFolder]:
    """Those of the folders `found` in `directory` that a get may remove: none inside data a
    dvx project tracks (a file or stage output, whose files are the data's), nor one holding
    a file Git's index holds (the repository's, a commit or an edit of the user's away):
    such a folder is left as it is."""
    partial = [left for left in found if not left.holds_former]
    if not partial:
        return found
    if _inside_tracked_data(directory):
        return [left for left in found if left.holds_former]
    held = holding_index_files(directory, [os.path.basename(left.path) for left in partial])
    return [left for left in found if os.path.basename(left.path) not in held]


def _inside_tracked_data(directory: str) -> bool:
    """Is `directory` tracked data of the dvx project around it, or inside some? Not outside
    a project; yes where the project's outputs cannot be read (then nothing is removed)."""
    try:
        repo = Repo.find(directory)
    except NotARepoError:
        return False
    try:
        outputs, _ = scan_outputs(repo)
    except DvxError:
        return True
    rel = os.path.relpath(directory, repo.root).replace(os.sep, "/")
    return rel != "." and at_or_below_any(rel, {o.path for o in outputs})


def _head_of(source: Source) -> str:
    """The commit a local source's workspace is on, which its imports record."""
    git = source.repo.git
    assert git is not None
    head = git.head()
    if head is None:
        raise UsageError(f"The source {source.describe()} has no commits yet, and an import "
                         "records the commit its data comes from.",
                         "Commit there first, or copy the data untracked with `dvx get`.")
    return head


def _refuse_own_moving_revision(repo: Repo, source: Source, rev: str | None) -> None:
    """An import from this repository itself at a revision its own commits move is refused:
    committing its pointer (and pushing it) moves that revision on, so `status` would call it
    moved, and `update` rewrite it, for ever. That is, from its own folder at none (which is
    HEAD), the branch checked out or any remote-tracking branch (a push or fetch moves it on,
    whether or not the branch checked out tracks it); from one of its Git remotes (the same
    repository, where its commits are pushed) at none or HEAD (that remote's default branch)
    or the branch the one checked out tracks or is pushed to there."""
    if source.is_local and os.path.realpath(source.repo.root) == os.path.realpath(repo.root):
        at = _own_moving_revision(repo, rev, _upstream(repo))
        which = "this repository itself"
    else:
        remotes = _own_git_remotes(repo, source.url)
        if not remotes:
            return
        moving = _pushed_moving_revision(repo, remotes, rev, _default_branch(source))
        if moving is None:
            return
        at, remote = moving
        which = f"this repository itself (its Git remote '{remote}')"
    if at is None:
        return
    now = source.commit or _head_now(source)
    pin = f" (it is at {now[:7]} now: --rev {now})" if now else ""
    raise UsageError(
        f"An import from {which} at {at} would never be up to date: it records the commit its "
        "data comes from, and committing the import moves that on.",
        f"Pin a version with --rev TAG or --rev COMMIT{pin} (or a branch of yours that stays "
        "where it is), or make the copy data of its own: cp SOURCE OUT && dvx add OUT.")


def _head_now(source: Source) -> str:
    """The commit a local source's workspace is on, "" if none (or not local)."""
    git = source.repo.git if source.is_local else None
    return (git.head() or "") if git is not None else ""


def _own_moving_revision(repo: Repo, rev: str | None, upstream: _Upstream | None
                         ) -> str | None:
    """How the revision `rev` of this repository is named if its own commits move it: it
    starts from HEAD or the branch checked out (`main`, `HEAD~2`, `main^{commit}`, `@`), or
    from the remote-tracking branch of the branch that one tracks (`origin/main`,
    `origin/HEAD` when that is where it leads), which pushing it moves on; `upstream`: what
    the branch checked out tracks (`_upstream`)."""
    head = _branch_of(repo, "HEAD")
    if rev is None:
        return "HEAD (no --rev)"
    base = _revision_base(rev)
    named = _branch_of(repo, base)
    counted = "" if rev == base else "counted from "
    tracking = _tracking_refs(repo, upstream)
    if named in tracking:
        return f"'{rev}' ({counted}{tracking[named]})"
    if named.startswith("refs/remotes/"):
        return (f"'{rev}' ({counted}a remote-tracking branch, which pushing or fetching moves "
                "on)")
    if not head or named != head:
        return None
    if rev == "HEAD":
        return "HEAD"
    if rev == base:
        return f"'{rev}' (the branch checked out)"
    return f"'{rev}' (counted from {'HEAD' if base == 'HEAD' else 'the branch checked out'})"


def _tracking_refs(repo: Repo, upstream: _Upstream | None) -> dict[str, str]:
    """The remote-tracking branches a push of the branch checked out (tracking `upstream`)
    moves on, each with how it is described: that of the branch it tracks
    (`refs/remotes/origin/main`), and the same branch's under every other remote of the same
    URL (the same repository)."""
    if upstream is None:
        return {}
    branch, remote, merge = upstream
    what = (f"the remote-tracking branch of the branch that '{branch}' tracks, which each "
            "push moves on")
    found = {}
    own = _branch_of(repo, "@{upstream}")
    if own.startswith("refs/remotes/"):
        found[own] = what
    for other in _own_git_remotes(repo, _git_config(repo, f"remote.{remote}.url"), repo.root):
        found.setdefault(f"refs/remotes/{other}/{merge.removeprefix('refs/heads/')}", what)
    return found


# (the branch checked out, the Git remote it tracks a branch of, that branch there)
_Upstream = tuple[str, str, str]


def _upstream(repo: Repo) -> _Upstream | None:
    """(the branch checked out, the Git remote it tracks a branch of, that branch as the
    remote names it: "refs/heads/main"), None when it tracks no remote's branch."""
    branch = _branch_of(repo, "HEAD").removeprefix("refs/heads/")
    if not branch or branch == "HEAD":
        return None
    remote = _git_config(repo, f"branch.{branch}.remote")
    merge = _git_config(repo, f"branch.{branch}.merge")
    if not remote or remote == "." or not merge.startswith("refs/heads/"):
        return None
    return branch, remote, merge


def _push_target(repo: Repo) -> _Upstream | None:
    """Like `_upstream`, for where a `git push` of the branch checked out goes when set apart
    from what it tracks, or when it tracks none: the remote branch.NAME.pushRemote, else
    remote.pushDefault, names, and its branch of the same name there; None when neither is
    set."""
    branch = _branch_of(repo, "HEAD").removeprefix("refs/heads/")
    if not branch or branch == "HEAD":
        return None
    remote = (_git_config(repo, f"branch.{branch}.pushRemote")
              or _git_config(repo, "remote.pushDefault"))
    if not remote or remote == ".":
        return None
    return branch, remote, f"refs/heads/{branch}"


def _revision_base(rev: str) -> str:
    """The name the revision expression `rev` starts from, which decides whether commits move
    it: `main` of `main~2`, `main^{commit}`, `main@{1}` and `main:path` (a ref's name holds
    none of ~^: nor @{); HEAD of `@`, `@~1` and of `@{1}` or `@{u}` (the branch checked
    out's); `@{-1}` itself (the branch checked out before); HEAD of `:/text`, which searches
    back from every ref, HEAD too."""
    if rev.startswith(":/"):
        return "HEAD"
    if rev.startswith("@{-") and "}" in rev:
        return rev[:rev.index("}") + 1]
    base = re.split(r"[~^:]|@\{", rev, maxsplit=1)[0]
    return base if base not in ("", "@") else "HEAD"


def _pushed_moving_revision(repo: Repo, remotes: list[str], rev: str | None,
                            remote_head: str) -> tuple[str, str] | None:
    """(how `rev` is named, the remote) when pushing this clone's commits moves the revision
    `rev` of its Git remote (`_remote_moving_revision`): whether the branch checked out
    tracks it there or is pushed there (a pushRemote or pushDefault set apart from what it
    tracks); None when neither moves it."""
    for target in (_upstream(repo), _push_target(repo)):
        at = None if target is None else _remote_moving_revision(remotes, rev, remote_head,
                                                                   target)
        if at is not None and target is not None:
            return at, target[1]
    return None


def _remote_moving_revision(remotes: list[str], rev: str | None, remote_head: str,
                            upstream: _Upstream) -> str | None:
    """How the revision `rev` of this repository's Git remote (named `remotes` here: one
    URL, one repository; whose HEAD follows the branch `remote_head`, "refs/heads/main") is
    named if pushing this clone's commits moves it: the branch the one checked out here
    tracks there (`upstream`), also as HEAD or no --rev."""
    if upstream[1] not in remotes:
        return None
    branch, _, merge = upstream
    base = "HEAD" if rev is None else _revision_base(rev)
    named = {None: "HEAD (no --rev)", "HEAD": "HEAD"}.get(rev, f"'{rev}'")
    if base == "HEAD" and remote_head == merge:
        return f"{named}, the branch that '{branch}' tracks there"
    if base in (merge, merge.removeprefix("refs/heads/")):
        return f"{named} (the branch that '{branch}' tracks there)"
    return None


def _own_git_remotes(repo: Repo, url: str, base: str | None = None) -> list[str]:
    """The names of this repository's Git remotes whose URL is `url` (a local path, from
    `base` or else the current folder, or a `file://` URL as the same folder; a trailing
    slash or `.git` aside)."""
    if repo.git is None or not url:
        return []
    try:
        out = repo.git.run("config", "--get-regexp", r"^remote\..*\.url$")
    except DvxError:
        return []  # no remote
    wanted = _comparable_url(url, base or os.getcwd())
    found = []
    for line in out.decode("utf-8", "replace").splitlines():
        key, _, remote_url = line.partition(" ")
        if _comparable_url(remote_url, repo.root) == wanted:
            found.append(key[len("remote."):-len(".url")])
    return found


def _comparable_url(url: str, base: str) -> str:
    """`url` as two names of one repository compare equal: a local path (relative to
    `base`) made absolute and real, without a trailing slash or `.git` suffix (nor the `.git`
    folder of a work tree)."""
    path = file_url_path(url)
    if _is_local(path, base):
        path = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
    path = path.rstrip("/")
    return path.removesuffix("/.git").removesuffix(".git")


def _git_config(repo: Repo, key: str) -> str:
    """The value of a Git setting of this repository, "" if unset."""
    assert repo.git is not None
    try:
        return repo.git.run("config", "--get", key).decode().strip()
    except DvxError:
        return ""


def _default_branch(source: Source) -> str:
    """The branch the source's HEAD follows ("refs/heads/main"), "" if none: a clone of a
    Git URL keeps it as origin/HEAD (its own HEAD is detached)."""
    if source.is_local:
        return _branch_of(source.repo, "HEAD")
    assert source.repo.git is not None
    try:
        out = source.repo.git.run("symbolic-ref", "-q", "refs/remotes/origin/HEAD")
    except DvxError:
        return ""
    return "refs/heads/" + out.decode().strip().removeprefix("refs/remotes/origin/")


def _branch_of(repo: Repo, rev: str) -> str:
    """The ref `rev` follows ("refs/heads/main"; "HEAD" for a detached HEAD), "" for none (a
    tag's or a commit's)."""
    assert repo.git is not None
    try:
        out = repo.git.run("rev-parse", "--symbolic-full-name", "--end-of-options", rev)
    except DvxError:
        return ""
    # Git before 2.45 also prints the --end-of-options it was given
    return "\n".join(line for line in out.decode().splitlines() if line != "--end-of-options")


def _bring(repo: Repo, source: Source, found: Found, info: dict[str, str],
           hashed_otherwise: Callable[[], UsageError]) -> Pointer:
    """Put the objects of `found` into the repository's cache; the pointer naming them.
    `hashed_otherwise`: the refusal where the source hashes with another algorithm than this
    repository, whose pointers all name objects by its own (core.hash): an import would
    track objects none of them can name."""
    if source.repo.algo != repo.algo:
        raise hashed_otherwise()
    files = list(source.files_below(found))
    oids, sizes, names = objects_of(found.path, files)
    source.bring(oids, sizes, found.output.remote, names)
    provenance = tuple(sorted(info.items()))
    if len(files) == 1 and files[0][0] == "" and not _is_dir(source, found):
        _, oid, size, executable = files[0]
        return Pointer("file", repo.algo, oid, size, executable=executable, source=provenance)
    tree = Tree.build(repo.algo, [TreeEntry(rel, oid, size, executable)
                                  for rel, oid, size, executable in files])
    manifest = tree.to_bytes()
    oid = tree.oid()
    if not repo.cache.exists(oid):
        repo.cache.add_bytes_verified(manifest, oid)
    return Pointer("dir", repo.algo, oid, tree.size, tree.nfiles, source=provenance)


def _get_command(source: Source, path: str, out: str | None, force: bool = False) -> str:
    """The `dvx get` that copies `path` of the source to `out` (as the user typed it), at
    the revision read, untracked."""
    options = [f"-o {shell_quote(out)}" if out is not None else "",
               f"--rev {shell_quote(source.requested_rev)}" if source.requested_rev else "",
               "--force" if force else ""]
    return f"dvx get {pasted_args(source.url, path, options=' '.join(filter(None, options)))}"


def _import_hashed_otherwise(repo: Repo, source: Source, found: Found, out: str | None,
                             force: bool) -> UsageError:
    """An import's refusal of a source hashing with another algorithm: an untracked copy
    needs no match (the user's own arguments kept), and a repository that tracks no data
    yet may take the source's algorithm, set where each level that sets another would
    override it; one whose data has the source's algorithm, while the user's own config
    sets another, hashes with it once that setting is fixed where it is."""
    algo = source.repo.algo
    ways = [f"`{_get_command(source, found.path, out, force)}` copies it here without "
            "tracking its source"]
    recorded = repo.recorded_algorithms if repo.git is not None else {}
    own = repository_algorithm(repo.config, recorded)
    if repo.git is None or not recorded:
        tracks = "while" if repo.git is None else "as"
        switch = commands_in_a_sentence(switch_fixes(repo.config, algo))
        ways.append(f"{tracks} this repository tracks no data yet, make it hash as the "
                    f"source does ({switch}), and the import then works")
    elif own.algo == algo and repo.config.where("core", "hash") in PERSONAL:
        fixes = commands_in_a_sentence(own_setting_fixes(repo.config, algo), "or")
        ways.append(f"this repository's data is named by {algo} as the source's is ("
                    f"{own.why}) while {setting_named(repo.config, repo.algo)}: hash with it "
                    f"({fixes}), and the import then works")
    return UsageError(
        f"{source.describe()} hashes with {algo}, this repository with {repo.algo}: its data "
        "cannot be imported as is.", f"{'; or, '.join(ways)}.")


def _as_own_data(repo: Repo, source: Source, output: Output) -> str:
    """The commands that replace the import `output` with the source's data at the
    revision read, tracked as this repository's own (hashed by its algorithm), no longer
    updated from the source; the data removed first is in the cache."""
    path = (output.pointer.source_info or {}).get("path", "")
    return (f"`dvx remove --outs {for_command(repo.root, output.pointer_path)} && "
            f"{_get_command(source, path, from_here(repo.root, output.path))} && "
            f"dvx add {for_command(repo.root, output.path)}`")


def _update_hashed_otherwise(repo: Repo, source: Source, output: Output) -> UsageError:
    """An update's refusal of a source that now hashes with another algorithm: the import
    keeps its version, and the source's data can be this repository's own instead. The
    repository tracks the import, so taking the source's algorithm is no way out."""
    rev_lock = (output.pointer.source_info or {}).get("rev_lock", "")
    return UsageError(
        f"{source.describe()} now hashes with {source.repo.algo}, this repository with "
        f"{repo.algo}, so its new data cannot be imported: '{output.path}' keeps the version "
        f"it has ({rev_lock[:7]}).",
        "To keep the source's data as this repository's own instead, no longer updated from "
        f"its source: {_as_own_data(repo, source, output)}.")


def _data_oid(source: Source, found: Found) -> str:
    """The oid an import of `found` records (as `_bring` makes it), without its objects."""
    if found.subpath is None:
        return found.output.pointer.oid
    files = list(source.files_below(found))
    if len(files) == 1 and files[0][0] == "" and not _is_dir(source, found):
        return files[0][1]
    return Tree.build(source.repo.algo, [TreeEntry(rel, oid, size, executable)
                                         for rel, oid, size, executable in files]).oid()


def _is_dir(source: Source, found: Found) -> bool:
    if found.subpath is None:
        return found.output.pointer.is_dir
    return source.tree(found.output).get(found.subpath) is None


# -- from a URL -----------------------------------------------------------------------------

# What a server reports to tell one content from another: a marker of the content itself,
# else the modification time (with the size); fsspec names them after each protocol.
_CONTENT_MARKERS = ("ETag", "etag", "md5", "checksum", "crc32c")
_TIME_MARKERS = ("mtime", "LastModified", "last_modified", "Last-Modified")
_NO_MARKER = "-None"  # the suffix of `<size>-<mtime>` when the server reports no mtime


def url_timeout(config: Config) -> float:
    """Seconds a request to a source URL may wait for an answer, or for the next byte of
    one, before it fails (`core.url_timeout`), as `remote.NAME.timeout` is a remote's."""
    return config.get_float("core", "url_timeout", DEFAULT_TIMEOUT)


def url_version(url: str, command: str = "import-url", timeout: float = DEFAULT_TIMEOUT
                ) -> tuple[Any, str, str]:
    """(filesystem, path, version) of the file at `url`: the version is what its server
    reports to tell one content from another (an ETag, a checksum, or size and mtime;
    `<size>-None` when it reports none of them, see `_tells_changes`). Its client gives up
    on a request after `timeout` seconds without an answer (`url_timeout`)."""
    refuse_empty(url, "a URL")
    shown = redact_url(url)
    try:
        fs, path = source_fs(url, timeout, **_url_options(url))  # SSH logs in here
        info = fs.info(path)
    except DvxError:
        raise
    except Exception as exc:  # a client library's own failure, as a download's (below)
        raise _failed_request(shown, exc, "Cannot reach") from None
    if info.get("type") == "directory":
        raise PathError(f"'{shown}' is a directory; {command} takes one file.")
    for key in _CONTENT_MARKERS:
        if info.get(key):
            return fs, path, str(info[key]).strip('"')
    mtime = next((info[key] for key in _TIME_MARKERS if info.get(key)), None)
    return fs, path, f"{info.get('size')}-{mtime}"


def _url_options(url: str) -> dict[str, Any]:
    """An HTTP(S) URL is read with ~/.netrc's credentials for its host (and the environment's
    proxies), as curl and git read it: the way to give a password that a pointer must not
    record (`_refuse_credentials`)."""
    if scheme_of(url) in ("http", "https"):
        return {"client_kwargs": {"trust_env": True}}
    return {}


# Where the credentials of a source go instead of its URL: of a plain URL (import-url), as
# its client library reads them; of a Git repository (import), as Git reads them.
_URL_CREDENTIALS = ("for HTTP(S), put the credentials in ~/.netrc (`machine HOST login USER "
                    "password ...`), which import-url and update read; for SSH, your agent or "
                    "~/.ssh; for S3, the AWS_* variables or ~/.aws/credentials.")
_GIT_CREDENTIALS = ("for HTTP(S), Git takes the password or token from a Git credential "
                    "helper (`git help credentials`; a user name may stay in the URL), as "
                    "for `git clone`, and so does update; for SSH, your agent or ~/.ssh.")
def _refuse_credentials(url: str, way_out: str) -> None:
    """A pointer is committed: a password in its URL, or an access token given as its user
    name, would be in Git's history for good, so it is refused, as `dvx remote add` refuses
    them for the tracked config. `way_out`: where the credentials go instead."""
    held = credentials_in_url(url)
    if held is not None:
        raise UsageError(f"The URL contains {held}, which would be stored in plain text in "
                         "the pointer file that Git tracks.",
                         f"Give the URL without it: {way_out}")


def _tells_changes(version: str | None) -> bool:
    """Whether a recorded or reported version can tell a new content from the old one: a
    size alone cannot (a new version of the same size), so such a source is downloaded
    again and its data compared instead."""
    return bool(version) and not str(version).endswith(_NO_MARKER)


def _untold(recorded: str | None, reported: str) -> str:
    """Why comparing the recorded version with the reported one cannot tell a change, or
    "" when it can."""
    if not _tells_changes(reported):
        return "its server reports neither an ETag nor a modification time"
    if not _tells_changes(recorded):
        return ("its pointer records neither an ETag nor a modification time older than its "
                "download")
    return ""


# How far the clock of a source's server may be from ours, in seconds: a modification time
# it reports is judged against our clock (fsspec passes on no Date header to compare with).
_CLOCK_SKEW = 5.0


def _recordable(version: str, url: str, started: float) -> str:
    """The version to record for data downloaded after `started` (our clock, read before the
    version was asked for). A modification time not strictly older than that moment tells
    nothing, as Git's index calls such an entry racy: the source may be written again after
    the download within the same second (HTTP's Last-Modified and SFTP's times are in whole
    seconds), at the same size, and report the same version. It is recorded as no version
    (`<size>-None`), so `status` warns and `update` downloads again to compare, and records
    the version once it is old enough to tell. A time from our own clock (a local file's)
    needs no allowance for skew."""
    stamp = _version_time(version)
    if stamp is None:
        return version  # an ETag or checksum, or no time at all
    when, resolution = stamp
    skew = 0.0 if is_local_url(url) else _CLOCK_SKEW
    if when + resolution + skew < started:
        return version
    return f"{version.partition('-')[0]}{_NO_MARKER}"


def _version_time(version: str) -> tuple[float, float] | None:
    """(seconds since the epoch, resolution) of the modification time in a `<size>-<mtime>`
    version as `url_version` writes it: a local file's (a float), SFTP's (ISO 8601) or an
    HTTP Last-Modified (RFC 9110); None for any other version."""
    size, _, text = version.partition("-")
    if not (size.isdigit() or size == "None") or not text:
        return None
    try:
        when = float(text)
    except ValueError:
        try:
            when = _parsed_date(text).timestamp()
        except (ValueError, TypeError, IndexError):
            return None
    return when, 1.0 if when.is_integer() else 0.0


def _parsed_date(text: str) -> datetime.datetime:
    """A date as ISO 8601 or as an HTTP date; one without a time zone is in UTC."""
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


_AWS_CREDENTIALS = ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or "
                    "~/.aws/credentials (AWS_PROFILE names a profile)")
# Where the client of a source URL's kind takes its credentials from (a pointer records none).
_CREDENTIALS_FROM = {"s3": _AWS_CREDENTIALS, "ssh": "your SSH agent and ~/.ssh",
                     "sftp": "your SSH agent and ~/.ssh"}


def _no_credentials(shown: str, exc: Exception) -> DvxError:
    """The one error for a source URL read without credentials (as `no_credentials` is for
    a remote): a pointer records no options, so they come from where the client looks."""
    return DvxError(f"No credentials for '{shown}': {describe(exc)}.",
                    f"Give them as {_AWS_CREDENTIALS}.")


def _refused(shown: str, exc: PermissionError) -> DvxError:
    """A store that refused the request (S3's 403: a wrong secret, a key that may not read
    there): its credentials are the way out, never the network; a local file's permissions
    are that file's."""
    if is_local_url(shown):
        return DvxError(f"'{shown}' may not be read ({describe(exc)}).",
                        "Check its permissions, and those of the folders above it.")
    reason = redact_urls(str(exc.strerror or exc))
    given = _CREDENTIALS_FROM.get(scheme_of(shown), "where its client library looks")
    return DvxError(f"The server of '{shown}' refused access: {reason}.",
                    f"Check the credentials and that they may read it; they are taken from "
                    f"{given}.")


def _failed_request(shown: str, exc: Exception, failed: str) -> DvxError:
    """The one error for a request to a source URL that failed, whatever client library
    raised it (aiohttp's errors, for one, are no OSError): `failed` begins the sentence
    ("Cannot reach", "Could not download") when neither a missing file, a server's answer,
    missing or refused credentials nor a server that stopped answering explain it."""
    from dvx.remote.fs import is_credentials_error

    if _timed_out(exc):
        return DvxError(f"{failed} '{shown}': its server stopped answering (timed out).",
                        "Check the URL and the network, or try again later; "
                        "`core.url_timeout` sets how many seconds dvx waits for an answer "
                        f"(default {DEFAULT_TIMEOUT:g}).")
    if isinstance(exc, FileNotFoundError):
        return _not_found(shown, exc)
    if is_credentials_error(exc):  # S3 without a key or its secret
        return _no_credentials(shown, exc)
    if isinstance(exc, PermissionError):
        return _refused(shown, exc)
    status = getattr(exc, "status", None)
    if isinstance(status, int):  # the server answered, with an error
        return _answered(shown, exc)
    return DvxError(f"{failed} '{shown}': {describe(exc)}.",
                    "Check the URL and the network, or try again later.")


def _timed_out(exc: BaseException) -> bool:
    """Whether the request got no answer, or no next byte of it, in time: fsspec's HTTP
    client reports that as a missing file (`_not_found`), the timeout its cause."""
    return is_timeout(exc) or (isinstance(exc, FileNotFoundError)
                               and exc.__cause__ is not None and is_timeout(exc.__cause__))


_SHOWN_OF_AN_ANSWER = 100  # characters of what could not be read as a server's answer


def _answered(shown: str, answer: BaseException) -> DvxError:
    """The server's answer, an error. One that could not be read as an answer at all is
    aiohttp's parse error (its status 400 is aiohttp's own, not the server's), whose text
    quotes the bytes it could not read: only its first line is shown."""
    message = str(getattr(answer, "message", ""))
    if _unreadable(answer):
        line = message.splitlines()[0] if message else ""
        why = "".join(c if c.isprintable() else "?" for c in line).rstrip(": ")
        if len(why) > _SHOWN_OF_AN_ANSWER:
            why = why[:_SHOWN_OF_AN_ANSWER] + "..."
        return DvxError(f"The answer of the server of '{shown}' could not be read: "
                        f"{why or 'not HTTP'}.",
                        "A server that sends more bytes than its Content-Length says does "
                        "this; try again later, or ask its owner.")
    status = f"{getattr(answer, 'status', '')} {message}".strip()
    return DvxError(f"The server of '{shown}' answered {status}.",
                    "Check the URL and its credentials, or try again later.")


def _unreadable(answer: BaseException) -> bool:
    """Whether `answer` is aiohttp's failure to parse what the server sent (an
    HttpProcessingError, or the ClientResponseError it raises from one)."""
    return any(type(error).__module__ == "aiohttp.http_exceptions"
               for error in (answer, answer.__cause__) if error is not None)


def _not_found(shown: str, exc: FileNotFoundError) -> DvxError:
    """fsspec's HTTP filesystem reports any failed answer as a missing file: the server's
    answer (a 500, a 403) or the failure to reach it is what the person needs to know."""
    cause = exc.__cause__
    status = getattr(cause, "status", None)
    if cause is None or status in (404, 410):
        return PathError(f"Nothing at '{shown}'.")
    if status is not None:
        return _answered(shown, cause)
    if isinstance(cause, PermissionError):
        return _refused(shown, cause)
    return DvxError(f"Cannot reach '{shown}': {describe(cause)}.",
                    "Check the URL and the network.")


def import_url(repo: Repo, url: str, out: str | None = None, force: bool = False
               ) -> ImportResult:
    _refuse_credentials(url, _URL_CREDENTIALS)
    started = time.time()
    fs, path, version = url_version(url, timeout=url_timeout(repo.config))
    origin = {"url": _recorded_location(repo, url)}
    rel = _out_path(repo, out, _url_name(url, path, out), origin)
    with left_gets_tidied(os.path.dirname(repo.abspath(rel))):
        replaced = _refuse_taken(repo, rel, origin, force, _a_file, "OUT")
        pointer = _download_url(repo, fs, path, _recorded_location(repo, url),
                                _recordable(version, url, started))
        return _track(repo, rel, pointer.with_user_fields_of(replaced), force,
                      lambda: _refuse_taken_again(repo, rel, origin, force, _a_file, replaced,
                                                  "import-url", "OUT"))


def _a_file() -> bool:
    """An import of a URL is a file, never a folder (`_refuse_taken`'s `is_dir`)."""
    return False


def get_url(url: str, out: str | None = None, force: bool = False,
            timeout: float = DEFAULT_TIMEOUT) -> str:
    fs, path, _ = url_version(url, "get-url", timeout)
    target = _get_target(out, _url_name(url, path, out), force, "OUT")
    _put_in_place(target, lambda built: _download(fs, path, url, built))
    return target


def _url_name(url: str, path: str, out: str | None) -> str:
    """The name of the file at `url` (`path` of its filesystem), which it is downloaded to
    without OUT (or into an OUT that is a directory): the last part of its path, as DVC names
    it. An HTTP URL's query string is no part of it: a token there would be shown, and
    written into .gitignore and the pointer's name, and a signature makes too long a name.
    A URL whose path names no file (`http://host/`) has no such name: OUT gives one."""
    if scheme_of(url) in ("http", "https"):
        path = urlsplit(path).path
    name = posixpath.basename(path.rstrip("/"))
    if not name and (out is None or _names_directory(out)):
        raise UsageError(f"The URL '{redact_url(url)}' names no file name to download it to.",
                         "Give OUT, the path of the file to download it to.")
    return name


def _download(fs: Any, path: str, url: str, local: str) -> None:
    """Download the file at `url` (`path` of `fs`) to `local`, held (`fsutil.hold`) while it
    is written; any failure to read it (an error answer after a good HEAD, a body cut short)
    is a DvxError naming the URL, and what `local` holds then is for the caller to discard,
    never to use. A failure to write `local` is an OSError naming it."""
    with open(local, "wb") as sink:
        fsutil.hold(sink.fileno())
        for block in _blocks(fs, path, url):
            with fsutil.writing(local):
                sink.write(block)
            faults.point("import_url.after_block")


def _blocks(fs: Any, path: str, url: str) -> Iterator[bytes]:
    """The file's bytes, read as a remote's objects are (`Blobs.read_into`): blocks of a
    bounded size, so a large file never sits in memory whole (s3fs's get_file holds up to
    ten parts of 50 MiB at once). An HTTP server is read as one stream: it may take no
    ranges."""
    block_size = 0 if scheme_of(url) in ("http", "https") else STREAM_BLOCK
    try:
        with fs.open(path, "rb", block_size=block_size) as source:
            while block := source.read(CHUNK_SIZE):
                yield block
    except Exception as exc:
        raise _failed_request(redact_url(url), exc, "Could not download") from None


def _download_url(repo: Repo, fs: Any, path: str, url: str, version: str) -> Pointer:
    """Download the file into the cache, through a temporary in the cache's tmp/: one a
    killed command leaves there is removed by a later fetch, pull or gc once an hour old
    (`remove_stale_temporaries`), as are those of the other commands."""
    tmp = repo.cache.temporary("import-url")
    try:
        _download(fs, path, _location(repo, url), tmp)
        keep_links_on_set_aside(repo)
        ingested = repo.cache.add_file(tmp, ("hardlink", "copy"))
    except OSError as exc:
        raise DvxError(f"Could not add the download of '{redact_url(url)}' to the cache: "
                       f"{redact_urls(str(exc))}.") from None
    finally:
        fsutil.drop_temporary(tmp)
    return Pointer("file", repo.algo, ingested.oid, ingested.size,
                   source=tuple(sorted({"url": url, "etag": version}.items())))


# -- update ---------------------------------------------------------------------------------

@dataclass
class Updated:
    path: str
    changed: bool  # its data changed
    detail: str  # what it was updated to, or why it stayed
    ok: bool = True  # False: the workspace does not hold the data (a copy was kept, say)
    rewritten: bool = False  # its pointer file changed: new data, or a new source commit
    failed: bool = False  # its source could not be read: nothing changed, `detail` says why
    staged: bool = False  # its rewritten pointer file is staged in Git (core.autostage)


class UpdateInterrupted(Interrupted):
    """An update stopped by Ctrl-C, SIGTERM or SIGHUP: `updated` holds the imports it updated
    before, then the one it was updating, for the command to report."""

    def __init__(self, message: str, hint: str | None = None,
                 updated: list[Updated] | None = None) -> None:
        super().__init__(message, hint)
        self.updated = updated or []


@fetching_once()
def update(repo: Repo, targets: list[str] | None = None, rev: str | None = None,
           force: bool = False) -> list[Updated]:
    """Bring each import up to date. One whose source has nothing new is still finished: what
    the cache lacks is fetched from the source and what the workspace lacks is checked out
    (a clone whose imports were never pushed, an update cut short), so a rerun completes.
    One that fails (its source gone, the revision it records unknown) is reported as failed
    and the others are still updated, as `pull` goes on past a file it cannot get. Ctrl-C,
    SIGTERM or SIGHUP stops it at once: the Interrupted raised says what became of the import
    it was updating, and its `updated` holds the imports done before and that one
    (UpdateInterrupted)."""
    imports = _imports(repo, targets)
    _check_rev(repo, imports, rev)
    left_by_stopped = _worked_on_by_stopped_commands(repo)
    results: list[Updated] = []
    for at, output in enumerate(imports):
        try:
            with _recorded_as_updating(repo, output):
                results.append(_update_one(repo, output, rev, force, left_by_stopped(output)))
        except (Interrupted, KeyboardInterrupt) as exc:
            # Ctrl-C outside a transfer or a lock section (a source being cloned) arrives
            # bare: said as one inside them is, so the imports done are still reported.
            raise _stopped_updating(repo, _said_as_interrupted(exc), output, results,
                                    imports[at + 1:]) from None
        except DvxError as exc:
            if rev is not None and isinstance(exc, UsageError):
                # --rev names a revision of their one source (_check_rev): refused for one
                # (unknown, say), it is refused for each, a bad argument of the command's.
                raise
            why = f"{exc.message} {exc.hint}" if exc.hint else exc.message
            results.append(Updated(output.path, False, f"not updated: {why}", ok=False,
                                   failed=True))
        except Exception as exc:
            if stop_within(exc) is None:  # else a Ctrl-C that Python's machinery wrapped
                raise
            raise _stopped_updating(repo, _said_as_interrupted(exc), output, results,
                                    imports[at + 1:]) from None
    return results


def _said_as_interrupted(exc: BaseException) -> Interrupted:
    """The Interrupted that says the Ctrl-C, SIGTERM or SIGHUP `exc` is or wraps
    (`stop_within`): `exc`'s own where it is one already."""
    stop = stop_within(exc) or exc
    return stop if isinstance(stop, Interrupted) else interruption(stop, ".")


@contextlib.contextmanager
def _recorded_as_updating(repo: Repo, output: Output) -> Iterator[None]:
    """While the import `output` is updated, the repository lock records this update's work
    (`Repo.command`) as that import alone, in the state the command brings it to: stopped
    there, the update left the imports before it done and those after it untouched, so an
    update or a checkout of that one import, ended without an error, finishes it."""
    command = repo.command
    if command is None or command.work is None:
        yield
        return
    repo.command = replace(command, work=Work(command.work.state, (
        os.path.normpath(repo.abspath(output.path)),)))
    try:
        yield
    finally:
        repo.command = command


def _stopped_updating(repo: Repo, stopped: Interrupted, output: Output, done: list[Updated],
                      not_reached: list[Output]) -> UpdateInterrupted:
    """The UpdateInterrupted of an update stopped while it updated the import `output`, the imports
    `done` before it and those `not_reached` after: what became of that one (its pointer file
    rewritten already, or not), and which were not updated; its `updated`, `done` and that one
    (`rewritten` when its pointer file was), for the command to report."""
    pointer_rel = output.path + POINTER_SUFFIX
    rewritten = pointer_change(repo, output.path, output.pointer) is not None
    if rewritten:
        what = f"'{pointer_rel}' names the data it was being updated to already"
    else:
        what = "it was not updated"
    before = f", before {_named([o.path for o in not_reached])}" if not_reached else ""
    stop = STOPPED_BY.get(stopped.exit_code, "Interrupted")
    message = " ".join(filter(None, [f"{stop} while updating '{output.path}'{before}: {what}.",
                                     _what_the_stop_left(stopped, stop)]))
    exc = UpdateInterrupted(message, stopped.hint, [
        *done, Updated(output.path, rewritten, f"stopped: {what}", ok=False,
                       rewritten=rewritten)])
    exc.exit_code = stopped.exit_code
    return exc


def _what_the_stop_left(stopped: Interrupted, stop: str) -> str:
    """What `stopped` says after its "Interrupted: " (`stop`), as a sentence of its own
    ("1 of 4 objects were downloaded ..."): "" when it says no more."""
    detail = stopped.message.removeprefix(stop).removeprefix(":").strip()
    if detail in ("", "."):
        return ""
    return detail[0].upper() + detail[1:]


def _check_rev(repo: Repo, imports: list[Output], rev: str | None) -> None:
    """`--rev` names a revision of one repository: refused, before anything changes, for
    imports from URLs or from more than one repository (with no target, every import)."""
    if rev is None:
        return
    infos = [o.pointer.source_info or {} for o in imports]
    if any("repo" not in info for info in infos):
        raise UsageError("--rev applies to imports from repositories, not from URLs.")
    sources = sorted({_source_id(repo, info["repo"]) for info in infos})
    if len(sources) > 1:
        raise UsageError(f"--rev names a revision of one source, and these imports come from "
                         f"{len(sources)}: {', '.join(repr(s) for s in sources)}.",
                         "Name the pointers of one source's imports: `dvx update PATH.dvx "
                         "--rev REV`.")


def _worked_on_by_stopped_commands(repo: Repo) -> Callable[[Output], bool]:
    """Whether a command stopped before it finished (killed) was working on an output: read
    before this update takes the lock, whose end forgets the commands it finishes."""
    works = [c.work for c in stopped_commands(repo.tmp_dir) if c.work is not None]

    def worked_on(output: Output) -> bool:
        full = os.path.normpath(repo.abspath(output.path))
        return any(work.paths is None or any(
            full == path or full.startswith(path.rstrip(os.sep) + os.sep)
            for path in work.paths) for work in works)

    return worked_on


def _update_one(repo: Repo, output: Output, rev: str | None, force: bool,
                left_by_stopped: bool = False) -> Updated:
    """Update one import; `left_by_stopped`: a stopped command was working on it, and may
    have rewritten its pointer already (`_restore`)."""
    info = output.pointer.source_info or {}
    if "repo" in info:
        wanted = rev or info.get("rev")
        source = Source(_location(repo, info["repo"]), wanted, reader=repo)
        _refuse_own_moving_revision(repo, source, wanted)
        commit = source.commit or _head_of(source)
        found = source.find(info["path"])

        def hashed_otherwise() -> UsageError:
            return _update_hashed_otherwise(repo, source, output)

        if commit == info["rev_lock"] and wanted == info.get("rev") and (
                source.commit is not None or _data_oid(source, found) == output.pointer.oid):
            _bring(repo, source, found, info, hashed_otherwise)
            return _restore(repo, output, f"up to date ({commit[:7]})", force,
                            left_by_stopped)
        new_info = {"repo": info["repo"], "path": info["path"], "rev_lock": commit}
        if wanted is not None:
            new_info["rev"] = wanted
        pointer = _bring(repo, source, found, new_info, hashed_otherwise)
        detail = f"now at {commit[:7]}" + (" and its workspace" if source.commit is None
                                           else "")
    else:
        started = time.time()
        fs, path, version = url_version(_location(repo, info["url"]),
                                        timeout=url_timeout(repo.config))
        untold = _untold(info.get("etag"), version)
        current = not untold and version == info.get("etag")
        if current and repo.cache.exists(output.pointer.oid):
            return _restore(repo, output, "up to date", force, left_by_stopped)
        pointer = _download_url(repo, fs, path, info["url"],
                                _recordable(version, info["url"], started))
        if current and pointer.oid == output.pointer.oid:  # was missing from the cache
            return _restore(repo, output, "up to date", force, left_by_stopped)
        detail = (f"downloaded again to compare ({untold})" if untold
                  else f"new version {version}")
    pointer = pointer.with_user_fields_of(output.pointer)
    changed = pointer.oid != output.pointer.oid
    staged = False
    if pointer != output.pointer:
        tracked = _track(repo, output.path, pointer, force,
                         lambda: _refuse_changed(repo, output.path, output.pointer, "update"))
        done, staged = tracked.checkout, bool(tracked.added.staged)
    else:
        done = _check_out_as_read(repo, output, force)
    return Updated(output.path, changed, _kept(
        detail if changed else f"{detail}; the data is the same", done), done.ok,
        rewritten=pointer != output.pointer, staged=staged)


def _restore(repo: Repo, output: Output, detail: str, force: bool,
             left_by_stopped: bool = False) -> Updated:
    """An import whose pointer is current: its data checked out where the workspace lacks
    it, under checkout's safety rule. When a stopped command was working on it
    (`left_by_stopped`: an update killed after it rewrote the pointer), its pointer file is
    staged or named for `git add` if it differs from Git's index, as that update would have
    done."""
    done = _check_out_as_read(repo, output, force)
    if done.restored:
        detail += f"; {counted(len(done.restored), 'file')} restored"
    staging = _pointer_unrecorded(repo, output) if left_by_stopped else Staging()
    return Updated(output.path, False, _kept(detail, done), done.ok,
                   rewritten=bool(staging.staged or staging.to_stage),
                   staged=bool(staging.staged))


def _pointer_unrecorded(repo: Repo, output: Output) -> Staging:
    """The pointer file of an import, staged (core.autostage) or named for `git add` if it
    differs from what Git's index holds."""
    with repo.lock(stages_in_git=True):
        return stage_for_git(repo, [output.path + POINTER_SUFFIX])


def _check_out_as_read(repo: Repo, output: Output, force: bool) -> CheckoutResult:
    """Check out the import `output` as update read it, refused (`_refuse_changed`) if its
    pointer file changed since: the data it names now is not this update's to place."""
    def as_read() -> list[Target]:
        _refuse_changed(repo, output.path, output.pointer, "update")
        return [Target(output)]

    return checkout(repo, as_read, force=force)


def _kept(detail: str, done: CheckoutResult) -> str:
    """`detail`, and which files of the import the workspace kept and why (a directory's
    other files were updated all the same)."""
    by_reason: dict[str, list[str]] = {}
    for path, why in done.skipped:
        by_reason.setdefault(why, []).append(path)
    for why, paths in by_reason.items():
        detail += f"; the workspace copy of {_named(paths)} was kept: {why}"
    if done.missing:
        detail += f"; {_named(done.missing)} not checked out: {OBJECT_MISSING}"
    return detail


_NAMED = 10  # files named in one line of the report, which stays one line


def _named(paths: list[str]) -> str:
    return named_list(paths, most=_NAMED, name=lambda p: f"'{p}'")


@dataclass(frozen=True)
class SourceCheck:
    path: str
    moved: bool  # False: up to date, or could not be checked (`detail` says which)
    detail: str
    # False: the source moved to a commit that no longer tracks the import's path, which
    # `dvx update` then cannot bring
    updatable: bool = True
    # The check failed (`detail` says why): `dvx update` meets the same refusal
    failed: bool = False


@fetching_once()
def check_sources(repo: Repo, outputs: list[Output]) -> list[SourceCheck]:
    """For each import among `outputs` whose source moved on (a new commit for its revision,
    a new version of its URL) or could not be reached, what is the case."""
    found = []
    for output in outputs:
        info = output.pointer.source_info
        if info is None:
            continue
        where = _local_outside(repo, info.get("repo") or info["url"])
        try:
            if "repo" in info:
                source = Source(_location(repo, info["repo"]), info.get("rev"), reader=repo)
                _refuse_own_moving_revision(repo, source, info.get("rev"))
                commit = source.commit or _head_of(source)
                if commit != info["rev_lock"]:
                    moved = f"its source moved ({info.get('rev') or 'HEAD'} is now " \
                        f"{commit[:7]}, was {info['rev_lock'][:7]})"
                    gone = not source.tracks(info["path"])
                    if gone:
                        moved += f" and no longer tracks '{info['path']}' there, so `dvx " \
                            "update` cannot bring it"
                    elif source.repo.algo != repo.algo:
                        moved += _moved_to_another_algorithm(repo, source, output)
                    found.append(SourceCheck(output.path, True, moved + where, updatable=not (
                        gone or source.repo.algo != repo.algo)))
                elif source.commit is None and _data_oid(
                        source, source.find(info["path"])) != output.pointer.oid:
                    found.append(SourceCheck(output.path, True, (
                        "its source's workspace holds other data than this import, at the "
                        f"same commit ({commit[:7]}){where}")))
            else:
                version = url_version(_location(repo, info["url"]),
                                      timeout=url_timeout(repo.config))[2]
                untold = _untold(info.get("etag"), version)
                if untold:
                    found.append(SourceCheck(output.path, False, (
                        f"whether its source URL changed cannot be told ({untold}); "
                        f"`dvx update {for_command(repo.root, output.pointer_path)}` downloads "
                        f"it again to compare{where}")))
                elif version != info.get("etag"):
                    found.append(SourceCheck(output.path, True,
                                             f"its source URL has a new version{where}"))
        except Interrupted:
            raise
        except DvxError as exc:
            found.append(SourceCheck(output.path, False,
                                     f"its source could not be checked: {exc.message}",
                                     failed=True))
    return found


def _moved_to_another_algorithm(repo: Repo, source: Source, output: Output) -> str:
    """What status adds for an import whose source moved to another hash algorithm than
    this repository's: `dvx update` refuses it, and what can be done instead."""
    return (f" and now hashes with {source.repo.algo}, this repository with {repo.algo}, so "
            "`dvx update` cannot bring it; to keep the source's data as this repository's "
            f"own instead, no longer updated from its source: "
            f"{_as_own_data(repo, source, output)}")


def _imports(repo: Repo, targets: list[str] | None) -> list[Output]:
    """The imports among `targets` (all without them), each once in the order first named
    (`images.dvx images` names one import twice: updated twice, the second would find its
    pointer changed by the first). A pointer file that cannot be read (a merge conflict) may
    be an import: a target it is fails with its error, and any other is noted as skipped, so
    the command ends with exit status 1 rather than call it current."""
    outputs, broken = scan_outputs(repo)
    broken = [item for item in broken if item.data_path is not None]  # not dvx.lock's stages
    imports = [o for o in outputs if o.pointer.source is not None]
    rels = [_target_rel(repo, target) for target in targets or ()]
    for item in broken:
        if any(item.touches(rel) for rel in rels):
            raise item.error
    skip_broken(repo, broken)
    if not targets:
        return imports
    by_path = {o.path: o for o in imports}
    chosen: dict[str, Output] = {}
    for target, rel in zip(targets, rels, strict=True):
        if rel not in by_path:
            if not any(os.path.lexists(repo.abspath(path)) for path in (rel, rel + POINTER_SUFFIX)):
                raise PathError(f"'{target}' does not exist.", "Name an import's data or its "
                                "pointer file, or run `dvx update` alone to update every "
                                "import.")
            raise PathError(f"'{target}' is not an import.", "See `dvx import --help`.")
        chosen.setdefault(rel, by_path[rel])
    return list(chosen.values())


def _target_rel(repo: Repo, target: str) -> str:
    """The data path an update target names (given as the data or as its pointer file)."""
    rel = repo_relpath(repo.root, target)
    return rel[:-len(POINTER_SUFFIX)] if rel.endswith(POINTER_SUFFIX) else rel


@dataclass(frozen=True)
class ImportAgain:
    """How the data an import's pointer names is had again from its source, when `dvx
    update` does not bring it (another revision's pointer): `command`, the `dvx import` that
    brings it, and `copy`, the pointer file of the copy that makes, as a command run here
    names them; or, when no such import is known to bring it (`command` None), `why`.
    `update`: for the workspace's own pointer whose source lost the commit it records
    (`gone_from_source`), that pointer file as a command run here names it: `dvx update` of
    it brings what the source has now, not this data."""
    command: str | None
    copy: str | None = None
    why: str = ""
    update: str | None = None


def import_command(repo: Repo, output: Output) -> ImportAgain | None:
    """For the pointer of an import from a repository (`output`: another revision's, say,
    whose data `dvx update` does not bring, as it brings the workspace's): the `dvx import`
    that brings that data into the cache from its source, at the commit the pointer records,
    to a copy beside the workspace's (`dvx remove --outs` drops the copy, the cache keeping
    the data); no command, and why, when that commit is not known to hold the data
    (`_unlike_its_commit`). None for an import from a URL, whose source keeps no older
    version."""
    info = output.pointer.source_info or {}
    if "repo" not in info or "rev_lock" not in info:
        return None
    why = _unlike_its_commit(repo, output, info)
    if why:
        return ImportAgain(None, why=why)
    location = _location(repo, info["repo"])
    if _is_local(info["repo"], repo.root) and not os.path.isabs(info["repo"]):
        location = os.path.relpath(location)  # as typed here
    commit = info["rev_lock"][:12]
    copy = f"{output.path}-{commit[:7]}"
    return ImportAgain(f"dvx import {shell_quote(location)} {shell_quote(info['path'])} "
                       f"--rev {commit} -o {for_command(repo.root, copy)}",
                       for_command(repo.root, copy + POINTER_SUFFIX))


def _unlike_its_commit(repo: Repo, output: Output, info: dict[str, str]) -> str:
    """Why the source commit an import's pointer records (`info`, its `source:`) is not
    known to hold the data it names, "" if it is. A source on this machine is asked whether
    it still has that commit (amended or deleted there, then pruned, it has not). An import
    from a local source read in place without --rev read its workspace, whose data may not
    have been committed there, though its pointer records the commit the workspace was on:
    that commit is read to tell. Any other import (a bare repository's too, which is cloned)
    took its data from that commit."""
    local = _local_path(info["repo"], repo.root)
    if local is None:
        return ""
    commit = info["rev_lock"][:7]
    gone = _commit_gone(local, info["rev_lock"])
    if gone or "rev" in info or not read_in_place(local):
        return gone
    try:
        source = Source(_location(repo, info["repo"]), info["rev_lock"], reader=repo)
        if _data_oid(source, source.find(info["path"])) == output.pointer.oid:
            return ""
    except (DvxError, OSError) as exc:
        return (f"it was read from its source's workspace, and whether the commit it records "
                f"there ({commit}) holds it could not be told ({describe(exc)})")
    return (f"it was read from its source's workspace, not committed there (the commit it "
            f"records there, {commit}, holds other data)")


def pinned(info: dict[str, str]) -> bool:
    """Whether an import's `source:` (`info`) is pinned to the commit it records (`--rev`
    named that commit, in full or by a prefix of 7 digits or more): `dvx update` then reads
    that commit's data again, never a newer version."""
    rev, commit = info.get("rev", ""), info.get("rev_lock", "")
    return len(rev) >= 7 and bool(commit) and commit.startswith(rev.lower())


def gone_from_source(repo: Repo, output: Output) -> str:
    """Why `dvx update` of an import's pointer (`output`) would not bring the data it names
    from its source, "" if nothing says so: a source on this machine no longer has the
    commit it records (amended or deleted there, then pruned), so update reads another."""
    info = output.pointer.source_info or {}
    if "repo" not in info or "rev_lock" not in info:
        return ""
    local = _local_path(info["repo"], repo.root)
    return "" if local is None else _commit_gone(local, info["rev_lock"])


def _commit_gone(local: str, commit: str) -> str:
    """That the source at the `local` path no longer has `commit`, "" if it has (or that
    cannot be told)."""
    if holds_commit(local, commit) is False:
        return (f"the commit it records ({commit[:7]}) is no longer in its source (amended or "
                "deleted there, then pruned)")
    return ""


# -- shared ---------------------------------------------------------------------------------

def _is_local(location: str, base: str) -> bool:
    """Is `location` a path, not a URL nor Git's host:path? A first segment holding ':' names
    a host unless that path exists (`raw::v1.csv`), taken from `base`: the current folder for
    a path typed, the repository root for one a pointer records, wherever dvx runs."""
    return "://" not in location and not (
        ":" in location.split("/", 1)[0]
        and not os.path.exists(os.path.join(base, location)))  # not host:path


def _local_path(location: str, root: str) -> str | None:
    """The path on this machine that reading a recorded source reads: a path (relative to
    `root`), or the path of a URL of the local kind in any of its spellings (`FILE://`,
    `local://`), as reading it opens it; None for a source on another machine."""
    if scheme_of(location):
        return local_source_path(location) if is_local_url(location) else None
    return os.path.join(root, location) if _is_local(location, root) else None


def _local_outside(repo: Repo, recorded: str) -> str:
    """Names a recorded source that is a local path (or local URL) outside the repository,
    where `update` will read: a pointer from a repository you cloned can name any file of
    yours (docs/guarantees.md §5, Limits); "" for any other source."""
    path = _local_path(recorded, repo.root)
    if path is None:
        return ""
    location = os.path.realpath(path)  # through links too
    root = os.path.realpath(repo.root)
    if location == root or location.startswith(root.rstrip(os.sep) + os.sep):
        return ""
    return f"; it is the local path '{location}', outside this repository"


def _recorded_location(repo: Repo, location: str) -> str:
    """A local path as the pointer records it: relative to the repository's root, so that
    clones laid out alike (a sibling checkout of the source) find it too."""
    if not _is_local(location, os.getcwd()):
        return location
    return os.path.relpath(os.path.abspath(location), repo.root).replace(os.sep, "/")


def _location(repo: Repo, recorded: str) -> str:
    """Where a recorded source is, from this repository."""
    if not _is_local(recorded, repo.root) or os.path.isabs(recorded):
        return recorded
    return os.path.normpath(os.path.join(repo.root, recorded))


def _out_path(repo: Repo, out: str | None, default_name: str, origin: dict[str, str]) -> str:
    """Where an import goes: as `_resolve_output` says, except that an `out` that is this
    import's own output already (it imports the same `origin`) names that output, not a
    directory to import into, so that running the same import again finishes or updates it."""
    if out is None or not (os.path.isdir(out) and _is_import_of(repo, out, origin)):
        out = _resolve_output(out, default_name)
    rel = repo_relpath(repo.root, out)
    check_data_path(repo, rel, out)
    return rel


def _is_import_of(repo: Repo, out: str, origin: dict[str, str]) -> bool:
    """Is the directory `out` the output of an import of `origin`? The repository's top
    (`-o .` there) or a folder outside it is none: the path the data goes to, inside it,
    is checked after."""
    try:
        rel = repo_relpath(repo.root, out)
    except PathError:
        return False
    outputs, _ = scan_outputs(repo)
    return any(o.path == rel and o.pointer.source_info is not None
               and _imports_origin(repo, o.pointer.source_info, origin) for o in outputs)


def _imports_origin(repo: Repo, info: dict[str, str], origin: dict[str, str]) -> bool:
    """Is the import whose pointer records `info` (its `source:`) one of `origin` (a
    repository and a path in it, or a URL)? A repository is the same however it is named
    (`_source_id`), so importing it again under another spelling moves that import on."""
    if "repo" not in origin:
        return origin.items() <= info.items()
    return ("repo" in info and info.get("path") == origin["path"]
            and _source_id(repo, info["repo"]) == _source_id(repo, origin["repo"]))


def _source_id(repo: Repo, recorded: str) -> str:
    """What identifies the repository a pointer records as a source (`recorded`, relative
    to the root if a path): one repository named by a path, absolute or relative, or by a
    `file://` URL, with or without a trailing slash, is one source, as it has one clone."""
    return clone_url(_location(repo, recorded))


def _resolve_output(out: str | None, source_path: str) -> str:
    """Where data from `source_path` goes, as DVC decides: its name here without `out`, its
    name inside `out` if that names a directory (`_names_directory`), else `out`."""
    name = posixpath.basename(source_path.rstrip("/"))
    if out is None:
        return name
    return os.path.join(out, name) if _names_directory(out) else out


def _names_directory(out: str) -> bool:
    """Does `out` name a directory to put data into: an existing one, or any path ending in a
    slash (`-o data/`), which is created when it is not there yet rather than becoming the
    name of a file. A path ending in a slash where something other than a directory is, is
    refused: the data would go neither where the slash says nor over that file silently."""
    if os.path.isdir(out):
        return True
    if not out.endswith(("/", os.sep)):
        return False
    if os.path.lexists(out.rstrip("/" + os.sep)):
        raise PathError(f"'{out}' ends in a slash, which names a directory, but "
                        f"'{out.rstrip('/' + os.sep)}' is not one.",
                        "Name a directory to put the data into, or the path without the "
                        "slash (with --force) to replace what is there.")
    return True


def _refuse_taken(repo: Repo, rel: str, origin: dict[str, str], force: bool,
                  is_dir: Callable[[], bool], out_arg: str = "-o") -> Pointer | None:
    """Refuse `rel` if something is there, unless `force` or it is the output of this same
    import (`origin`: its source and path), which running the import again finishes or
    moves to another revision. Tracked data that is not an import is never replaced. The
    pointer of the import at `rel` that the new one replaces, if any. Refused even with
    `force`, as `dvx add` refuses them: a path Git tracks (its data would go into Git with
    the next `git commit -a`), a path inside tracked data or holding some (`refuse_overlap`,
    asked first: tracked data is what Git ignores there), and an ignored place
    (`_refuse_ignored`; `is_dir`: is the import a folder). `out_arg`: how the command's user
    names the path (import-url: OUT)."""
    refuse_git_tracked(repo, [rel], [from_here(repo.root, rel)])
    outputs, _ = scan_outputs(repo)
    others = [o for o in outputs if o.path != rel]
    refuse_overlap(repo.root, rel, from_here(repo.root, rel), TrackedPaths(
        (o.path for o in others), {o.path: o.stage for o in others if o.stage}))
    _refuse_ignored(repo, rel, is_dir, out_arg)
    replaced = None
    for output in outputs:
        info = output.pointer.source_info
        if output.path == rel and info is None:
            raise PathError(f"'{rel}' is already tracked (not an import).",
                            f"Import to another path ({out_arg}).")
        if output.path == rel and info is not None and not force and not (
                _imports_origin(repo, info, origin)):
            where = (f"'{info['url']}'" if "url" in info
                     else f"'{info.get('path')}' from '{info.get('repo')}'")
            raise PathError(f"'{rel}' already exists: it is an import of {where}.",
                            f"Choose another {out_arg}, or --force to replace it.")
        if output.path == rel:
            replaced = output.pointer
    if os.path.lexists(repo.abspath(rel)) and not force and replaced is None:
        raise PathError(f"'{rel}' already exists.", f"Choose another {out_arg}, or --force "
                        "to replace it.")
    return replaced


def _refuse_ignored(repo: Repo, rel: str, is_dir: Callable[[], bool], out_arg: str) -> None:
    """Refuse, as `dvx add` and `dvx move` do, a path .dvxignore leaves out (dvx would never
    see the data) and one whose pointer Git ignores (it would never be committed). Whether
    the import is a folder is asked only when a rule tells a folder from a file there (a
    `name/` rule): for a folder inside a source's directory, that reads its manifest."""
    told_apart = repo.dvxignore.check(rel, False) != repo.dvxignore.check(rel, True)
    refuse_dvxignored(repo, rel, told_apart and is_dir(), from_here(repo.root, rel),
                      f"Import to another path ({out_arg}), or change that rule.")
    refuse_ignored_pointers(repo, [rel])


def _refuse_taken_again(repo: Repo, rel: str, origin: dict[str, str], force: bool,
                        is_dir: Callable[[], bool], replaced: Pointer | None, command: str,
                        out_arg: str = "-o") -> None:
    """`_refuse_taken`, asked again once the repository lock is held to write: what is at
    `rel` may have changed while the source was read, and the pointer there must still be
    `replaced`, the one the import read first (`_refuse_changed`)."""
    if not same_pointer(_refuse_taken(repo, rel, origin, force, is_dir, out_arg), replaced):
        _refuse_changed(repo, rel, replaced, command)


def _refuse_changed(repo: Repo, rel: str, was: Pointer | None, command: str) -> None:
    """Asked holding the repository lock, before an import or update writes: the pointer
    file of `rel` is still `was` (None: there was none), as `command` read it before it read
    its source, which can take long. Another command may have written it meanwhile (a `dvx
    add` making the data the user's own, a `git pull` bringing a teammate's update, an
    edit): writing over that would lose it, so nothing is written and the error says so."""
    how = pointer_change(repo, rel, was)
    if how is None:
        return
    pointer_rel = rel + POINTER_SUFFIX
    raise ConflictError(
        f"'{pointer_rel}' {how} while this {command} read its source (by another command: "
        "a `dvx add`, a `git pull`, an edit), so the " + command + " wrote nothing: what "
        "it names now stays as it is.",
        f"Run the {command} again if it is still wanted for what '{pointer_rel}' names now.")


def _track(repo: Repo, rel: str, pointer: Pointer, force: bool,
           unchanged: Callable[[], None]) -> ImportResult:
    """Write the import's pointer and .gitignore entry, and check out its data, all while
    the repository lock is held; `unchanged` first refuses, with nothing written, if what
    is at `rel` changed since the command read it (`_refuse_taken_again`,
    `_refuse_changed`)."""
    full = repo.abspath(rel)
    with repo.lock(stages_in_git=True):
        unchanged()
        os.makedirs(os.path.dirname(full), exist_ok=True)
        ignored = gitignore.add_entry(full)
        try:
            write_pointer(repo, rel, pointer)
        except BaseException:
            with stops_held():  # written once renamed into place, whatever stopped it after
                if pointer_written(repo, rel, pointer):
                    began_writing(repo.tmp_dir)
                elif ignored:
                    gitignore.remove_entry(full)
            raise
        began_writing(repo.tmp_dir)  # the pointer names data not placed yet
        done = checkout(repo, [Target(Output(rel, pointer))], force=force)
        ignore_after_rules_taking_back(repo, [rel])
        return ImportResult(finish(repo, [Added(rel, pointer, True)]), done)


def _write_file(target: str, data: bytes) -> None:
    with open(target, "xb") as f:
        f.write(data)
