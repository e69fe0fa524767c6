"""Params files: YAML, JSON or TOML documents whose values stages depend on, by dotted key."""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from dvx import fsutil
from dvx.errors import FormatError, MergeConflictError
from dvx.paths import (
    check_read_stays_inside,
    for_command,
    from_here,
    join_posix,
    make_readable_hint,
)
from dvx.scm import git_add_command, literal_pathspec, rebase_sides_note
from dvx.textfile import plain_text
from dvx.yamlio import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    DuplicateKeyError,
    UnwritableValueError,
    check_int_digits,
    check_values,
    has_conflict_markers,
    parse_yaml,
)

if TYPE_CHECKING:
    from dvx.repo import Repo

DEFAULT_PARAMS_FILE = "params.yaml"
SUFFIXES = (".yaml", ".yml", ".json", ".toml")
MISSING = object()


def check_params_file_name(rel: str, where: str) -> None:
    if not rel.lower().endswith(SUFFIXES):
        raise FormatError(f"{where}: '{rel}' is not a YAML, JSON or TOML file, so dvx cannot "
                          "read params from it.", "Use a .yaml, .yml, .json or .toml file.")


def read_params(repo: Repo, rel: str) -> dict[str, Any]:
    """The top-level mapping of the params file `rel` of `repo`, parsed safely and
    size-limited. Never read through a link leading outside the repository, as `params diff`
    does not (its values would be recorded in dvx.lock, which Git tracks), but for one into
    the repository's cache wherever it is configured: a params file `dvx add` tracks, placed
    by `cache.type symlink` (a linked worktree's, or a queued run's, leads into the main
    worktree's cache)."""
    root = repo.root
    check_read_stays_inside(root, rel, _cache_files_if_linked(repo, rel))
    return parse_params(params_file_bytes(root, rel), rel, workspace_root=root)


def params_file_bytes(root: str, rel: str, whole: bool = False) -> bytes:
    """The bytes of the params file `rel` of the repository at `root`, as every command
    reads it, `exp run -S` before its edit too: one past the largest parsed (parse_params
    refuses a larger one), or all of it (`whole`: -S edits a config a stage reads as a
    dependency, of any size, and puts it back as it was). One that is a FIFO, socket or
    device is refused at once, never waited on; one that may not be read is named with
    the fix."""
    try:
        return fsutil.read_regular(join_posix(root, rel), -1 if whole else DEFAULT_MAX_BYTES + 1)
    except FileNotFoundError:
        raise FormatError(f"The params file '{rel}' does not exist.",
                          "Create it, or remove the params that name it.") from None
    except PermissionError as exc:
        raise FormatError(f"Cannot read the params file '{rel}': {exc.strerror}.",
                          make_readable_hint(for_command(root, rel))) from None
    except OSError as exc:
        raise FormatError(f"Cannot read the params file '{rel}': {exc.strerror}.") from None


def _cache_files_if_linked(repo: Repo, rel: str) -> str | None:
    """The folder of the cache's objects, which a link `rel` may lead into; None when `rel`
    is no link, so that reading a plain params file never opens the cache."""
    return repo.cache.files_root if os.path.islink(join_posix(repo.root, rel)) else None


def refuse_conflicted(data: bytes, root: str, rel: str) -> None:
    """dvx.yaml or a params file (`rel`) still holding Git's conflict markers is named as the
    merge conflict it is, not as a file that cannot be parsed (Git merges these files of yours
    line by line: dvx's merge driver leaves them alone). The commands its hint suggests name
    the file at `root` from the current directory."""
    if has_conflict_markers(data):
        spec = literal_pathspec(from_here(root, rel))
        raise MergeConflictError(
            f"{rel} holds an unresolved Git merge conflict: both sides changed it.",
            f"Edit it to keep what each side needs and remove the conflict markers "
            f"(<<<<<<<, =======, >>>>>>>), or keep one side with `git checkout --ours "
            f"{spec}` (or --theirs); then `{git_add_command(root, [rel])}`, and `dvx status` "
            f"says which stages must run again.{rebase_sides_note(root)}", rel)


def parse_params(data: bytes, display: str, what: str = "params file",
                 workspace_root: str | None = None) -> dict[str, Any]:
    """The top-level mapping of a YAML, JSON or TOML document (by the suffix of `display`);
    `what` names the kind of file in errors. `workspace_root`: the repository whose workspace
    the file `display` is from, where Git's conflict markers are a merge in progress, named
    as such (in a commit, they are a file that cannot be parsed)."""
    if workspace_root is not None:
        refuse_conflicted(data, workspace_root, display)
    if len(data) > DEFAULT_MAX_BYTES:
        raise FormatError(f"The {what} '{display}' is larger than {DEFAULT_MAX_BYTES} "
                          "bytes; refusing to parse it.")
    lower = display.lower()
    if lower.endswith(".json"):
        doc = _parse_json(data, display, what)
    elif lower.endswith(".toml"):
        doc = _parse_toml(data, display, what)
    else:
        doc = parse_yaml(data, f"{what} '{display}'")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise FormatError(f"The {what} '{display}' is not a mapping of names to values.")
    _check_depth(doc, display, what)
    return doc


