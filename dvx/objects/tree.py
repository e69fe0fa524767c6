"""Directory manifests ("trees"): canonical, validated, content-addressed.

A tracked directory is stored as a manifest object listing every regular file below it. The
encoding is canonical JSON Lines (see docs/formats.md):

    {"algo":"xxh128","format":"dvx-tree","version":1}
    ["images/cat.png","<oid>",1234,false]
    ...

one line per file, sorted by path, fields [path, oid, size, executable]. The same directory
content therefore always yields the same bytes and the same manifest oid. A manifest read from
anywhere is checked against its oid, its canonical form, and the path rules before use.
"""

from __future__ import annotations

import io
import json
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) quotes with
from typing import IO, NamedTuple, overload

from dvx.errors import CorruptManifestError, FormatError, InvalidOidError, NewerFormatError
from dvx.fsutil import NAME_MAX, PATH_MAX, temp_target
from dvx.get_scratch import BUILT, HELD, is_scratch_name
from dvx.get_scratch import PREFIX as SCRATCH_PREFIX
from dvx.hashing import ALGORITHMS, MAX_SIZE, check_oid, hash_bytes
from dvx.ignore import IGNORE_FILE, is_ignore_file
from dvx.paths import POINTER_SUFFIX, RESERVED_NAMES, check_relpath

FORMAT = "dvx-tree"
VERSION = 1
MAX_MANIFEST_BYTES = 1 << 30


class LeftOut(NamedTuple):
    """The partial copies of killed `dvx get`s (`held` and `new` in the `folders` they built
    them in) an earlier dvx recorded with a directory: reading leaves them out, as never data
    (never placed, never counted as missing), and only a manifest being written refuses
    them. Their `objects` ((oid, size) of each file) stay what the manifest names: gc keeps
    them and push sends them, as for any file a committed manifest lists."""
    folders: tuple[str, ...]
    objects: tuple[tuple[str, int], ...]

    @property
    def size(self) -> int:
        return sum(size for _, size in self.objects)

    @property
    def nfiles(self) -> int:
        return len(self.objects)


class TreeEntry(NamedTuple):  # a tuple: manifests hold one per file, so it must be cheap
    path: str  # POSIX, relative to the tracked directory
    oid: str
    size: int
    executable: bool = False


CHUNK_ROWS = 8192  # entries encoded at a time: bounded scratch memory
CHUNK_BYTES = 1 << 20  # of a manifest parsed at a time


class PathColumn(Sequence[str]):
    """Sorted paths held as one string and the offset where each ends: about 50 bytes per
    path less than a list of strings. Indexing makes the path's string on demand."""

    __slots__ = ("_ends", "_text")

    def __init__(self, text: str, ends: array[int]) -> None:
        self._text, self._ends = text, ends

    @classmethod
    def of(cls, paths: Iterable[str]) -> PathColumn:
        ends, total, parts = array("q"), 0, []
        for path in paths:
            total += len(path)
            ends.append(total)
            parts.append(path)
        return cls("".join(parts), ends)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._ends)))]
        if index < 0:
            index += len(self._ends)
        end = self._ends[index]  # raises IndexError past the end, as a list does
        return self._text[self._ends[index - 1] if index else 0:end]

    def __iter__(self) -> Iterator[str]:
        text, start = self._text, 0
        for end in self._ends:
            yield text[start:end]
            start = end

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PathColumn):
            return self._text == other._text and self._ends == other._ends
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]


