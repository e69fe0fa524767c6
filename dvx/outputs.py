"""Tracked outputs: finding pointer files and pipeline outputs (recorded in dvx.lock), and
resolving command-line targets to them."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dvx import fsutil
from dvx.errors import (
    ConflictError,
    CorruptManifestError,
    DvxError,
    FormatError,
    NewerFormatError,
    PathError,
    UnknownKeysError,
    UnreadableError,
    UsageError,
)
from dvx.hash_setting import pointer_algo_mismatch
from dvx.ignore import DvxIgnore, refuse_gitignores_git_waits_on
from dvx.lockfile import LOCK_FILE, PIPELINE_FILE, own_file_problem
from dvx.logs import get_logger, quoted, shell_quote
from dvx.objects.tree import Tree
from dvx.overlapping import dropping_gone_entry, find_overlaps, overlap_error, overlap_pair
from dvx.paths import (
    POINTER_SUFFIX,
    at_or_below_any,
    check_no_symlinked_parent,
    check_relpath,
    folders_above,
    for_command,
    from_here,
    names_the_root,
    nearest_parent_in,
    refuse_empty,
    relpath_problem,
    repo_relpath,
    walk_readable,
)
from dvx.pointer import Pointer, data_path_of, read_pointer, unreadable_pointer
from dvx.repo import DVX_DIR, Repo
from dvx.scm import (
    GITLINK_MODE,
    git_sees_repository_at,
    is_cone_sparse_checkout,
    literal,
    literal_pathspec,
)
from dvx.wording import counted, named_list
from dvx.yamlio import DEFAULT_MAX_BYTES, parse_yaml

log = get_logger(__name__)

# The outputs the workspace's dvx.yaml declares, each with the stage declaring it; None when
# dvx.yaml cannot be read. The pipeline layer reads it (pipeline/spec.py declared_outputs);
# the operations below it that need it are handed this.
DeclaredOutputs = Callable[[], Mapping[str, str] | None]


@dataclass(frozen=True)
class DeclaringStage:
    """The stage of dvx.yaml declaring an output, as a refused `dvx add` of the output
    names it."""
    name: str
    frozen: bool = False
    ran: bool = True  # dvx.lock records a run of it


@dataclass(frozen=True)
class StagesDeclaring:
    """What dvx.yaml declares, read stage by stage (pipeline/spec.py stages_declaring): each
    output with its stage; the stages that cannot be read, each with why (what they declare
    is unknown); and why dvx.yaml as a whole cannot be read, if it cannot (then nothing of
    what it declares is known)."""
    outputs: Mapping[str, DeclaringStage]
    unread: Mapping[str, str] = field(default_factory=dict)
    unreadable: str | None = None


DeclaringOutputs = Callable[[], StagesDeclaring]


@dataclass(frozen=True)
class Output:
    path: str  # repo-relative POSIX path of the data
    pointer: Pointer
    stage: str | None = None  # the pipeline stage whose dvx.lock entry records it (no pointer)
    push: bool = True  # `dvx push` uploads it (`push: false` in dvx.yaml)
    remote: str | None = None  # the remote it belongs to (`remote:` in dvx.yaml)

    @property
    def pointer_path(self) -> str:
        return self.path + POINTER_SUFFIX

    @property
    def recorded_in(self) -> str:
        """The file that records this output, for messages."""
        return f"{LOCK_FILE} (stage '{self.stage}')" if self.stage else f"'{self.pointer_path}'"

    @property
    def record_file(self) -> str:
        """The file that records this output: its pointer file, or dvx.lock for a stage's."""
        return LOCK_FILE if self.stage else self.pointer_path


@dataclass(frozen=True)
class Target:
    output: Output
    subpath: str | None = None  # a file or folder inside a tracked directory
    # The revisions in scope that record it (commits, or "index"), for messages; () for the
    # workspace's (scope_targets)
    revisions: tuple[str, ...] = ()


def pointer_files(repo: Repo) -> list[str]:
    # The same listing (or walk) notes, at no extra cost, any dvx.yaml below the root, which
    # dvx never reads: pipeline_files_not_read says so.
    if repo.git is None:
        found, pipelines = _walk_for_pointers(repo.root, repo.dvxignore)
        repo.pipeline_files_below.update(pipelines)
        return found
    synced = repo.syncstate.paths()
    refuse_gitignores_git_waits_on(repo.root, synced)
    listed = repo.git.workspace_files(f"*{POINTER_SUFFIX}", f"*/{PIPELINE_FILE}")
    repo.pipeline_files_below.update(p for p in listed if p.endswith("/" + PIPELINE_FILE))
    found = [p for p in listed if p.rpartition("/")[2].endswith(POINTER_SUFFIX)
             and p.rpartition("/")[2] != POINTER_SUFFIX]
    # A pointer Git ignores (a .gitignore rule added later) is still dvx's: the paths this
    # workspace synced tell it apart, so it never silently drops out of status, push or gc.
    listed_pointers = set(found)
    ignored = sorted(p + POINTER_SUFFIX for p in synced
                     if p + POINTER_SUFFIX not in listed_pointers
                     and os.path.isfile(repo.abspath(p + POINTER_SUFFIX)))
    for pointer in ignored:
        if pointer not in repo.warned_ignored:
            repo.warned_ignored.add(pointer)
            log.warning("Warning: %s is ignored by Git (a .gitignore rule), so Git will not "
                        "commit it; `git check-ignore -v %s` names the rule.", pointer,
                        for_command(repo.root, pointer))
    return sorted(listed_pointers | set(ignored))


def _walk_for_pointers(root: str, ignore: DvxIgnore) -> tuple[list[str], list[str]]:
    """The pointer files below `root`, and the dvx.yaml files below it, never looking inside
    data a pointer tracks. Without Git to list them, a folder this user may not list could
    hold pointer files no command would know of: refused (UnreadableError), never passed
    over as holding none, unless .dvxignore (`ignore`) leaves it out."""
    found: list[str] = []
    pipelines: list[str] = []
    refused: list[str] = []
    for folder in walk_readable(root, refused):
        names = {e.name for e in folder.others}
        folder.folders[:] = [e for e in folder.folders if e.name + POINTER_SUFFIX not in names]
        for entry in folder.others:
            if entry.name.endswith(POINTER_SUFFIX) and entry.name != POINTER_SUFFIX:
                found.append(folder.rel + entry.name)
            elif entry.name == PIPELINE_FILE and folder.rel:
                pipelines.append(folder.rel + entry.name)
    refused = [rel for rel in refused if ignore.check(rel, is_dir=True) is None]
    if refused:
        shown = shell_quote(from_here(root, refused[0]))
        raise UnreadableError(
            f"'{from_here(root, refused[0])}' cannot be read: permission denied. Without Git, "
            "dvx finds pointer files by listing every folder, and one there would be missed.",
            f"Fix its permissions (`chmod u+rx {shown}`, as its owner), or, if it holds no "
            f"data dvx tracks, leave it out with a .dvxignore line `/{refused[0]}/`; then run "
            "the command again.", path=refused[0])
    return sorted(found), pipelines


