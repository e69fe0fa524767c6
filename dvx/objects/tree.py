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

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) quotes with
from typing import NamedTuple

from dvx.errors import FormatError, InvalidOidError
from dvx.hashing import ALGORITHMS, check_oid, hash_bytes
from dvx.paths import RESERVED_NAMES, check_relpath

FORMAT = "dvx-tree"
VERSION = 1
MAX_MANIFEST_BYTES = 1 << 30


class TreeEntry(NamedTuple):  # a tuple: manifests hold one per file, so it must be cheap
    path: str  # POSIX, relative to the tracked directory
    oid: str
    size: int
    executable: bool = False


@dataclass(frozen=True)
class Tree:
    algo: str
    entries: tuple[TreeEntry, ...]  # sorted by path, unique

    @classmethod
    def build(cls, algo: str, entries: Iterable[TreeEntry]) -> Tree:
        ordered = tuple(sorted(entries, key=lambda e: e.path))
        _validate_entries(ordered, algo)
        return cls(algo, ordered)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def nfiles(self) -> int:
        return len(self.entries)

    def by_path(self) -> dict[str, TreeEntry]:
        return {e.path: e for e in self.entries}

    def to_bytes(self) -> bytes:
        header = json.dumps({"algo": self.algo, "format": FORMAT, "version": VERSION},
                            sort_keys=True, separators=(",", ":"))
        # Each line is exactly json.dumps([path, oid, size, executable], ensure_ascii=False,
        # separators=(",", ":")), without the encoder's set-up per call (5x faster: a manifest
        # of 100,000 files is encoded on every add and checked on every full read).
        quote = encode_basestring
        lines = [header]
        lines += [f'[{quote(e.path)},{quote(e.oid)},{e.size},{"true" if e.executable else "false"}]'
                  for e in self.entries]
        return ("\n".join(lines) + "\n").encode("utf-8")

    def oid(self) -> str:
        return hash_bytes(self.to_bytes(), self.algo)

    @classmethod
    def from_bytes(cls, data: bytes, algo: str, expected_oid: str, *,
                   validated_before: bool = False) -> Tree:
        """Parse and fully validate a manifest that must have oid `expected_oid`.

        The bytes are always checked against the oid; with `validated_before` (these exact
        bytes passed validation earlier) the structural checks are skipped.
        """
        check_oid(expected_oid, algo)
        where = f"directory manifest {expected_oid}"
        if len(data) > MAX_MANIFEST_BYTES:
            raise FormatError(f"The {where} is larger than {MAX_MANIFEST_BYTES} bytes.")
        actual = hash_bytes(data, algo)
        if actual != expected_oid:
            raise FormatError(f"The {where} is corrupt: its bytes hash to {actual}.",
                              "Run `dvx fetch` to download it again.")
        try:
            text = data.decode("utf-8")
            header_line, _, body = text.partition("\n")
            header = json.loads(header_line)
            # One parse for all entries: each line is a JSON array, so joining them with
            # commas makes one array of arrays (a line break inside a line is escaped).
            rows = json.loads("[" + body.rstrip("\n").replace("\n", ",") + "]")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise FormatError(f"The {where} is not valid UTF-8 JSON Lines.") from None
        if validated_before:
            return cls(algo, tuple(map(TreeEntry._make, rows)))
        if header != {"algo": algo, "format": FORMAT, "version": VERSION}:
            raise FormatError(f"The {where} has an unsupported header {header_line[:200]!r}.")
        entries = []
        for row in rows:
            if (not isinstance(row, list) or len(row) != 4 or not isinstance(row[0], str)
                    or not isinstance(row[1], str) or not isinstance(row[2], int)
                    or isinstance(row[2], bool) or row[2] < 0 or not isinstance(row[3], bool)):
                raise FormatError(f"The {where} has a malformed entry {str(row)[:200]!r}.")
            entries.append(TreeEntry(row[0], row[1], row[2], row[3]))
        tree = cls.build(algo, entries)
        if tree.to_bytes() != data:
            raise FormatError(f"The {where} is not in canonical form.")
        return tree


def _validate_entries(entries: tuple[TreeEntry, ...], algo: str) -> None:
    files: set[str] = set()
    parents: set[str] = set()
    # All paths and oids are screened at once; only if something looks unusual is each one
    # checked, to find it and say what is wrong with it.
    checked_each = not (_paths_look_ordinary([e.path for e in entries])
                        and _oids_look_valid([e.oid for e in entries], algo))
    for e in entries:
        if checked_each:
            check_relpath(e.path, "path in a directory manifest")
            try:
                check_oid(e.oid, algo)
            except InvalidOidError as exc:
                raise FormatError(f"A directory manifest lists '{e.path}' with an invalid "
                                  f"object id: {exc.message}") from None
        if len(e.path) > _SURELY_SHORT:
            _check_length(e.path)
        if e.path in files:
            raise FormatError(f"A directory manifest lists '{e.path}' twice.")
        files.add(e.path)
        parent = e.path.rpartition("/")[0]
        while parent and parent not in parents:
            parents.add(parent)
            parent = parent.rpartition("/")[0]
    clash = files & parents
    if clash:
        raise FormatError(
            f"A directory manifest lists '{min(clash)}' both as a file and as a directory."
        )


PATH_MAX = 4096  # bytes in a whole path (Linux), and in a name:
NAME_MAX = 255
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


_UNUSUAL_IN_PATHS = ("\x00", "\\", "\n", "\r", ":", "//", "/./", "/../")


def _paths_look_ordinary(paths: list[str]) -> bool:
    """True if every path surely passes `check_relpath`: with all paths joined by '/', and
    '/' around them, an empty, '.', '..' or reserved component shows up as '//', '/./',
    '/../' or '/.git/'. Anything unusual (a ':' too, for drive letters) returns False."""
    try:
        joined = "/" + "/".join(paths) + "/"
    except TypeError:  # a path that is not a string
        return False
    if any(mark in joined for mark in _UNUSUAL_IN_PATHS):
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