class Tree:
    """A manifest held in columns rather than one object per file: the paths (sorted), the
    oids as one string of fixed-width hex, the sizes in an array and the executable bits in
    bytes. A directory of a million files costs about 130 bytes per entry instead of about
    500, and entries are made into TreeEntry tuples only while they are looked at."""

    __slots__ = ("_execs", "_oids", "_sizes", "_width", "algo", "left_out", "paths")

    def __init__(self, algo: str, paths: PathColumn, oids: str, sizes: array[int],
                 execs: bytearray, left_out: LeftOut | None = None) -> None:
        self.algo = algo
        self.paths = paths  # sorted, unique
        self._width = ALGORITHMS[algo].hex_length
        self._oids = oids
        self._sizes = sizes
        self._execs = execs
        self.left_out = left_out  # read only: what a manifest lists that is never data

    @classmethod
    def build(cls, algo: str, entries: Iterable[TreeEntry]) -> Tree:
        ordered = sorted(entries, key=lambda e: e.path)
        _validate_entries(ordered, algo)
        return cls(algo, PathColumn.of(e.path for e in ordered), "".join(e.oid for e in ordered),
                   array("q", (e.size for e in ordered)),
                   bytearray(e.executable for e in ordered))

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and (
            self.algo, self.paths, self._oids, self._sizes, self._execs) == (
            other.algo, other.paths, other._oids, other._sizes, other._execs)

    __hash__ = None  # type: ignore[assignment]  # mutable columns: not hashable

    def __repr__(self) -> str:
        return f"Tree({self.algo!r}, {len(self.paths)} entries)"

    def entry(self, index: int) -> TreeEntry:
        width = self._width
        return TreeEntry(self.paths[index], self._oids[index * width:(index + 1) * width],
                         self._sizes[index], bool(self._execs[index]))

    def oid_at(self, index: int) -> str:
        width = self._width
        return self._oids[index * width:(index + 1) * width]

    def size_at(self, index: int) -> int:
        return self._sizes[index]

    def executable_at(self, index: int) -> bool:
        return bool(self._execs[index])

    @property
    def entries(self) -> _Entries:
        """Every entry, in path order (made one at a time while iterated)."""
        return _Entries(self)

    def oids(self) -> Iterator[str]:
        """Every entry's oid, in path order."""
        width, oids = self._width, self._oids
        return (oids[start:start + width] for start in range(0, len(oids), width))

    def sizes(self) -> Iterator[int]:
        return iter(self._sizes)

    def rows(self) -> Iterator[tuple[str, str, int]]:
        """(path, oid, size) of every entry, in path order."""
        return zip(self.paths, self.oids(), self._sizes, strict=True)

    def get(self, path: str) -> TreeEntry | None:
        """The entry at `path`, or None (a binary search: no per-path index is kept)."""
        index = bisect_left(self.paths, path)
        if index < len(self.paths) and self.paths[index] == path:
            return self.entry(index)
        return None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def holds(self, path: str) -> bool:
        """Is `path` one of the files, or a folder holding some of them? Paths are sorted, so
        the files below a folder start at the first path from 'folder/' on."""
        index = bisect_left(self.paths, path)
        if index < len(self.paths) and self.paths[index] == path:
            return True
        index = bisect_left(self.paths, path + "/")
        return index < len(self.paths) and self.paths[index].startswith(path + "/")

    def paths_inside(self, folder: str) -> list[str]:
        """The files below `folder`: sorted, they run from the first path from 'folder/' on
        to the last before 'folder0' ('0' sorts right after '/')."""
        start = bisect_left(self.paths, folder + "/")
        return self.paths[start:bisect_left(self.paths, folder + "0", start)]

    def by_path(self) -> dict[str, TreeEntry]:
        return {e.path: e for e in self.entries}

    @property
    def size(self) -> int:
        return sum(self._sizes)

    @property
    def nfiles(self) -> int:
        return len(self.paths)

    def recorded_counts(self) -> tuple[int, int]:
        """(size, nfiles) of every entry the manifest lists, those left out on reading
        (`left_out`) too: what its pointer records."""
        extra = self.left_out or LeftOut((), ())
        return self.size + extra.size, self.nfiles + extra.nfiles

    def every_object(self) -> Iterator[tuple[str, int]]:
        """(oid, size) of every file the manifest lists, those left out on reading too: what
        a remote must hold, and gc keep, for it."""
        yield from zip(self.oids(), self._sizes, strict=True)
        if self.left_out is not None:
            yield from self.left_out.objects

    def every_oid(self) -> Iterator[str]:
        """The oid of every file the manifest lists, those left out on reading too."""
        return (oid for oid, _ in self.every_object())

    # -- the canonical encoding ------------------------------------------------------------

    def to_bytes(self) -> bytes:
        out = bytearray(_header(self.algo) + b"\n")
        for start in range(0, len(self.paths), CHUNK_ROWS):
            rows = range(start, min(start + CHUNK_ROWS, len(self.paths)))
            out += "".join(_line(self.entry(i)) + "\n" for i in rows).encode("utf-8")
        return bytes(out)

    def oid(self) -> str:
        return hash_bytes(self.to_bytes(), self.algo)

    @classmethod
    def from_bytes(cls, data: bytes, algo: str, expected_oid: str, *,
                   validated_before: bool = False) -> Tree:
        """Parse and fully validate a manifest that must have oid `expected_oid`."""
        return cls.from_stream(io.BytesIO(data), algo, expected_oid,
                               validated_before=validated_before)

    @classmethod
    def from_stream(cls, src: IO[bytes], algo: str, expected_oid: str, *,
                    validated_before: bool = False) -> Tree:
        """Read, parse and fully validate a manifest that must have oid `expected_oid`.

        The bytes are always checked against the oid; with `validated_before` (these exact
        bytes passed validation earlier) the structural checks are skipped. The manifest is
        read, hashed and parsed a window at a time: neither its bytes nor its lines are ever
        held whole. A damaged manifest is reported as corrupt (its hash) before any format
        error found on the way.
        """
        check_oid(expected_oid, algo)
        where = f"directory manifest {expected_oid}"
        hasher = ALGORITHMS[algo].new()
        parser = _Parser(algo, where, check=not validated_before)
        total, failure = 0, None
        while chunk := src.read(CHUNK_BYTES):
            total += len(chunk)
            if total > MAX_MANIFEST_BYTES:
                raise FormatError(f"The {where} is larger than {MAX_MANIFEST_BYTES} bytes.")
            hasher.update(chunk)
            if failure is None:
                try:
                    parser.feed(chunk)
                except FormatError as exc:
                    failure = exc  # reported only if the bytes are what the oid says
        actual = hasher.hexdigest()
        if actual != expected_oid:
            raise CorruptManifestError(f"The {where} is corrupt: its bytes hash to {actual}.",
                                       CORRUPT_MANIFEST_HINT)
        if failure is not None:
            raise failure
        return parser.finish()