def pipeline_files_not_read(repo: Repo, search: bool = False,
                            stage_outputs: Iterable[str] = ()) -> list[str]:
    """The dvx.yaml files below the repository root, which dvx never reads (one dvx.yaml per
    repository, at its root): those in the current directory and the folders above it, and
    those a listing of pointer files came across; with `search`, every one Git would track
    (a Git process: for an error, not for the commands that go on). `stage_outputs`: the
    outputs dvx.yaml declares, when the caller has read it."""
    listed = set(repo.pipeline_files_below)
    if search and repo.git is not None:
        refuse_gitignores_git_waits_on(repo.root, repo.syncstate.paths())
        listed.update(repo.git.workspace_files(f"*/{PIPELINE_FILE}"))
    elif search:
        listed.update(_walk_for_pointers(repo.root, repo.dvxignore)[1])
    here = _pipeline_files_above_here(repo.root) - listed
    # The dvx.yaml of a dvx project of its own, nested in this one, is that project's.
    found = {p for p in listed | here if p.endswith("/" + PIPELINE_FILE)
             and not os.path.isdir(repo.abspath(p.rpartition("/")[0] + "/.dvx"))}
    if found:  # rare: only then is it worth asking what else the file may be
        found = _not_data(repo, found, stage_outputs)
    unlisted = sorted(found & here)
    if unlisted and repo.git is not None:
        # Where the user is, Git was not asked: by its rules, as in the listing, a dvx.yaml
        # it ignores (a virtualenv's, a build folder's) is not one meant for the pipeline.
        found -= set(unlisted) - set(repo.git.workspace_files(*literal(unlisted)))
    return sorted(found)


def _not_data(repo: Repo, paths: set[str], stage_outputs: Iterable[str]) -> set[str]:
    """Those of `paths` outside the data dvx tracks: a dvx.yaml inside a folder `dvx add`
    tracks, or inside a stage's output, is data (a template, say), not a pipeline file."""
    outputs = set(stage_outputs)
    with contextlib.suppress(DvxError):  # a dvx.lock that cannot be read names no outputs
        outputs.update(out.path for lock in repo.read_lock().values()
                       for out in lock.outs)

    def is_data(path: str) -> bool:
        folder = path
        while folder:
            if folder in outputs or os.path.isfile(repo.abspath(folder + POINTER_SUFFIX)):
                return True
            folder = folder.rpartition("/")[0]
        return False

    return {p for p in paths if not is_data(p)}


def _pipeline_files_above_here(root: str) -> set[str]:
    """The dvx.yaml files in the current directory and its parents below `root`."""
    try:
        here = os.path.relpath(os.getcwd(), root).replace(os.sep, "/")
    except (OSError, ValueError):  # no current directory, or one on another drive
        return set()
    found: set[str] = set()
    while here not in (".", "") and not here.startswith("../") and here != "..":
        if os.path.isfile(os.path.join(root, here, PIPELINE_FILE)):
            found.add(f"{here}/{PIPELINE_FILE}")
        here = here.rpartition("/")[0]
    return found


def warn_of_pipeline_files_not_read(repo: Repo, search: bool = False,
                                    stage_outputs: Iterable[str] = ()) -> None:
    """Once per command that reads the pipeline: a dvx.yaml below the root is never read,
    which would otherwise pass without a word (its stages never run, status says nothing).
    `search` and `stage_outputs`: as in pipeline_files_not_read."""
    unread = [p for p in pipeline_files_not_read(repo, search, stage_outputs)
              if p not in repo.warned_pipelines]
    if unread:
        repo.warned_pipelines.update(unread)
        log.warning("WARNING: %s %s", *not_read_message(unread))


def not_read_message(paths: list[str]) -> tuple[str, str]:
    """Why the dvx.yaml files `paths` below the root do nothing, and where their stages go."""
    if len(paths) == 1:
        return (f"{paths[0]} is not read: dvx reads one {PIPELINE_FILE} per repository, the "
                "one at its root.",
                f"Move its stages into {PIPELINE_FILE} at the root, each with "
                f"`wdir: {paths[0].rpartition('/')[0]}` so that their paths name the same "
                "files.")
    shown = paths[:3] + ([f"{len(paths) - 3} more"] if len(paths) > 3 else [])
    names = ", ".join(shown[:-1]) + f" and {shown[-1]}"
    return (f"{names} are not read: dvx reads one {PIPELINE_FILE} per repository, the one at "
            "its root.",
            f"Move their stages into {PIPELINE_FILE} at the root, each with `wdir:` set to the "
            "folder it came from so that their paths name the same files.")


def load_output(repo: Repo, pointer_relpath: str) -> Output:
    check_relpath(pointer_relpath, "pointer path")
    # `..dvx` would track '.', `.git.dvx` the Git directory, `dvx.yaml.dvx` the pipeline: a
    # checkout would replace them.
    check_pointed_data_path(pointer_relpath)
    try:
        check_no_symlinked_parent(repo.root, pointer_relpath)
    except OSError as exc:  # a folder above it cannot be looked at (its path too long)
        raise unreadable_pointer(pointer_relpath, exc) from None
    if os.path.islink(repo.abspath(pointer_relpath)):
        raise PathError(f"Refusing to read the pointer file '{pointer_relpath}': it is a symbolic "
                        "link, which could lead outside the repository.",
                        "Replace the link with the pointer file itself.")
    # Asked of a conflicted pointer only: a source read from its remote, whose cache.dir is
    # refused, still loads its pointers.
    pointer = read_pointer(repo.abspath(pointer_relpath), pointer_relpath, repo.root,
                           in_cache=lambda oid: repo.cache.exists(oid))
    if pointer.algo != repo.algo:
        raise pointer_algo_mismatch(repo.config, repo.recorded_algorithms, pointer_relpath,
                                    for_command(repo.root, pointer_relpath),
                                    for_command(repo.root, data_path_of(pointer_relpath)),
                                    pointer.algo, repo.algo,
                                    data_here=os.path.lexists(repo.abspath(
                                        data_path_of(pointer_relpath))))
    return Output(data_path_of(pointer_relpath), pointer)