def _check_depth(doc: dict[str, Any], display: str, what: str) -> None:
    """Refuse a JSON or TOML document nested deeper than YAML files may be (MAX_DEPTH), so
    the code that walks params and metrics values need not guard its recursion."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise FormatError(f"The {what} '{display}' is nested more than {MAX_DEPTH} "
                                  "levels deep.")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def _parse_json(data: bytes, display: str, what: str) -> Any:
    try:  # a byte order mark is skipped, as in YAML (an editor's, which -S keeps)
        return load_json(plain_text(data))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FormatError(f"The {what} '{display}' is not valid JSON: {exc}.") from None
    except UnwritableValueError as exc:
        raise FormatError(f"The {what} '{display}' cannot be read: {exc}.") from None
    except DuplicateKeyError as exc:
        raise FormatError(f"The {what} '{display}' has the key '{exc.key}' twice in one "
                          "object; dvx will not guess which one is meant.",
                          "Keep one of them, or rename one.") from None


def load_json(text: str, unique_keys: bool = True) -> Any:
    """`json.loads`, refusing a key twice in one object (as YAML files are refused) where
    `json.loads` would keep the last (unless not `unique_keys`: a reader to whom the key
    does not matter), and what `check_values` refuses (JSON's `"\\ud800"`)."""
    doc = json.loads(text, object_pairs_hook=_unique_keys if unique_keys else None,
                     parse_int=lambda digits: int(check_int_digits(digits)))
    check_values(doc)
    return doc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise DuplicateKeyError(key)
        doc[key] = value
    return doc


def _parse_toml(data: bytes, display: str, what: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        doc = tomllib.loads(data.decode("utf-8"))
        check_values(doc)  # tomllib reads `0xfff...` of any length
        return doc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise FormatError(f"The {what} '{display}' is not valid TOML: {exc}.") from None
    except UnwritableValueError as exc:
        raise FormatError(f"The {what} '{display}' cannot be read: {exc}.") from None
    except ValueError:  # tomllib's only other error: Python's limit on converting an integer
        raise FormatError(f"The {what} '{display}' cannot be read: it has an integer of more "
                          f"than {MAX_INT_DIGITS} digits.") from None


def get_param(doc: dict[str, Any], key: str) -> Any:
    """The value the dotted name `key` names (see find_param), or MISSING."""
    found = find_param(doc, key)
    return MISSING if found is None else param_value(found[1])


KeyPath = tuple[Any, ...]  # the keys, as the file has them, and list indexes leading to a value


def is_param_name(key: str) -> bool:
    """Is `key` a dotted name that can name a param (`find_param`): non-empty parts, each a
    key as the file has it, blanks and all (`train.batch size`, TOML's `"odd key"`). `-S`
    and a stage's `params:` take the same names, so a name one takes, the other does."""
    return all(key.split("."))


def find_param(doc: Any, key: str) -> tuple[KeyPath, Any] | None:
    """Where the dotted name `key` leads in `doc`, and the value there; None if nowhere.

    The one rule every command reads a dotted name by (the pipeline, -S, params and
    metrics tables and diffs, exp show): a dot steps into a mapping, or into a list by
    index. A key with a dot in it (`a.b: 9`) is one step, taken only where stepping at each
    dot leads nowhere: a nested `a: {b: 2}` is what `a.b` names wherever each is in the
    file (as DVC finds a param, by its path in the tree), and a dotted key a tool wrote
    alone (`{"val.loss": 0.3}`) still has a name."""
    return _find(doc, key.split("."), ())


def _find(value: Any, parts: list[str], path: KeyPath) -> tuple[KeyPath, Any] | None:
    if not parts:
        return path, value
    if isinstance(value, list):
        head = parts[0]
        if head.isascii() and head.isdigit() and int(head) < len(value):
            return _find(value[int(head)], parts[1:], (*path, int(head)))
        return None
    if isinstance(value, dict):
        for end in range(1, len(parts) + 1):  # the key up to the first dot, then longer
            name = key_named(value, ".".join(parts[:end]))
            if name is not MISSING:
                found = _find(value[name], parts[end:], (*path, name))
                if found is not None:
                    return found
    return None


def key_named(mapping: dict[Any, Any], name: str) -> Any:
    """The key of `mapping` that the dotted-name part `name` names, MISSING if none: the
    string itself, else a key of another type (YAML's `1:`, `true:`) spelled `name` as
    `normalize` writes it, the name params tables and diffs show it by."""
    if name in mapping:
        return name
    return next((key for key in mapping if not isinstance(key, str) and str(key) == name),
                MISSING)


def param_value(value: Any) -> Any:
    """What dvx.lock and run-cache keys record of a params value: `normalize`, but a
    non-finite float stays a float (`.inf` in dvx.lock, `Infinity` in a run key), so it
    differs from the string 'inf' as 1 differs from '1'."""
    return normalize(value, keep_non_finite=True)


def same_value(a: Any, b: Any) -> bool:
    """Whether two values are the same param or metric: compared as their JSON text, so 1,
    1.0 and true stay different (Python's `1 == 1.0 == True` would hide a change) while
    1e-3 and 0.001 are one float."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def normalize(value: Any, keep_non_finite: bool = False) -> Any:
    """A JSON-compatible copy (a non-finite float as its text, unless `keep_non_finite`)."""
    if isinstance(value, dict):
        return {str(k): normalize(v, keep_non_finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v, keep_non_finite) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        finite = value == value and value not in (float("inf"), float("-inf"))
        return value if finite or keep_non_finite else str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class ParamsReader:
    """Reads each params file once per command, and again only when it changed: a command
    sharing one reader across stages (repro) sees what a stage run before wrote there, in an
    output that is a params file or not."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._docs: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {}

    def doc(self, rel: str) -> dict[str, Any]:
        seen = _stat_key(join_posix(self.repo.root, rel))
        cached = self._docs.get(rel)
        if seen is not None and cached is not None and cached[0] == seen:
            return cached[1]
        doc = read_params(self.repo, rel)  # stat first: a change while it reads is seen next
        if seen is not None:
            self._docs[rel] = (seen, doc)
        return doc


def _stat_key(path: str) -> tuple[int, ...] | None:
    """What changes when the file (or the file a link leads to) is rewritten or replaced;
    None if it cannot be read (read_params says why)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
