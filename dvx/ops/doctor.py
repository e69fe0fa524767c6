"""`dvx version` / `dvx doctor`: what this installation and this repository are made of.

A report to paste into a bug report or to read when a transfer or a checkout is slower than
expected: the versions of dvx and of the libraries it runs on, which remote kinds can be used
(their package is installed), and, inside a repository, where its cache is, on which
filesystems the cache and the workspace live, which link types work between them here,
which remotes are configured, which hooks of `dvx install` a clone that has others of
them lacks (one set up by an older dvx), and which of its hooks and merge driver an older
dvx wrote otherwise than `dvx install` writes them now. Nothing the repository holds
changes: the link types are found by linking a temporary file of the cache's to a
temporary name in `.dvx/tmp` (dvx's own folder, made as by any command), both removed.
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dvx import fsutil

if TYPE_CHECKING:
    from dvx.repo import Repo

# What dvx runs on, then what its optional remote kinds and plots need.
LIBRARIES = ("fsspec", "xxhash", "click", "pyyaml", "ruamel.yaml", "tqdm", "s3fs",
             "sshfs", "aiohttp", "gcsfs", "adlfs", "vl-convert-python")
LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")


@dataclass
class Remote:
    name: str
    url: str  # credentials hidden
    default: bool


@dataclass
class Repository:
    root: str
    git: bool
    workspace_filesystem: str | None  # None: not known here
    cache: str | None = None  # None: the cache's place could not be found out
    cache_filesystem: str | None = None
    cache_type: list[str] = field(default_factory=list)  # as configured, in order
    link_types: dict[str, bool] | None = None  # None: not known, `link_types_unknown` says why
    link_types_unknown: str | None = None
    remotes: list[Remote] = field(default_factory=list)
    hash: str | None = None  # core.hash; None: its value is not valid, `problems` says why
    # The hooks `dvx install` sets up that this clone, which has others of them, lacks
    missing_hooks: list[str] = field(default_factory=list)
    # dvx's hooks (and "merge driver") an older dvx wrote, which import a `dvx/` folder or a
    # `platform.py` at the repository's top: `dvx install` writes them anew
    unsafe_hooks: list[str] = field(default_factory=list)
    # dvx's hooks (and "merge driver") in a form an older dvx wrote, other than those above:
    # `dvx install` writes them anew
    outdated_hooks: list[str] = field(default_factory=list)


@dataclass
class Report:
    versions: dict[str, str | None]
    supports: list[str]  # remote kinds whose package is installed
    repository: Repository | None = None  # None: not run inside a repository
    problems: list[str] = field(default_factory=list)  # what could not be found out, and why

    def as_dict(self) -> dict[str, Any]:
        return {**self.versions, "supports": self.supports,
                "repository": asdict(self.repository) if self.repository is not None else None,
                "problems": self.problems}


def versions() -> dict[str, str | None]:
    """dvx's, Python's, the platform's, Git's and the libraries' (None: not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from dvx import __version__
    from dvx.scm import git_version

    found: dict[str, str | None] = {"dvx": __version__, "python": platform.python_version(),
                                    "platform": platform.platform(), "git": git_version()}
    for package in LIBRARIES:
        try:
            found[package] = package_version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def supported_remotes() -> list[str]:
    """The remote kinds usable here: those whose implementing package can be imported."""
    from importlib.util import find_spec

    from dvx.remote.backends import BACKENDS

    usable = []
    for backend in BACKENDS:
        try:
            if find_spec(backend.module) is not None:
                usable.append(backend.name)
        except (ImportError, ValueError):  # a broken installation: not usable
            continue
    return usable


def report(repo: Repo | None) -> Report:
    found = Report(versions(), supported_remotes())
    if repo is not None:
        found.repository = _repository(repo, found.problems)
    return found


def _repository(repo: Repo, problems: list[str]) -> Repository:
    from dvx.errors import DvxError
    from dvx.ops.install import missing_hooks, outdated_hooks, unsafe_hooks
    from dvx.ops.remote import list_remotes

    about = Repository(repo.root, repo.git is not None, filesystem_of(repo.root))
    about.missing_hooks = missing_hooks(repo)
    about.unsafe_hooks = unsafe_hooks(repo)
    about.outdated_hooks = outdated_hooks(repo)
    try:
        about.cache = repo.cache_dir
        about.cache_filesystem = filesystem_of(about.cache)
        about.cache_type = list(repo.link_types)
    except DvxError as exc:
        problems.append(f"The cache: {exc.message}")
    else:
        try:
            about.link_types = working_link_types(os.path.join(about.cache, "tmp"),
                                                  repo.tmp_dir)
        except (DvxError, OSError) as exc:
            why = exc.message if isinstance(exc, DvxError) else exc.strerror or str(exc)
            about.link_types_unknown = f"no test file could be written: {why}"
        else:
            if about.link_types is None:
                about.link_types_unknown = "the cache does not exist yet"
    try:
        about.hash = repo.algo
    except DvxError as exc:
        problems.append(f"The hash algorithm: {exc.message}")
    try:
        about.remotes = [Remote(info.name, info.url, info.is_default)
                         for info in list_remotes(repo)]
    except DvxError as exc:
        problems.append(f"The remotes: {exc.message}")
    return about


def working_link_types(source_dir: str, target_dir: str) -> dict[str, bool] | None:
    """Which link types can place a file of `source_dir` (the cache's) in `target_dir` (the
    workspace's): each tried once on a temporary file. None when either folder does not
    exist yet (a cache is made by the first command that stores something in it); OSError
    when the test itself cannot be made (a folder dvx may not write), which tells nothing
    of the link types."""
    if not os.path.isdir(os.path.dirname(source_dir)) or not os.path.isdir(target_dir):
        return None
    made = not os.path.isdir(source_dir)
    os.makedirs(source_dir, exist_ok=True)  # the cache's own temporaries' folder
    source = fsutil.temp_name_for(os.path.join(source_dir, "doctor"))
    works = {}
    try:
        with open(source, "xb") as f:
            f.write(b"dvx doctor\n")
        for link_type in LINK_TYPES:
            target = fsutil.temp_name_for(os.path.join(target_dir, "doctor"))
            try:
                fsutil.LINKERS[link_type](source, target)
                works[link_type] = True
            except OSError as exc:
                if exc.errno not in fsutil.UNSUPPORTED_ERRNOS and link_type != "reflink":
                    raise  # not the link type's failure: the test's (as place() tells them)
                works[link_type] = False
            finally:
                fsutil.remove_quietly(target)
    finally:
        fsutil.remove_quietly(source)
        if made:
            with contextlib.suppress(OSError):  # another command's temporaries are in it
                os.rmdir(source_dir)
    return works


def filesystem_of(path: str) -> str | None:
    """The type of the filesystem holding `path` (ext4, xfs, nfs, ...), from the mount table
    of Linux; None where there is none to read or no mount holds the path."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            table = [line.split()[1:3] for line in mounts if len(line.split()) >= 3]
    except OSError:
        return None
    real = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for mount_point, fs_type in table:
        mount_point = _unescaped(mount_point)
        if _within(real, mount_point) and (best is None or len(mount_point) > best[0]):
            best = (len(mount_point), fs_type)
    return best[1] if best else None


def _unescaped(field: str) -> str:
    """A field of the mount table, whose space, tab, newline and backslash are written as
    octal escapes (`\\040`)."""
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _within(path: str, folder: str) -> bool:
    return folder == "/" or path == folder or path.startswith(folder.rstrip("/") + "/")