@dataclass(frozen=True)
class Broken:
    """A pointer file (or dvx.lock) that cannot be read: only commands that touch it fail."""
    path: str  # the pointer file's repo-relative path, or dvx.lock ("COMMIT:PATH" in history)
    error: DvxError
    committed: bool = False  # read from a commit (not the workspace or Git's index)
    git_file: tuple[str, str] | None = None  # read from Git: its path there and its blob
    # The data it keeps a command from, when not its own pointer's: the folder it overlaps
    # (dvx/overlapping.py)
    covers: str | None = None
    pair: str | None = None  # of an overlap: the two that overlap, as a message names them

    @property
    def damaged(self) -> bool:
        """Is its content damaged (not YAML, no valid oid, a merge conflict's markers, a path
        no pointer may have), rather than written by a newer dvx (upgrading dvx reads it) or
        not given by Git (a partial clone fetches it)? What a damaged file named can never be
        known, by any dvx after any fetch. A committed merge conflict is damaged too: each of
        its sides is in a parent commit, read as any other."""
        return isinstance(self.error, (FormatError, ConflictError, PathError)) and not \
            isinstance(self.error, (NewerFormatError, UnknownKeysError))

    @property
    def committed_damaged(self) -> bool:
        """A damaged file of a commit: no one can mend it any more (a later commit may have
        mended the file), so what it named is lost for good and nothing waits on it."""
        return self.committed and self.damaged

    @property
    def data_path(self) -> str | None:
        if self.covers is not None:
            return self.covers
        return data_path_of(self.path) if self.path.endswith(POINTER_SUFFIX) else None

    def touches(self, rel: str) -> bool:
        """Does a command on the path `rel` need this file?"""
        if rel == self.path:
            return True
        data = self.data_path
        return data is not None and (rel == data or rel.startswith(data + "/")
                                     or data.startswith(rel + "/"))


def scan_outputs(repo: Repo, with_overlaps: bool = False,
                 stages: Collection[str] | None = None) -> tuple[list[Output], list[Broken]]:
    """Every tracked output, and every pointer file (or dvx.lock) that cannot be read. Two
    outputs that overlap (one inside a folder the other tracks) are set aside as a conflict,
    unless `with_overlaps` (`dvx remove`, which ends such a conflict). `stages`: only the
    dvx.lock entries of these count (pipeline_outputs)."""
    outputs: list[Output] = []
    broken: list[Broken] = []
    for pointer in pointer_files(repo):
        try:
            outputs.append(load_output(repo, pointer))
        except DvxError as exc:
            broken.append(Broken(pointer, _with_fix(repo, exc, pointer)))
    if os.path.exists(os.path.join(repo.root, LOCK_FILE)):
        try:
            outputs += _refuse_doubly_tracked(repo.root, pipeline_outputs(repo, stages),
                                              outputs)
        except DvxError as exc:
            broken.append(Broken(LOCK_FILE, exc))
    if with_overlaps:
        return outputs, broken
    found = overlapping(repo.root, outputs)
    covered = {item.covers for item in found if item.covers is not None}
    return [o for o in outputs if not at_or_below_any(o.path, covered)], broken + found


def overlapping(root: str, outputs: list[Output], pushed: bool = False) -> list[Broken]:
    """A conflict for each output inside another's folder, named by its pointer file (the
    outer one's for a stage's output), and covering the outer folder; `pushed`: worded as
    `dvx push`, which sends both's data, notes it."""
    by_path = {o.path: o for o in outputs}
    pairs = find_overlaps({o.path: o.stage for o in outputs})
    declares = stages_declared(root) if pairs else None

    def declared(stage: str | None) -> bool:  # or dvx.yaml cannot say
        return stage is None or declares is None or stage.partition("@")[0] in declares

    found = []
    for outer, inner in pairs:
        held, holder = by_path[inner], by_path[outer]
        named = holder if held.stage is not None else held
        found.append(Broken(named.pointer_path, overlap_error(
            root, outer, holder.stage, inner, held.stage, pushed,
            outer_is_dir=holder.pointer.is_dir, outer_declared=declared(holder.stage),
            inner_declared=declared(held.stage)), covers=outer,
            pair=overlap_pair(outer, holder.stage, inner, held.stage)))
    return found


def _with_fix(repo: Repo, exc: DvxError, pointer: str) -> DvxError:
    """The error, with the usual ways out when it names none: for a pointer Git tracks,
    restoring or removing it; for a file Git does not track, renaming it (a file of the
    user's named *.dvx, which dvx takes for a pointer)."""
    if exc.hint is None and (repo.git is None or not repo.git.tracked_under([pointer])):
        exc.hint = (f"Git does not track it: if it is a file of yours rather than a dvx "
                    f"pointer, rename it (`mv -- {for_command(repo.root, pointer)} NEW-NAME`), "
                    "as dvx takes every file named *.dvx for a pointer.")
    elif exc.hint is None:
        spec = literal_pathspec(from_here(repo.root, pointer))
        exc.hint = (f"Restore it from Git (`git checkout -- {spec}`), or remove it "
                    f"(`git rm -- {spec}`) if its data need not be tracked any more.")
    return exc


def all_outputs(repo: Repo, strict: bool = False, stages: Collection[str] | None = None
                ) -> list[Output]:
    """Every output that can be read. An unreadable pointer or dvx.lock is an error with
    `strict`; otherwise it is skipped (and reported by the CLI once the command is done).
    `stages`: as in scan_outputs."""
    outputs, broken = scan_outputs(repo, stages=stages)
    if broken and strict:
        raise broken[0].error
    skip_broken(repo, broken)
    return outputs


def skip_broken(repo: Repo, broken: list[Broken]) -> None:
    """Note what this command could not read, and so left out (`Repo.unreadable`)."""
    for item in broken:
        repo.unreadable.setdefault(item.path, item.error)


def refuse_broken(repo: Repo, paths: list[str] | tuple[str, ...],
                  stages: Collection[str] | None = None) -> None:
    """Raise the error of an unreadable pointer that one of `paths` needs (`stages`: as in
    scan_outputs)."""
    _, broken = scan_outputs(repo, stages=stages)
    for item in broken:
        if any(item.touches(p) for p in paths):
            raise item.error


def pipeline_outputs(repo: Repo, stages: Collection[str] | None = None) -> list[Output]:
    """The cached outputs of pipeline stages, as dvx.lock records them; with `stages`, only
    those of these stages: repro judges its run on the stages dvx.yaml declares, as an
    entry of one gone from it is dropped, whatever its outputs overlap."""
    found = []
    for name, lock in sorted(repo.read_lock().items()):
        if stages is not None and name not in stages:
            continue
        for out in lock.outs:
            if out.cache:
                check_no_symlinked_parent(repo.root, out.path)
                pointer = Pointer("dir" if out.is_dir else "file", repo.algo, out.oid, out.size,
                                  out.nfiles, out.executable)
                found.append(Output(out.path, pointer, name, out.push, out.remote))
    return found


def _doubly_tracked_ways(root: str, pointer: str, stage: str) -> str:
    """The ways out for data tracked by the pointer file `pointer` and as an output of
    `stage` in dvx.lock: either goes while dvx.yaml declares the stage (or cannot say). Of a
    stage gone from it, only the entry goes: no pull brings back an output only that entry
    records, and without the pointer the stages would read that stage's stale output in
    place of the pointer's data (a teammate's, say), with no word."""
    if pipeline_declares(root, stage) is not False:
        return (f"Remove one: `dvx remove {for_command(root, pointer)}`, or "
                f"{_the_stage_s_output(root, stage)}.")
    if os.path.lexists(os.path.join(root, PIPELINE_FILE)):
        return f"Keep '{pointer}': run {dropping_gone_entry(stage)}."
    return f"Keep '{pointer}': take {_the_stage_s_output(root, stage)}."