# A manifest never pushed has no copy to fetch, but the workspace may hold the directory.
CORRUPT_MANIFEST_HINT = (
    "If a remote has it, `dvx fetch` downloads it again; if none does (it was never pushed) "
    "and the workspace still holds the directory, `dvx commit DIR` stores it again from "
    "there. Both move the damaged copy aside first, as `dvx fsck` does.")


class _Parser:
    """Manifest bytes fed a window at a time, made into whole lines for `_Columns`."""

    def __init__(self, algo: str, where: str, check: bool) -> None:
        self.algo, self.where, self.check = algo, where, check
        self.partial = bytearray()  # the start of a line whose end has not come yet
        self.header_seen = False
        self.columns = _Columns(algo, where, check)

    def feed(self, chunk: bytes) -> None:
        last = chunk.rfind(b"\n")
        if last < 0:
            self.partial += chunk
            return
        lines = (bytes(self.partial) + chunk[:last]).split(b"\n")
        self.partial = bytearray(chunk[last + 1:])
        if not self.header_seen:
            self._check_header(lines[0])
            self.header_seen = True
            del lines[0]
        if lines:
            self.columns.add_lines(lines)

    def _check_header(self, line: bytes) -> None:
        if not self.check:
            return
        try:
            header = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FormatError(f"The {self.where} is not valid UTF-8 JSON Lines.") from None
        if header != {"algo": self.algo, "format": FORMAT, "version": VERSION}:
            version = header.get("version") if isinstance(header, dict) else None
            if (type(version) is int and version > VERSION
                    and header.get("format") == FORMAT):  # fetching it again cannot help
                raise NewerFormatError.of(f"The {self.where}", version)
            shown = line[:200].decode("utf-8", "replace")
            raise FormatError(f"The {self.where} has an unsupported header {shown!r}.")
        if line != _header(self.algo):
            raise FormatError(f"The {self.where} is not in canonical form.")

    def finish(self) -> Tree:
        if not self.header_seen or self.partial:  # no line at all, or no final line break
            raise FormatError(f"The {self.where} is not in canonical form.")
        return self.columns.finish()


def _header(algo: str) -> bytes:
    return json.dumps({"algo": algo, "format": FORMAT, "version": VERSION}, sort_keys=True,
                      separators=(",", ":")).encode()


def first_line(algo: str) -> bytes:
    """The bytes every manifest of `algo` begins with (its header line): an object that
    begins otherwise is not one, which a read of that many bytes tells."""
    return _header(algo) + b"\n"


