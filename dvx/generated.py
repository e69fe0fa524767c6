"""Files dvx writes into the workspace of itself: the pages `dvx plots` draws (with the images
beside them) and the .gitattributes `dvx install` writes. They are nobody's work, so an
experiment does not record them (experiment_refs.snapshot): a page drawn before a run is
not part of its results, and a file the experiment holds that the user has not committed
makes Git refuse to check out a branch of it (`dvx exp branch`). Install's lines in a
.gitattributes of the user's are kept when `dvx exp apply` writes it as a commit has it."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable

from dvx.errors import DvxError
from dvx.ignore import encode_git_lines, git_lines, read_git_file

PLOTS_PAGE = "index.html"
# Marks a page (and so the images beside it) as written by dvx, which may replace them.
GENERATOR = '<meta name="generator" content="dvx plots">'
IMAGE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.(svg|png)", re.ASCII)
_IMAGE_LIST = re.compile(r'<meta name="dvx-plots-images" content="([^"]*)">')
_HEAD_BYTES = 1 << 20  # the list of images comes before the styles, the data and scripts

ATTRIBUTES_FILE = ".gitattributes"
# The lines `dvx install` writes there: .gitignore too, as dvx adds a line there per tracked
# path, so two branches that each track a file in one directory would otherwise conflict.
INSTALLED_ATTRIBUTES = ("*.dvx merge=dvx", "/dvx.lock merge=dvx", ".gitignore merge=dvx")


def plots_page_head(page: str) -> str | None:
    """The start of `page` (its head, with the list of images) if dvx wrote it: it carries
    GENERATOR near its top. None for a symbolic link or a page of anyone else's."""
    if os.path.islink(page):
        return None
    try:
        with open(page, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return None
    return head.decode("utf-8", "replace") if GENERATOR.encode() in head[:1024] else None


def images_listed_by(page: str) -> list[str] | None:
    """The images a page of dvx's lists as written beside it; none for a page that is not
    dvx's, None for one from a version that did not list them. Only names dvx gives are
    taken, so a page edited by hand cannot make dvx replace or remove anything else."""
    head = plots_page_head(page)
    return [] if head is None else _images_in(head)


def _images_in(head: str) -> list[str] | None:
    """The images the head of a page of dvx's lists (`images_listed_by`)."""
    found = _IMAGE_LIST.search(head)
    return [n for n in found.group(1).split() if IMAGE_NAME.fullmatch(n)] if found else None


def only_installed_attributes(path: str) -> bool:
    """Does the .gitattributes at `path` hold the lines `dvx install` writes and nothing
    else (spacing aside)? False for a symbolic link, a folder or a file that is not there."""
    try:
        data = read_git_file(path)
    except (DvxError, OSError):
        return False
    lines = {_spacing_aside(line) for line in git_lines(data or b"")} - {""}
    return bool(lines) and lines <= set(INSTALLED_ATTRIBUTES)


def keeping_installed_attributes(data: bytes | None, ours: bytes | None) -> bytes | None:
    """The .gitattributes `data` (a commit's; None: it has none) with the lines `dvx install`
    wrote that the workspace's, `ours`, has and `data` lacks, added at its end as install
    adds them: they set up this clone's merge driver, as .dvx/config holds its settings, and
    are no commit's or experiment's to take away."""
    lines = git_lines(data or b"")
    present = {_spacing_aside(line) for line in lines}
    installed = [line for line in git_lines(ours or b"")
                 if _spacing_aside(line) in INSTALLED_ATTRIBUTES
                 and _spacing_aside(line) not in present]
    if not installed:
        return data
    return encode_git_lines(lines + installed, data or ours or b"")


def _spacing_aside(line: str) -> str:
    return " ".join(line.split())


def written_by_dvx(root: str, relpaths: Iterable[str]) -> set[str]:
    """Those of `relpaths` (workspace files under `root`, POSIX paths) that dvx wrote of
    itself: a page `dvx plots` drew and the images it lists beside it, and a .gitattributes
    at the top holding only the lines `dvx install` writes."""
    paths = set(relpaths)
    found = set()
    for rel in paths:
        full = os.path.join(root, rel)
        head = plots_page_head(full) if posixpath.basename(rel) == PLOTS_PAGE else None
        if head is not None:
            folder = posixpath.dirname(rel)
            found.add(rel)
            found |= {posixpath.join(folder, n) for n in _images_in(head) or []} & paths
        elif rel == ATTRIBUTES_FILE and only_installed_attributes(full):
            found.add(rel)
    return found