def _the_stage_s_output(root: str, stage: str) -> str:
    """How the output of `stage` that a pointer tracks too goes: from dvx.yaml, where it
    declares that stage; else (no dvx.yaml, or one without that stage) from the dvx.lock
    entry nothing declares."""
    if pipeline_declares(root, stage) is not False:  # or dvx.yaml cannot say
        return f"the output from {PIPELINE_FILE}"
    if os.path.lexists(os.path.join(root, PIPELINE_FILE)):
        return dropping_gone_entry(stage)
    lock = shell_quote(from_here(root, LOCK_FILE))  # no repro runs without a dvx.yaml
    return (f"stage '{stage}' from {LOCK_FILE}, which no {PIPELINE_FILE} declares: restore "
            f"{LOCK_FILE} from Git (`git checkout -- {lock}`) if it was changed here, or "
            "delete the stage's entry from it")


def pipeline_declares(root: str, stage: str) -> bool | None:
    """Whether dvx.yaml at `root` defines `stage` (one made by foreach or matrix by the name
    before its '@'); False without a dvx.yaml, None when it cannot be read."""
    declared = stages_declared(root)
    return None if declared is None else stage.partition("@")[0] in declared


def stages_declared(root: str) -> frozenset[str] | None:
    """The names of the stages dvx.yaml at `root` defines (foreach and matrix ones by the name
    before their '@'): none without a dvx.yaml, None when it cannot be read."""
    path = os.path.join(root, PIPELINE_FILE)
    if not os.path.lexists(path):
        return frozenset()
    if os.path.islink(path):  # refused wherever dvx.yaml is read
        return None
    try:
        doc = parse_yaml(fsutil.read_regular(path, DEFAULT_MAX_BYTES + 1), PIPELINE_FILE)
    except (OSError, DvxError):
        return None
    definitions = doc.get("stages") if isinstance(doc, dict) else None
    if definitions is None:
        return frozenset()
    if not isinstance(definitions, dict):
        return None
    return frozenset(definitions)


def _refuse_doubly_tracked(root: str, stage_outputs: list[Output], pointed: list[Output]
                           ) -> list[Output]:
    paths = {o.path: o for o in pointed}
    for output in stage_outputs:
        other = paths.get(output.path)
        if other is not None and other.stage is not None:
            raise FormatError(f"{LOCK_FILE} records '{output.path}' as an output of both "
                              f"stage '{other.stage}' and stage '{output.stage}'.",
                              f"Restore {LOCK_FILE} from Git, or run `dvx repro`.")
        if other is not None:
            raise FormatError(f"'{output.path}' is tracked twice: by '{other.pointer_path}' "
                              f"and as an output of stage '{output.stage}' in {LOCK_FILE}.",
                              _doubly_tracked_ways(root, other.pointer_path, str(output.stage)))
        paths[output.path] = output
    return stage_outputs


def resolve_targets(repo: Repo, targets: list[str] | tuple[str, ...],
                    with_overlaps: bool = False, declared: DeclaringOutputs | None = None
                    ) -> list[Target]:
    """Map command-line paths to tracked outputs; no targets means every output. A target
    that needs an unreadable pointer fails with its error; the others only warn of it.
    `with_overlaps`: as in scan_outputs. `declared` (what dvx.yaml declares) lets a target
    no stage has recorded yet name the stage that makes it, never `dvx add`, which refuses
    it."""
    for target in targets:
        refuse_empty(target)
    outputs, broken = scan_outputs(repo, with_overlaps)
    if not targets or any(names_the_root(repo.root, t) for t in targets):
        skip_broken(repo, broken)  # no targets, or the repository itself (`dvx status .`)
        return [Target(o) for o in outputs]
    by_path = {o.path: o for o in outputs}
    resolved: list[Target] = []
    for target in targets:
        rel = repo_relpath(repo.root, target)
        for item in broken:
            if item.touches(rel):
                raise item.error
        if rel.endswith(POINTER_SUFFIX) and data_path_of(rel) in by_path:
            resolved.append(Target(by_path[data_path_of(rel)]))
            continue
        if rel in by_path:
            resolved.append(Target(by_path[rel]))
            continue
        parent = nearest_parent_in(rel, by_path)
        if parent is not None:
            if not parent.pointer.is_dir:
                raise UsageError(f"'{target}' is inside '{parent.path}', which is a tracked file.")
            _refuse_absent_part(repo, parent, rel, target)
            resolved.append(Target(parent, rel[len(parent.path) + 1:]))
            continue
        inside = [o for o in outputs if o.path.startswith(rel + "/")]
        if inside:
            resolved.extend(Target(o) for o in inside)
            continue
        _refuse_other_repositorys_path(repo, rel, target)
        if rel.endswith(POINTER_SUFFIX) and os.path.exists(repo.abspath(rel)):
            raise FormatError(f"'{target}' is not a readable dvx pointer file.")
        _refuse_left_out_by_sparse_checkout(repo, rel, target)
        _refuse_unread_lock(broken)
        _refuse_git_tracked_output(repo, rel, target)
        _refuse_declared_not_recorded(repo.root, rel, target, declared)
        _refuse_stage_name(repo, rel, target, outputs)
        raise UsageError(f"'{target}' is not tracked by dvx.",
                         "Run `dvx status` to list what is tracked, or `dvx add` to track it.")
    return _unique(resolved)


def _refuse_unread_lock(broken: list[Broken]) -> None:
    """A target no pointer tracks, while dvx.lock cannot be read: it may be (in) a stage's
    output that dvx.lock records, or name a stage whose outputs it records, which only its
    reading can tell, so it fails with dvx.lock's error (how to make it readable), never as
    untracked or as a stage not yet run. The refusals after this one read dvx.lock."""
    for item in broken:
        if item.path == LOCK_FILE:
            raise item.error


def _refuse_git_tracked_output(repo: Repo, rel: str, target: str) -> None:
    """A target that is (in, or holds only) `cache: false` outputs dvx.lock records: Git
    tracks their data, so dvx has none of it to transfer, check out or compare. Named as
    such, never with `dvx add`, which refuses a stage's output."""
    try:
        locks = repo.read_lock()
    except DvxError:
        return  # the refusal that follows is the truth dvx can tell
    for name, lock in sorted(locks.items()):
        for out in lock.outs:
            inside = out.path == rel or rel.startswith(out.path + "/")
            if out.cache or not (inside or out.path.startswith(rel + "/")):
                continue
            what = f"'{target}' {'is' if inside else 'holds only'} an output of stage " \
                f"'{name}' that Git tracks (`cache: false`)"
            path = for_command(repo.root, out.path)
            raise UsageError(f"{what}: dvx holds no data of it.",
                             f"Git shows and restores it (`git status -- {path}`, "
                             f"`git checkout -- {path}`); `dvx status` says whether stage "
                             f"'{name}' is up to date.")