class _Entries:
    """A tree's entries as a read-only sequence of TreeEntry, made on demand."""

    __slots__ = ("_tree",)

    def __init__(self, tree: Tree) -> None:
        self._tree = tree

    def __len__(self) -> int:
        return len(self._tree.paths)

    def __iter__(self) -> Iterator[TreeEntry]:
        tree, width = self._tree, self._tree._width
        oids, sizes, execs = tree._oids, tree._sizes, tree._execs
        return (TreeEntry(path, oids[i * width:(i + 1) * width], sizes[i], bool(execs[i]))
                for i, path in enumerate(tree.paths))

    def __getitem__(self, index: int) -> TreeEntry:
        return self._tree.entry(index)


def _line(e: TreeEntry) -> str:
    # Exactly json.dumps([path, oid, size, executable], ensure_ascii=False,
    # separators=(",", ":")), without the encoder's set-up per call (5x faster: a manifest
    # of 100,000 files is encoded on every add and checked on every full read).
    quote = encode_basestring
    return f'[{quote(e.path)},{quote(e.oid)},{e.size},{"true" if e.executable else "false"}]'


class _Columns:
    """Builds a Tree from manifest lines, a chunk at a time, checking each chunk as it goes
    (types, path rules, oids, order, canonical form) unless the bytes were checked before."""

    def __init__(self, algo: str, where: str, check: bool) -> None:
        self.algo, self.where, self.check = algo, where, check
        self.texts: list[str] = []  # the paths, a chunk's joined at a time
        self.ends = array("q")
        self.previous: str | None = None  # the last path added
        self.oids: list[str] = []  # joined at the end
        self.sizes = array("q")
        self.execs = bytearray()
        self.parents: set[str] = set()  # every directory named: one per folder, not per file
        self.left_folders: list[str] = []  # of killed gets, an earlier dvx recorded
        self.left_objects: list[tuple[str, int]] = []
        # The rows of the folder named as a get's being read: its rows are next to each
        # other (sorted), maybe over several windows, and judged once all are read.
        self.scratch_folder: str | None = None
        self.scratch_rows: list[list] = []

    def add_lines(self, lines: list[bytes]) -> None:
        text = b"[" + b",".join(lines) + b"]"
        try:
            rows = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FormatError(f"The {self.where} is not valid UTF-8 JSON Lines.") from None
        if self.check:
            self._check(rows, lines)
        if rows:
            self.previous = rows[-1][0]  # the order is checked with the entries left out
        if _SCRATCH_MARK in text or self.scratch_folder is not None:
            rows = self._without_scratch_folders(rows)  # canonical: a name is as written
        if not rows:
            return
        total = self.ends[-1] if self.ends else 0
        for row in rows:
            total += len(row[0])
            self.ends.append(total)
        self.texts.append("".join(row[0] for row in rows))
        self.oids.append("".join(row[1] for row in rows))
        self.sizes.extend(row[2] for row in rows)
        self.execs.extend(bool(row[3]) for row in rows)

    def _without_scratch_folders(self, rows: list[list]) -> list[list]:
        """`rows` but those in a folder named as a get's, held until the folder's last row
        is read (`_judge_scratch_folder`)."""
        kept = []
        for row in rows:
            folder = scratch_folder_of(row[0])
            if folder != self.scratch_folder:
                self._judge_scratch_folder()
                self.scratch_folder = folder
            if folder is None:
                kept.append(row)
            else:
                self.scratch_rows.append(row)
        return kept

    def _judge_scratch_folder(self) -> None:
        """Leave out the folder whose rows were held if they are a killed get's partial
        copy; refuse the manifest if they are anything else: what a `get --force` moved
        aside (`old`) or a folder the user laid out so is data, never dropped."""
        folder, rows = self.scratch_folder, self.scratch_rows
        self.scratch_folder, self.scratch_rows = None, []
        if folder is None:
            return
        inside = [(row[0][len(folder) + 1:], row[2]) for row in rows]
        if not is_partial_copy(inside):
            kept = next((f"{folder}/{rel}" for rel, _ in inside
                         if rel.split("/")[0] not in (HELD, BUILT)), rows[0][0])
            _refuse_temporary_name(kept)
        self.left_folders.append(folder)
        self.left_objects += [(row[1], row[2]) for row in rows]

    def _check(self, rows: list[object], lines: list[bytes]) -> None:
        for row in rows:
            if (not isinstance(row, list) or len(row) != 4 or not isinstance(row[0], str)
                    or not isinstance(row[1], str) or not isinstance(row[2], int)
                    or isinstance(row[2], bool) or not 0 <= row[2] <= MAX_SIZE
                    or not isinstance(row[3], bool)):
                raise FormatError(f"The {self.where} has a malformed entry {str(row)[:200]!r}.")
        entries = [TreeEntry(*row) for row in rows]  # type: ignore[misc]
        _check_entries(entries, self.algo, reading=True)
        previous = self.previous
        for entry, line in zip(entries, lines, strict=True):
            if entry.path == previous:
                raise FormatError(f"A directory manifest lists '{entry.path}' twice.")
            if (previous is not None and entry.path < previous) or (
                    _line(entry).encode("utf-8") != line):
                raise FormatError(f"The {self.where} is not in canonical form.")
            previous = entry.path
            _note_parents(entry.path, self.parents)

    def finish(self) -> Tree:
        self._judge_scratch_folder()
        paths = PathColumn("".join(self.texts), self.ends)
        if self.check:
            _refuse_file_directory_clash(paths, self.parents)
        left_out = LeftOut(tuple(self.left_folders),
                           tuple(self.left_objects)) if self.left_folders else None
        return Tree(self.algo, paths, "".join(self.oids), self.sizes, self.execs, left_out)