def _refuse_stage_name(repo: Repo, rel: str, target: str, outputs: list[Output]) -> None:
    """A target that names no path but a stage of dvx.yaml (as `dvc push train` takes one):
    stage names are not targets, so the refusal names the stage's outputs, which are, never
    `dvx add`, which finds no file of that name. A foreach or matrix stage is named by its
    full name or by the name before its '@', which stands for all of them."""
    if os.path.lexists(repo.abspath(rel)):
        return
    names = stages_declared(repo.root) or frozenset()
    recorded = {o.stage for o in outputs if o.stage is not None}
    if not any(target in (name, name.partition("@")[0]) for name in names | recorded):
        return
    outs = sorted(o.path for o in outputs
                  if o.stage is not None and target in (o.stage, o.stage.partition("@")[0]))
    listing = "`dvx stage list` lists each stage's outputs."
    named = functools.partial(named_list, most=5, name=lambda p: for_command(repo.root, p))
    in_git = _recorded_in_git(repo, target)
    if outs:
        hint = f"Name its outputs instead: {named(outs)}; {listing}"
    elif in_git is None:
        hint = (f"{LOCK_FILE} records no output of it yet: `dvx repro {shell_quote(target)}` "
                f"runs it and records them; {listing}")
    elif in_git:
        hint = (f"{LOCK_FILE} records each output of it as kept out of the cache (`cache: "
                f"false`), for Git to track: {named(in_git)}, of which dvx holds no data "
                f"(`git status -- {for_command(repo.root, in_git[0])}` shows "
                f"{'it' if len(in_git) == 1 else 'the first'}). {listing}")
    else:
        hint = f"It has no output dvx or Git tracks. {listing}"
    raise UsageError(f"'{target}' is a pipeline stage of {PIPELINE_FILE}, not a path: "
                     "commands over data take paths (a stage's outputs, a pointer file, a "
                     "directory holding them), never a stage's name.", hint)


def _recorded_in_git(repo: Repo, stage: str) -> list[str] | None:
    """The `cache: false` outputs dvx.lock records for the stage named `stage` (a foreach or
    matrix one by the name before its '@' too), when it records the stage but no output of it
    in the cache; None when it does not record the stage (or cannot be read)."""
    try:
        locks = repo.read_lock()
    except DvxError:
        return None
    entries = [lock for name, lock in locks.items() if stage in (name, name.partition("@")[0])]
    if not entries:
        return None
    return sorted(out.path for lock in entries for out in lock.outs if not out.cache)


def _refuse_declared_not_recorded(root: str, rel: str, target: str,
                                  declared: DeclaringOutputs | None) -> None:
    """A target that is (in) an output dvx.yaml declares, which dvx.lock does not record
    yet: named with the stage that makes and records it."""
    now = declared() if declared is not None else None
    for out, stage in (now.outputs if now is not None else {}).items():
        if out == rel or rel.startswith(out + "/") or out.startswith(rel + "/"):
            raise UsageError(f"'{target}' is not tracked by dvx yet: it is an output the "
                             f"pipeline stage '{stage.name}' declares, which {LOCK_FILE} "
                             "records once the stage has run.",
                             f"{making_hint(root, out, stage)}.")


def putting_back_outputs(root: str, cached: list[str], pulled: list[str],
                         has_remote: bool = True) -> str:
    """The commands that put back what dvx.lock records for stage outputs edited by hand,
    each naming its outputs (a bare `--force` would discard every other edit of the user's
    too), as `taking_recorded_versions` words them; "" for none (an output of `push: false`
    the cache lacks: only a run of its stage makes it)."""
    return taking_recorded_versions(root, f"puts back what {LOCK_FILE} records", cached, pulled,
                                    has_remote=has_remote)


def taking_recorded_versions(root: str, does: str, cached: Sequence[str],
                             pulled: Sequence[str], nowhere: Sequence[str] = (),
                             has_remote: bool = True) -> str:
    """The commands that `does` (put back what dvx.lock records, discard changes, take the
    pointer's version) for data, each naming its paths: `cached`, those whose recorded
    version the cache holds, by a `checkout --force`, which places only what the cache
    holds; `pulled`, those a remote holds and the cache not, by a `pull --force`, which
    fetches it from the default remote (`has_remote`; none set, named with the one to set
    first); `nowhere`, those of `push: false` the cache lacks, which only a run of their
    stage makes. "" for none."""
    def named(paths: Sequence[str]) -> str:
        return " ".join(for_command(root, p) for p in paths)

    ways = [f"`dvx checkout --force {named(cached)}` {does}"] if cached else []
    if pulled:
        pull = f"`dvx pull --force {named(pulled)}`"
        them = "it" if len(pulled) == 1 else "them"
        if not has_remote:
            ways.append(f"{pull} {does} once a default remote is set (`dvx remote add -d NAME "
                        f"URL`): the cache lacks {them}")
        elif cached:
            ways.append(f"{pull} those of data whose recorded version is not in the cache")
        else:
            ways.append(f"{pull} {does}, fetching {them}")
    if nowhere:
        ways.append(f"the recorded version of {named(nowhere)} is neither in the cache nor on a "
                    "remote (`push: false`), so only a run of its stage makes it")
    return ", ".join(ways)


def placing_pointer_version(typed: str, in_cache: bool, has_remote: bool) -> str:
    """How the data the pointer of `typed` (a path as the user types it) names now is
    placed, as status says it: a checkout where the cache holds it (`in_cache`); else a
    pull, which fetches it first (from the default remote, `has_remote`, named to be set
    first where none is), since a checkout places nothing the cache lacks."""
    if in_cache:
        return (f"Run `dvx checkout {typed}` (or `dvx pull {typed}`, which fetches it first) "
                "to get the data the pointer names")
    pull = f"Run `dvx pull {typed}` to fetch and place the data the pointer names"
    if not has_remote:
        return f"{pull} once a default remote is set (`dvx remote add -d NAME URL`)"
    return pull


def making_hint(root: str, out: str, stage: DeclaringStage) -> str:
    """How `stage` makes and records its output `out`: `dvx repro` skips a frozen stage, and
    a stage's first run deletes what is at its outputs, which the user moves away first."""
    repro = f"`dvx repro {stage.name}`"
    if stage.frozen:
        repro = f"`dvx unfreeze {stage.name}` (`dvx repro` skips a frozen stage), then {repro},"
    if stage.ran or not os.path.lexists(os.path.join(root, out)):
        return f"Run {repro} to make and record it"
    return (f"Move '{for_command(root, out)}' out of the way, then run {repro} to make and "
            "record it: the stage has never run, and its first run deletes what is there, "
            "which no cache keeps")


@dataclass(frozen=True)
class LeftOut:
    """What Git's index holds at a path that the sparse checkout leaves out of the workspace."""
    files: list[str]  # the index's files there (pointers, or files Git tracks)
    folder: str  # the one `git sparse-checkout add` brings back

    @property
    def pointers(self) -> list[str]:
        return [p for p in self.files if p.endswith(POINTER_SUFFIX)]

    def adding(self, root: str) -> str:
        return adding_to_sparse_checkout(root, [self])


def adding_to_sparse_checkout(root: str, left_out: list[LeftOut]) -> str:
    """The `git sparse-checkout add` that brings back what each of `left_out` names: in cone
    mode their folders; else patterns of the pointer files themselves (or of the files Git's
    index holds there), as a folder's pattern brings back no file a `!` pattern before it
    names."""
    if is_cone_sparse_checkout(root):
        folders = sorted({item.folder for item in left_out})
        return f"`git sparse-checkout add {' '.join(for_command(root, f) for f in folders)}`"
    files = sorted({path for item in left_out for path in (item.pointers or item.files)})
    return f"`git sparse-checkout add {' '.join(shell_quote(_pattern(f)) for f in files)}`"


def _pattern(path: str) -> str:
    """The sparse-checkout pattern (gitignore syntax) naming the repository path `path`
    alone, whatever the current directory: anchored at the top, its wildcards escaped."""
    return "/" + "".join("\\" + c if c in "*?[\\" else c for c in path)


def left_out_by_sparse_checkout(repo: Repo, path: str) -> LeftOut | None:
    """The index's files at or below the data path `path`, and at its pointer, when this
    sparse checkout leaves them out of the workspace; else None."""
    files = repo.git.left_out([path, path + POINTER_SUFFIX]) if repo.git is not None else []
    if not files:
        return None
    own = files in ([path], [path + POINTER_SUFFIX])  # else: files below the folder `path`
    return LeftOut(files, os.path.dirname(path) or files[0] if own else path)


def tracked_data_left_out(repo: Repo, paths: list[str]) -> dict[str, LeftOut]:
    """The data paths of `paths` tracked by a pointer that Git's index holds while this sparse
    checkout leaves it out of the workspace (its own pointer, that of a directory holding it,
    or those of data below it), with those pointers: what is on disk there is no version dvx
    can tell (Git leaves the ignored data of a folder it leaves out, another branch's, say).
    One Git process for all of them; none outside a sparse checkout."""
    if repo.git is None or not paths:
        return {}
    asked = sorted({p for path in paths for p in (path, *_pointers_tracking(path))})
    pointers = [p for p in repo.git.left_out(asked) if p.endswith(POINTER_SUFFIX)]
    found: dict[str, LeftOut] = {}
    for path in paths:
        own = set(_pointers_tracking(path))
        below = "" if path == "." else path + "/"
        mine = [p for p in pointers if p in own or p.startswith(below)]
        if mine:
            folders = {os.path.dirname(p) or p for p in mine}
            found[path] = LeftOut(mine, folders.pop() if len(folders) == 1 else path)
    return found


def _pointers_tracking(path: str) -> list[str]:
    """The pointer files that may track the data path `path`: its own, and those of the
    directories holding it."""
    if path == ".":
        return []
    return [tracked + POINTER_SUFFIX for tracked in (path, *folders_above(path))]


def pointers_left_out(repo: Repo) -> list[str]:
    """The pointer files (and dvx.lock) that Git's index holds and the sparse checkout leaves
    out of the workspace: the data they track is tracked still."""
    files = repo.git.left_out(["."]) if repo.git is not None else []
    return [p for p in files if p == LOCK_FILE or p.endswith(POINTER_SUFFIX)]


def _refuse_left_out_by_sparse_checkout(repo: Repo, rel: str, target: str) -> None:
    """A path whose pointer Git's index holds, while the sparse checkout leaves it out of the
    workspace, is tracked: the folder to add to the sparse set is named, and the fetch that
    reads the pointer from the commit instead (what gc needs of it)."""
    path = data_path_of(rel) if rel.endswith(POINTER_SUFFIX) else rel
    left_out = left_out_by_sparse_checkout(repo, path)
    if left_out is None or not left_out.pointers:
        return
    pointers = left_out.pointers
    which = (f"its pointer file '{pointers[0]}' is" if pointers == [path + POINTER_SUFFIX]
             else f"the pointer files of its data ({', '.join(pointers[:3])}"
                  f"{', ...' if len(pointers) > 3 else ''}) are")
    raise UsageError(
        f"'{target}' is tracked by dvx, but {which} in Git's index only: this sparse checkout "
        "leaves it out of the workspace, where dvx reads pointers.",
        f"Add it to the sparse checkout: {left_out.adding(repo.root)}. (`dvx fetch --rev HEAD "
        f"{for_command(repo.root, path)}` fetches its data into the cache without that.)")


def _refuse_other_repositorys_path(repo: Repo, rel: str, target: str) -> None:
    """A path in a Git repository of its own below the root (a submodule, a clone) is that
    repository's: this one's dvx never reads its pointers, which are neither unreadable nor
    missing."""
    folder = nested_repository_at(repo, rel) if repo.git is not None else None
    if folder is None:
        return
    place = "is" if folder == rel else f"is inside '{folder}',"
    raise PathError(f"'{target}' {place} a Git repository of its own (a submodule, say), "
                    f"whose data the dvx of this repository ('{repo.root}') does not track.",
                    f"Run the command in that repository (cd {for_command(repo.root, folder)}).")


def _refuse_absent_part(repo: Repo, directory: Output, rel: str, target: str) -> None:
    """A path inside the tracked directory `directory` that it may not hold
    (`may_hold_part`) is a typo: refused, as checkout refuses it, rather than a command
    doing nothing and saying it succeeded."""
    if may_hold_part(repo, directory, rel):
        return
    raise UsageError(f"'{target}' is not in the tracked directory '{directory.path}'.",
                     f"`dvx ls -R . {for_command(repo.root, directory.path)}` lists what it "
                     "holds.")


def may_hold_part(repo: Repo, output: Output, rel: str, in_workspace: bool = True,
                  tree: Tree | None = None) -> bool:
    """Does the tracked `output` hold the path `rel` below it, or is that not known? It does
    when the workspace has `rel` (`in_workspace`: asked of the workspace, not of a revision;
    new there: status shows it, commit records it), or when `output` is a directory whose
    manifest (`tree`, else the cache's) lists it as a file or a folder. A manifest not in the
    cache (not fetched yet), or invalid, cannot tell: it counts as holding it, and the
    command goes on, and fetches or reports it."""
    if in_workspace and os.path.lexists(repo.abspath(rel)):
        return True
    if not output.pointer.is_dir:
        return False
    try:
        tree = tree or load_tree(repo, output.pointer, output.recorded_in)
    except (FormatError, OSError):
        return True
    return tree is None or tree.holds(rel[len(output.path) + 1:])