def _validate_entries(entries: list[TreeEntry], algo: str) -> None:
    """Entries about to become a manifest (sorted by path): path rules, oids, no duplicate,
    no path that is both a file and a directory."""
    _check_entries(entries, algo)
    parents: set[str] = set()
    for previous, entry in zip([None, *entries], entries, strict=False):
        if previous is not None and previous.path == entry.path:
            raise FormatError(f"A directory manifest lists '{entry.path}' twice.")
        _note_parents(entry.path, parents)
    _refuse_file_directory_clash([e.path for e in entries], parents)


def _check_entries(entries: list[TreeEntry], algo: str, reading: bool = False) -> None:
    """Refuse an entry no manifest may list; `reading` (a manifest read, not one being
    written), one in a folder a killed get built in passes: reading leaves it out."""
    # All paths and oids are screened at once; only if something looks unusual is each one
    # checked, to find it and say what is wrong with it.
    checked_each = not (_paths_look_ordinary([e.path for e in entries])
                        and _oids_look_valid([e.oid for e in entries], algo))
    for e in entries:
        if checked_each:
            check_relpath(e.path, "path in a directory manifest")
            if not (reading and scratch_folder_of(e.path) is not None):
                _refuse_temporary_name(e.path)
                _refuse_ignore_file(e.path)
                _refuse_pointer_name(e.path)
            try:
                check_oid(e.oid, algo)
            except InvalidOidError as exc:
                raise FormatError(f"A directory manifest lists '{e.path}' with an invalid "
                                  f"object id: {exc.message}") from None
        if len(e.path) > _SURELY_SHORT:
            _check_length(e.path)


def _refuse_temporary_name(path: str) -> None:
    """A file named as dvx names its temporaries is never data (a workspace walk skips it, a
    checkout deletes it as an interrupted write's): listed, it would be placed and then
    found missing by every status."""
    if temp_target(path.rpartition("/")[2]) is not None:
        raise FormatError(f"A directory manifest lists '{path}', named as dvx names its "
                          "temporary files (.NAME.dvx-<12 hex digits>.tmp), which are never "
                          "data.")
    if scratch_folder_of(path) is not None:
        raise FormatError(f"A directory manifest lists '{path}', in a folder named as `dvx "
                          "get` names the folder it builds its copy in (.dvx-get-<8 random "
                          "characters>), a name dvx never records in a directory's data "
                          "(`dvx add` and `commit` refuse it).")


def scratch_folder_of(path: str) -> str | None:
    """The first folder on `path` (a manifest's entry) named as a get's scratch folder
    (`.dvx-get-` and 8 random characters), as a path; None if there is none."""
    folders = path.split("/")[:-1]
    for depth, folder in enumerate(folders):
        if is_scratch_name(folder):
            return "/".join(folders[:depth + 1])
    return None


def is_partial_copy(inside: list[tuple[str, int]]) -> bool:
    """Are the files a manifest lists in a folder named as a get's ((path relative to it,
    size)) laid out as a get lays out its partial copy (`get_scratch.is_scratch_folder`):
    `held` alone, or `held` naming a path (not empty) beside `new`? `old` is never one."""
    sizes = dict(inside)
    if HELD not in sizes:
        return False
    if len(inside) == 1:
        return True
    return sizes[HELD] > 0 and all(rel == BUILT or rel.startswith(BUILT + "/")
                                   for rel, _ in inside if rel != HELD)