def _unique(targets: list[Target]) -> list[Target]:
    """`targets` in their order, each part of the data once: a target the same as another,
    or inside a directory or a folder of it that another names, is dropped, so that a
    command counts each file once (`dvx checkout imgs imgs/a`)."""
    parts: dict[str, set[str | None]] = {}
    for t in targets:
        parts.setdefault(t.output.path, set()).add(t.subpath)
    seen: set[tuple[str, str | None]] = set()
    unique = []
    for t in targets:
        key = (t.output.path, t.subpath)
        if key in seen or _inside_another(t.subpath, parts[t.output.path]):
            continue
        seen.add(key)
        unique.append(t)
    return unique


def _inside_another(subpath: str | None, asked: set[str | None]) -> bool:
    """Is the part `subpath` of a directory inside one of the parts `asked` (None: all of
    it)?"""
    return subpath is not None and (None in asked or any(
        other is not None and subpath.startswith(other + "/") for other in asked))


def pull_first_hint(root: str, path: str) -> str:
    """The way out of a command refused because the cache lacks what the pointer of `path`
    (a repository path) names, a version a `git pull` brought, say: the pull of it, which
    fetches that version and places it, then the command again."""
    return f"Run `dvx pull {for_command(root, path)}` to fetch it, then run this again."


def load_tree(repo: Repo, pointer: Pointer, where: str | None = None) -> Tree | None:
    """The validated manifest of a directory pointer, or None if it is not in the cache.
    `where` (the pointer file, or dvx.lock) is named in the error of an invalid one."""
    key = (pointer.algo, pointer.oid)
    if key in repo.loaded_trees:  # read once a command: checkout asks again for each file
        return repo.loaded_trees[key]
    if not repo.cache.exists(pointer.oid):
        return None
    known_good = repo.statcache.is_valid_tree(pointer.oid)
    try:
        with repo.cache.open(pointer.oid) as src:
            tree = Tree.from_stream(src, pointer.algo, pointer.oid, validated_before=known_good)
    except FormatError as exc:
        if where is None:
            raise
        # A damaged copy says to fetch it again; any other fault is in what was committed.
        raise type(exc)(f"{where} names the directory manifest {pointer.oid}, which is "
                        f"invalid: {exc.message}", exc.hint or "dvx never writes such a "
                        "manifest, and fetching it again brings the same one: it came with "
                        f"the commit that wrote {where}. Restore that file from an earlier "
                        "commit, or ask whoever committed it.") from None
    if not known_good:
        repo.statcache.mark_valid_tree(pointer.oid)
    warn_of_left_out(tree, where or f"The directory manifest {pointer.oid}")
    repo.loaded_trees[key] = tree
    return tree


def warn_of_left_out(tree: Tree, where: str) -> None:
    """Name the partial copies of killed gets an earlier dvx recorded in the manifest
    `tree`, which reading left out (`Tree.left_out`), `where` naming what records it: once a
    command, as a manifest is read once (`Repo.loaded_trees`)."""
    left = tree.left_out
    if left is None:
        return
    copies = ("the partial copy (`held` and `new`) of a `dvx get` killed there"
              if len(left.folders) == 1 else
              "the partial copies (`held` and `new`) of `dvx get`s killed there")
    log.warning("%s records a directory whose manifest lists %s in %s %s: %s, which an "
                "earlier dvx version recorded with the directory's data. They are never data: "
                "dvx leaves them out (never placed, listed, compared or counted as missing), "
                "while gc keeps their objects and push sends them, as for any committed file. "
                "Where that version is checked out, `dvx commit` naming the directory records "
                "it again without them.",
                where, counted(left.nfiles, "file"),
                "its folder" if len(left.folders) == 1 else "its folders",
                named_list(left.folders, most=10, name=quoted), copies)


def load_tree_setting_aside(repo: Repo, pointer: Pointer, where: str | None,
                            then: str | Callable[[], str]) -> Tree | None:
    """As `load_tree`, but a manifest in the cache whose bytes no longer hash to its oid
    (damaged on disk, or in a cache a CI job restored) is moved aside, as `dvx fsck` does,
    with a warning ending in `then` (what the command does instead; a callable is asked
    once the manifest is aside), and counts as not in the cache: for a command that can get
    a good one (download it again, or store it again from the workspace) rather than fail
    on the damaged one every time. The CorruptManifestError stands if it may not be
    moved."""
    try:
        return load_tree(repo, pointer, where)
    except CorruptManifestError as exc:
        repo.cache.new_generation()  # an object leaves the cache
        try:
            moved = repo.cache.quarantine(pointer.oid)
        except FileNotFoundError:  # another process moved it first
            return None
        except OSError:
            raise exc from None
        log.warning("%s Moved it to %s; %s", exc.message, moved,
                    then if isinstance(then, str) else then())
        return None


def without_invalid_manifests(repo: Repo, targets: list[Target]) -> list[Target]:
    """`targets` but those of a directory whose manifest the cache holds and is invalid
    (a path out of its folder, say), each named at the end (`Repo.unreadable`, exit
    status 1), as an unreadable pointer is: the others are still placed."""
    kept = []
    for target in targets:
        output = target.output
        if output.pointer.is_dir:
            try:
                load_tree(repo, output.pointer, output.recorded_in)
            except FormatError as exc:
                skip_invalid_manifest(repo, output, exc)
                continue
        kept.append(target)
    return kept


def skip_invalid_manifest(repo: Repo, output: Output, exc: FormatError) -> None:
    """Name `output`, left out for its invalid manifest (`exc`), at the end of the command
    (`Repo.unreadable`, exit status 1): by its pointer file, or, for a stage's output, by its
    own path, as the other outputs dvx.lock records are still placed."""
    repo.unreadable.setdefault(output.path if output.stage else output.record_file, exc)


def in_cache(repo: Repo, output: Output) -> bool:
    """Is all of the output's data in the cache (a directory's manifest and every file)?"""
    if not output.pointer.is_dir:
        return repo.cache.exists(output.pointer.oid)
    tree = load_tree(repo, output.pointer, output.recorded_in)
    return tree is not None and all(repo.cache.exists(oid) for oid in tree.oids())


def write_pointer(repo: Repo, output_path: str, pointer: Pointer,
                  before_rename: Callable[[], None] = lambda: None) -> None:
    """Write the pointer file of `output_path`; `before_rename` runs once its new bytes are
    on disk, last before they replace the file (`fsutil.rewrite`): a check there that
    raises leaves the pointer file as it is."""
    fsutil.rewrite(repo.abspath(output_path + POINTER_SUFFIX), pointer.to_bytes(),
                   fsync=repo.fsync, before_rename=before_rename)


def pointer_written(repo: Repo, output_path: str, pointer: Pointer) -> bool:
    """Does the pointer file of `output_path` hold `pointer`, byte for byte? After a
    `write_pointer` that raised, whether it got as far as its rename (the moment the pointer
    is written) before a Ctrl-C or a failed fsync of the folder stopped it."""
    return fsutil.holds(repo.abspath(output_path + POINTER_SUFFIX), pointer.to_bytes())


def pointer_change(repo: Repo, output_path: str, was: Pointer | None, data_only: bool = False
                   ) -> str | None:
    """How the pointer file of `output_path` differs from `was`, the pointer a command read
    there before its long part (None: there was none): "was written", "was removed" or
    "changed"; None while it says the same, every field (`data_only`: while it names the same
    data, for a command that reads the data and writes nothing to the pointer). Asked holding
    the repository lock, just before the command writes that pointer (as `write_pointer`'s
    `before_rename`): Git takes no dvx lock, so a `git checkout` or `git pull` may have
    changed it meanwhile, and writing over it would undo that."""
    rel = output_path + POINTER_SUFFIX
    now: Pointer | None = None
    readable = True
    if os.path.lexists(repo.abspath(rel)):
        try:
            now = load_output(repo, rel).pointer
        except DvxError:
            readable = False  # a merge conflict, say: it changed too
    if readable and (same_data(now, was) if data_only else same_pointer(now, was)):
        return None
    return "was written" if was is None else "was removed" if readable and now is None \
        else "changed"


def same_data(one: Pointer | None, other: Pointer | None) -> bool:
    """Do two pointers name the same data (None: no pointer)?"""
    return one.same_data(other) if one is not None else other is None


def same_pointer(one: Pointer | None, other: Pointer | None) -> bool:
    """Do two pointers say the same, every field (`meta` too, which `==` leaves out)?"""
    return (one.to_bytes() if one else None) == (other.to_bytes() if other else None)


# Why a name of the form dvx gives its temporaries cannot be data (see fsutil.temp_target).
TEMPORARY_NAME = ("is named like dvx's own temporary files (.NAME.dvx-<12 hex digits>.tmp), "
                  "which are never data: dvx skips such a file inside a tracked directory and "
                  "deletes one beside tracked data as what an interrupted command left")


def named_like_a_temporary(rel: str) -> bool:
    return fsutil.temp_target(rel.rpartition("/")[2]) is not None


def check_data_path(repo: Repo, rel: str, display: str) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # as a file inside a directory is (workspace.check_entry_name)
        raise PathError(f"{quoted(display)} has a name that is not valid UTF-8.",
                        "Rename it; dvx records names as UTF-8.") from None
    problem = relpath_problem(rel)
    if problem:  # a name the user gave: a refused path, where a file dvx read is malformed
        raise PathError(f"Invalid path {quoted(display)}: {problem}.", "Use another name.")
    check_no_symlinked_parent(repo.root, rel)
    if named_like_a_temporary(rel):
        raise PathError(f"'{display}' {TEMPORARY_NAME}.", "Rename it, then track it.")
    problem = own_file_problem(rel)
    if problem is not None:
        raise PathError(f"'{display}' {problem}, so it cannot be data itself.",
                        "If it is a pointer, name the data it tracks (without the suffix); "
                        "else rename it, then track it." if rel.endswith(POINTER_SUFFIX)
                        else "Commit it with Git instead.")
    _refuse_nested_repository(repo, rel, display)


def check_pointed_data_path(pointer_relpath: str, where: str | None = None) -> str:
    """The data path of the pointer file `pointer_relpath` (shown as `where`), which must be
    a path dvx could track: FormatError, the pointer unreadable, otherwise."""
    data = check_relpath(data_path_of(pointer_relpath), "data path")
    problem = own_file_problem(data)
    if problem is not None:
        raise FormatError(f"The pointer file '{where or pointer_relpath}' names '{data}' as its "
                          f"data, but '{data}' {problem}, so it is never data: no dvx writes "
                          "such a pointer, and following it would write over that file.",
                          "Remove that pointer file (`git rm` it, if Git tracks it); data of "
                          "that name can be tracked under another one.")
    return data


def _refuse_nested_repository(repo: Repo, rel: str, display: str) -> None:
    """A path inside a Git repository of its own below the root (a submodule, a clone), or
    that repository itself, seen on disk by its `.git`. A submodule not checked out has no
    `.git`: Git's index names it (ops/data_places.py refuse_git_tracked)."""
    if repo.git is None:
        return
    folder = nested_repository_at(repo, rel)
    if folder is not None:
        modes = repo.git.index_modes([folder])
        raise nested_repository_error(repo, rel, display, folder,
                                      in_index=modes.get(folder) == GITLINK_MODE)


def nested_repository_at(repo: Repo, rel: str) -> str | None:
    """`rel`, or the folder above it, that is a Git repository of its own for the
    repository around it, as git_sees_repository_at tells: a `.git` file naming a Git
    directory that is gone makes a plain folder, whose files Git adds."""
    folder = rel
    while folder:
        if git_sees_repository_at(repo.abspath(folder)):
            return folder
        folder = folder.rpartition("/")[0]
    return None


def nested_repository_error(repo: Repo, rel: str, display: str, folder: str,
                            in_index: bool = False) -> PathError:
    """Data in a Git repository of its own below the root (a submodule, a clone) is not
    this repository's to track: a pointer there would be committed in that repository, where
    this repository's dvx never looks, so a teammate's clone would not know the data and its
    `gc` would delete it from the remote. `folder` is that repository: `rel` itself, above
    it, or inside it; `in_index`: Git's index names it, as a submodule, checked out or not."""
    checked_out = git_sees_repository_at(repo.abspath(folder))
    what = "a Git repository of its own (a submodule, say)"
    if in_index:
        what = ("a Git repository of its own (a submodule)" if checked_out else
                "a submodule of this Git repository, not checked out")
    there = f"run `dvx init` in '{folder}'"
    if not checked_out:
        there = (f"check it out (git submodule update --init -- {literal_pathspec(folder)}) "
                 f"and run `dvx init` in '{folder}'")
    hint = (f"Track data there with dvx in that repository: {there}, then dvx there; or "
            "choose a path outside it.")
    if checked_out and os.path.isdir(os.path.join(repo.abspath(folder), DVX_DIR)):
        inside = rel[len(folder) + 1:] if rel.startswith(folder + "/") else None
        then = f", then `dvx add {shell_quote(inside)}`" if inside else " and run dvx there"
        hint = (f"'{folder}' is a dvx project already: track data there with dvx in it "
                f"(`cd {for_command(repo.root, folder)}`{then}); or choose a path outside "
                "it.")
    if rel == folder or folder.startswith(rel + "/"):
        place = (f"'{display}' is {what}" if rel == folder else
                 f"'{display}' holds '{folder}', {what}")
        return PathError(f"{place}: its files are that repository's to track, not this one's "
                         f"('{repo.root}').", hint)
    return PathError(
        f"'{display}' is inside '{folder}', {what}: its pointer would be committed there, "
        f"where the dvx of this repository ('{repo.root}') never looks, so a teammate would "
        "not get the data and their `dvx gc` could delete it from the remote.", hint)