_SCRATCH_MARK = SCRATCH_PREFIX.encode()


def _refuse_ignore_file(path: str) -> None:
    """A .dvxignore is never data (a workspace walk leaves it out, and it tells dvx which
    files it leaves out): listed, it would be placed, change what the folder holds, and then
    be found missing by every status."""
    if is_ignore_file(path):
        raise FormatError(f"A directory manifest lists '{path}', a {IGNORE_FILE} file, which "
                          "tells dvx which files to leave out and is never data.")


def _refuse_pointer_name(path: str) -> None:
    """A file named as dvx names its pointer files is never data inside a tracked directory
    (`dvx add` and `commit` refuse one there): listed, it would be placed, and the next
    commit of the directory refused."""
    if path.endswith(POINTER_SUFFIX):
        raise FormatError(f"A directory manifest lists '{path}', named as dvx names its "
                          f"pointer files (ending in '{POINTER_SUFFIX}'), which are never data "
                          "inside a tracked directory.")


def _note_parents(path: str, parents: set[str]) -> None:
    parent = path.rpartition("/")[0]
    while parent and parent not in parents:
        parents.add(parent)
        parent = parent.rpartition("/")[0]


def _refuse_file_directory_clash(paths: Sequence[str], parents: set[str]) -> None:
    """A folder is rarely also a file: look each folder up among the (sorted) paths, one
    binary search per folder, rather than keeping a set of every path."""
    clash = [d for d in parents if _sorted_contains(paths, d)]
    if clash:
        raise FormatError(
            f"A directory manifest lists '{min(clash)}' both as a file and as a directory."
        )


def _sorted_contains(paths: Sequence[str], path: str) -> bool:
    index = bisect_left(paths, path)
    return index < len(paths) and paths[index] == path


_SURELY_SHORT = NAME_MAX // 4  # characters: at most 4 bytes each in UTF-8


def _check_length(path: str) -> None:
    """No filesystem holds a path longer than PATH_MAX or a name longer than NAME_MAX: such
    an entry is refused here, not met half-way through a checkout."""
    encoded = path.encode("utf-8", "surrogateescape")
    longest = max(len(part) for part in encoded.split(b"/"))
    if len(encoded) >= PATH_MAX or longest > NAME_MAX:
        raise FormatError(f"A directory manifest lists a path that no filesystem can hold "
                          f"({len(encoded)} bytes, a name of {longest}): "
                          f"'{path[:60]}...'.")


# ".tmp/": a file name ending in .tmp, which may be one dvx gives its temporaries; ".dvx/":
# one ending as a pointer file's name does; "/.dvx-get-": maybe the folder a get builds in.
_UNUSUAL_IN_PATHS = ("\x00", "\\", "\n", "\r", ":", "//", "/./", "/../", ".tmp/",
                     f"/{SCRATCH_PREFIX}", f"/{IGNORE_FILE}/", f"{POINTER_SUFFIX}/")


def _paths_look_ordinary(paths: list[str]) -> bool:
    """True if every path surely passes `check_relpath` and `_refuse_temporary_name`: with
    all paths joined by '/', and '/' around them, an empty, '.', '..' or reserved component
    shows up as '//', '/./', '/../' or '/.git/'. Anything unusual (a ':' too, for drive
    letters, a name ending in '.tmp' or '.dvx', or a .dvxignore) returns False."""
    try:
        joined = "/" + "/".join(paths) + "/"
    except TypeError:  # a path that is not a string
        return False
    if any(mark in joined for mark in _UNUSUAL_IN_PATHS):
        return False
    if not joined.isascii():
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not a name dvx records
            return False
    folded = joined.lower() if joined.isascii() else joined.casefold()
    return not any(f"/{name}/" in folded for name in RESERVED_NAMES)


def _oids_look_valid(oids: list[str], algo: str) -> bool:
    algorithm = ALGORITHMS.get(algo)
    if algorithm is None or not all(type(oid) is str for oid in oids):
        return False
    # Lines of exactly the right length, as many as oids: so no oid hides a line break.
    joined = "\n".join(oids) + "\n"
    if len(joined) != len(oids) * (algorithm.hex_length + 1):
        return False
    return re.fullmatch(f"(?:[0-9a-f]{{{algorithm.hex_length}}}\n)*", joined) is not None
