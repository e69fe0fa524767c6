"""Configuration: three INI files merged, most specific last.

    global   $XDG_CONFIG_HOME/dvx/config (or ~/.config/dvx/config)   per user
    project  .dvx/config                                             tracked by Git
    local    .dvx/config.local                                       never tracked (credentials)

Sections are `core`, `cache` and `remote "NAME"`. Keys are validated when set; unknown keys
in a file are kept when it is rewritten and ignored when read, so an older dvx does not
destroy settings a newer one wrote.
"""

from __future__ import annotations

import configparser
import contextlib
import functools
import io
import math
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from dvx import faults, fsutil
from dvx.errors import ConfigError, PathError, UnreadableConfigError, note_left_half_done
from dvx.logs import pasted_args, shell_quote
from dvx.paths import make_readable_hint
from dvx.threads import MAX_JOBS
from dvx.user_dirs import user_config_dir
from dvx.yamlio import has_conflict_markers

LEVELS = ("global", "project", "local")
REMOTE_SECTION = re.compile(r'remote "([^"]+)"')
REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _bool(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return "true"
    if lowered in ("false", "no", "0", "off"):
        return "false"
    raise ValueError("expected true or false")


def _link_types(value: str) -> str:
    from dvx.fsutil import LINK_TYPES

    types = [t.strip() for t in value.split(",") if t.strip()]
    bad = [t for t in types if t not in LINK_TYPES]
    if not types or bad:
        raise ValueError(f"expected a comma-separated list of {', '.join(LINK_TYPES)}")
    return ",".join(types)


def _hash(value: str) -> str:
    from dvx.hashing import ALGORITHMS

    if value not in ALGORITHMS:
        raise ValueError(f"expected one of {', '.join(sorted(ALGORITHMS))}")
    return value


def _positive_number(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("expected a number, 0 or more") from None
    if not math.isfinite(number):  # 1e400 is read as infinity
        raise ValueError("expected a finite number, 0 or more")
    if number < 0:
        raise ValueError("expected a number, 0 or more")
    return value


def _seconds(value: str) -> str:
    from dvx.remote.backends import positive_seconds

    positive_seconds(value)
    return value


def is_whole_number(value: str) -> bool:
    """`value` (spaces around it aside) is written in the digits 0-9 alone: Python's
    isdigit() also takes `²` and other digits int() refuses."""
    return re.fullmatch(r"[0-9]+", value.strip()) is not None


def _count(value: str) -> str:
    if not is_whole_number(value):
        raise ValueError("expected a whole number, 0 or more")
    return value


def _jobs(value: str) -> str:
    """As -j/--jobs takes it: a count of 1 (0 would transfer nothing) to MAX_JOBS."""
    if not is_whole_number(value) or not 1 <= int(value) <= MAX_JOBS:
        raise ValueError(f"expected a whole number, 1 to {MAX_JOBS} (as -j takes)")
    return value


def _any(value: str) -> str:
    return value


def _shared(value: str) -> str:
    if value.strip() not in fsutil.SHARED_VALUES:
        raise ValueError(f"expected {' or '.join(fsutil.SHARED_VALUES)} (unset it for a cache "
                         "only its user writes to)")
    return value.strip()


def _url(value: str) -> str:
    if not value.strip():  # would be the current directory: the workspace itself
        raise ValueError("it is empty")
    if value.startswith("-"):  # would read as an option to any tool it is handed to
        raise ValueError("it must not start with '-'")
    if any(ord(char) < 32 for char in value):
        raise ValueError("it contains a control character, such as a line break")
    scheme, sep, rest = value.partition("://")
    if sep and _has_empty_folder(rest, value):
        # An empty folder name: object stores disagree on it (SeaweedFS drops it when it
        # stores a key, so what is pushed would never be found under this URL again).
        raise ValueError(f"its path has an empty folder name ('//'); write "
                         f"{_redact_url(scheme + '://' + _without_empty_folders(rest))}")
    if sep and {".", ".."} & set(rest.split("?", 1)[0].split("/")[1:]) \
            and _keeps_dot_folders(value):
        # An object store keeps them in its keys, where clients and servers that resolve
        # them (SeaweedFS) would look elsewhere: a store of two names, or of none.
        raise ValueError(f"its path has a '.' or '..' folder name; write "
                         f"{_redact_url(scheme + '://' + _without_dot_folders(rest))}")
    return value


def _keeps_dot_folders(url: str) -> bool:
    from dvx.remote.backends import keeps_dot_folders

    return keeps_dot_folders(url)


def _without_dot_folders(rest: str) -> str:
    """`rest` (HOST/PATH) with its path's '.' and '..' folders resolved, as a file system
    would, and its empty folder names dropped."""
    host, _, path = rest.partition("/")
    path, query, after = path.partition("?")
    resolved = posixpath.normpath("/" + path).strip("/")
    return "/".join(part for part in (host, resolved) if part) + query + after


def _redact_url(url: str) -> str:
    from dvx.remote.backends import redact_url

    return redact_url(url)


def _has_empty_folder(rest: str, url: str) -> bool:
    """Does the path of `rest` (HOST/PATH?QUERY, of `url`) hold an empty folder name?
    Trailing slashes name none, and the first one after the host counts only for an object
    store (`s3://bkt//proj`), which keeps it in its keys: a file system path (SSH, a
    directory: `ssh://host//srv`, `file:////srv`) reads it as the '/' it is."""
    path = rest.partition("/")[2].partition("?")[0].rstrip("/")
    if not path:
        return False
    first, *further = path.split("/")
    return "" in further or (first == "" and _keeps_dot_folders(url))


def _without_empty_folders(rest: str) -> str:
    host, _, path = rest.partition("/")
    path, query, after = path.partition("?")
    return "/".join([host, *[part for part in path.split("/") if part]]) + query + after


# section -> key -> validator (returns the normalized value or raises ValueError)
SCHEMA = {
    "core": {"remote": _any, "autostage": _bool, "no_scm": _bool, "hash": _hash,
             "lock_wait": _positive_number, "fsync": _bool, "url_timeout": _seconds},
    "cache": {"type": _link_types, "dir": _any, "shared": _shared},
}
# Remote sections: common keys are checked here; the options of each kind of remote are
# checked against its backend (dvx/remote/backends.py), which needs the remote's URL.
REMOTE_KEYS = {"url": _url, "jobs": _jobs, "retries": _count, "timeout": _seconds}

DEFAULT_LINK_TYPES = ("reflink", "copy")


def global_config_path() -> str:
    """$XDG_CONFIG_HOME/dvx/config, or ~/.config/dvx/config where XDG_CONFIG_HOME is unset or
    relative (see dvx/user_dirs.py)."""
    return os.path.join(user_config_dir(), "config")


def refuse_relative_global_cache_dir(value: str, path: str, written: bool) -> None:
    """The global config (the file at `path`) applies to every repository: a relative
    cache.dir there would name a folder in each one's .dvx/, never one cache. Refused by
    `dvx config --global` before it is `written`, and by every command that uses the cache
    where it was written by hand, whose hint also gives the command removing it."""
    if os.path.isabs(os.path.expanduser(value)):
        return
    remove = ", or remove it with `dvx config --global --unset cache.dir`" if written else ""
    raise ConfigError(f"cache.dir '{value}' is a relative path, which the global config "
                      f"('{path}') does not take: it applies to every repository, so a "
                      "relative path names no one folder.", "Give an absolute path (`dvx "
                      f"config --global cache.dir /PATH`, `~` is expanded){remove}.")


def split_key(key: str) -> tuple[str, str]:
    """'cache.type' -> ('cache', 'type'); 'remote.NAME.url' -> ('remote "NAME"', 'url'). A
    remote's NAME may hold a '.' (`my.store`): the option is what follows the last one."""
    parts = key.split(".")
    if len(parts) == 2 and parts[0] in SCHEMA:
        return parts[0], parts[1]
    name, _, option = key.removeprefix("remote.").rpartition(".")
    if parts[0] == "remote" and len(parts) >= 3 and name and option:
        return f'remote "{name}"', option
    raise ConfigError(f"Unknown config key {key!r}.",
                      "Keys look like 'core.remote', 'cache.type' or 'remote.NAME.url'.")


def ignored_when_read(section: str, key: str | None = None) -> bool:
    """Is `section` (or its option `key`) one this dvx keeps in the file but ignores, not
    knowing it? A section other than SCHEMA's and remotes', or an option SCHEMA's section
    lacks. A remote's own options are checked against its kind of remote when it is used."""
    if REMOTE_SECTION.fullmatch(section):
        return False
    return section not in SCHEMA or (key is not None and key not in SCHEMA[section])


def check_option_name(section: str, key: str) -> None:
    """Refuse an option that `section` cannot have; a remote may have any option its kind of
    remote takes (checked against its backend, which needs its URL)."""
    match = REMOTE_SECTION.fullmatch(section)
    schema = REMOTE_KEYS if match else SCHEMA.get(section, {})
    if key in schema or (match and re.fullmatch(r"[a-z][a-z0-9_]*", key)):
        return
    known = ", ".join(sorted(schema)) or "none"
    raise ConfigError(f"Unknown config option '{key}' in section [{section}].",
                      f"Known options there: {known}.")


def validate(section: str, key: str, value: str) -> str:
    check_option_name(section, key)
    match = REMOTE_SECTION.fullmatch(section)
    validator = (REMOTE_KEYS if match else SCHEMA.get(section, {})).get(key) or _any
    try:
        return validator(_unpadded(value))
    except ValueError as exc:
        raise ConfigError(f"Invalid value {_shown_value(key, value, validator)} for "
                          f"{section}.{key}: {exc}.") from None


def _shown_value(key: str, value: str, validator: Callable[[str], str]) -> str:
    """`value`, as an error names it: `***` for a secret option's (a password, a key), a
    URL without its password or token."""
    from dvx.remote.backends import is_secret

    if is_secret(key):
        return "***"
    return repr(_redact_url(value) if validator is _url else value)


def _unpadded(value: str) -> str:
    """`value` as given, refused if it begins or ends with white space: the config file keeps
    it, but every reader of the file gets it without (an INI parser strips it), so what was
    checked would not be what is used (a URL `store ` checked, `store` pushed to)."""
    if value.strip() and value != value.strip():
        raise ValueError("it begins or ends with white space, which the config file does not "
                         "keep (it is read back without it); give it without")
    return value


_EDIT_CONFLICT = ("Edit it to keep what each side needs and delete the conflict marker lines "
                  "(<<<<<<<, =======, >>>>>>>)")


def _unparsable(named: str, data: bytes, exc: Exception, fix: str | None,
                tracked: bool) -> ConfigError:
    """The error for the config file `named` that the parser or the UTF-8 decoder refused
    (`exc`): one a merge left conflict markers in (Git merges .dvx/config line by line) is
    named so, to be resolved, not trimmed line by line; any other names the line at fault as
    written, never as the parser's Python repr. `fix`: what to do (None: edit it, then `git
    add` it where Git `tracked` it)."""
    lines = data.decode("utf-8-sig", "replace").split("\n")  # as configparser counts
    if has_conflict_markers(data):
        first = next((n for n, line in enumerate(lines, 1) if line.startswith("<<<<<<<")), 1)
        resolve = f"{_EDIT_CONFLICT}, then `git add` it." if tracked else f"{_EDIT_CONFLICT}."
        return ConfigError(f"The config file {named} holds an unresolved Git merge conflict: "
                           f"its line {first} starts one (<<<<<<<).", fix or resolve)
    return ConfigError(f"Cannot parse the config file {named}: {_problem(exc, data, lines)}",
                       fix or "Fix or remove the offending line.")


def _problem(exc: Exception, data: bytes, lines: list[str]) -> str:
    """What the parser refused, as a sentence naming the line (configparser's own words
    show the line as a Python repr, `'foo\\n'`)."""
    if isinstance(exc, UnicodeDecodeError):
        bad = next(n for n, raw in enumerate(data.split(b"\n"), 1) if not _utf8(raw))
        return f"line {bad} is not UTF-8 text."
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return (f"line {exc.lineno} comes before any [section] header: "
                f"'{_shown_line(lines, exc.lineno)}'.")
    if isinstance(exc, configparser.DuplicateSectionError) and exc.lineno:
        return f"line {exc.lineno} opens the section [{_shown([exc.section], 1)}] again."
    if isinstance(exc, configparser.DuplicateOptionError) and exc.lineno:
        return (f"line {exc.lineno} sets '{_shown([exc.option], 1)}' again in "
                f"[{_shown([exc.section], 1)}].")
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        lineno = exc.errors[0][0]
        more = len(exc.errors) - 1
        others = f" (and {more} more line{'s' if more > 1 else ''} like it)" if more else ""
        return (f"line {lineno} is neither a [section] header nor a `name = value` option: "
                f"'{_shown_line(lines, lineno)}'{others}.")
    return f"{' '.join(str(exc).split()).rstrip('.')}."


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _shown_line(lines: list[str], lineno: int) -> str:
    """Line `lineno` (from 1) of a config file as `_shown` gives it, but for the value of a
    secret option (`password hunter2`, `secret_access_key: ...`), shown as `***`: the line
    is named by its option, and the error may be pasted anywhere."""
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    return _shown([_without_secret_value(text)], 1)


# The option a line starts with and what separates it from its value (`name = `, `name: `).
_OPTION_AND_SEPARATOR = re.compile(r"([^\s:=]+)([\s:=]*)")


def _without_secret_value(text: str) -> str:
    """`text` with the value of the secret option it names (the remote option names the
    scrubber hides: backends.is_secret; written `remote.NAME.password` too) as `***`."""
    from dvx.remote.backends import is_secret

    match = _OPTION_AND_SEPARATOR.match(text)
    if match is None or match.end() == len(text):
        return text
    option = match.group(1).rpartition(".")[2].lower()
    return f"{match.group(0)}***" if is_secret(option) else text


def _shown(lines: list[str], lineno: int) -> str:
    """Line `lineno` (from 1) of a config file in a message: trimmed, shortened, and with
    any character a terminal acts on as U+FFFD, so a file cannot drive the terminal."""
    text = lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text.expandtabs(1))
    return f"{text[:60]}..." if len(text) > 63 else text


def _parsed(data: bytes, named: str, source: str, fix: str | None,
            tracked: bool) -> configparser.ConfigParser:
    """The settings of a config file's bytes (`_unparsable` says why they cannot be read)."""
    parser = _new_parser()
    try:
        # utf-8-sig: a byte order mark an editor put first is skipped, as Git skips it
        parser.read_string(data.decode("utf-8-sig"), source)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise _unparsable(named, data, exc, fix, tracked) from None
    return parser


def _new_parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                       comment_prefixes=("#", ";"), strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


@dataclass
class ConfigFile:
    path: str
    parser: configparser.ConfigParser
    # Run before each write: a repository's config makes Git ignore the temporary first
    # (Repo.exclude_temporaries), as a write killed before its rename leaves it beside the file.
    before_save: Callable[[], object] | None = field(default=None, compare=False)
    # Written through a symbolic link at `path` (the user's own global and local configs,
    # linked from a dotfiles checkout), as Git writes ~/.gitconfig: its target gets the
    # settings. Otherwise a link there is replaced by a regular file.
    through_link: bool = field(default=False, compare=False)

    @classmethod
    def load(cls, path: str, tracked: bool = False) -> ConfigFile:
        """The config file at `path` (none there: no settings); `tracked`: Git tracks it
        (.dvx/config), so a merge conflict in it is resolved with `git add`."""
        try:
            data = fsutil.read_regular(path)
        except (FileNotFoundError, NotADirectoryError):
            # as Git has it: none there, or none can be (HOME=/dev/null: a path via a file)
            return cls(path, _new_parser())
        except PermissionError as exc:
            typed = named_from_here(path)
            raise UnreadableConfigError(f"Cannot read the config file '{typed}': {exc.strerror}.",
                              make_readable_hint(shell_quote(typed))) from None
        except OSError as exc:
            raise ConfigError(f"Cannot read the config file '{path}': {exc.strerror}.") from None
        return cls(path, _parsed(data, f"'{path}'", path, None, tracked))

    @classmethod
    def parse(cls, data: bytes, path: str, hint: str) -> ConfigFile:
        """A config file's content as Git holds it at a revision, read only: `path` names it
        in errors, and `hint` says what to do about one that cannot be parsed."""
        return cls(path, _parsed(data, path, path, hint, tracked=True))

    def with_remotes_of(self, other: ConfigFile) -> ConfigFile:
        """A copy of this file that takes from `other` the default remote (`core.remote`)
        and the remotes this one does not name; those it names keep their own options."""
        parser = _new_parser()
        parser.read_dict(self.parser)
        for section in other.parser.sections():
            if REMOTE_SECTION.fullmatch(section) and not parser.has_section(section):
                parser.read_dict({section: dict(other.parser.items(section))})
        default = other.get("core", "remote")
        if default is not None:
            parser.read_dict({"core": {"remote": default}})
        return ConfigFile(self.path, parser)

    def get(self, section: str, key: str) -> str | None:
        if self.parser.has_option(section, key):
            return self.parser.get(section, key)
        return None

    def set(self, section: str, key: str, value: str) -> None:
        if not self.parser.has_section(section):
            self.parser.add_section(section)
        self.parser.set(section, key, value)

    def unset(self, section: str, key: str) -> bool:
        if not self.parser.has_option(section, key):
            return False
        self.parser.remove_option(section, key)
        if not self.parser.options(section):
            self.parser.remove_section(section)
        return True

    def without(self, section: str, key: str) -> ConfigFile:
        """A copy of this file with `key` unset (as `unset` does), this one left as it is:
        to check what unsetting it would leave before doing it."""
        parser = _new_parser()
        parser.read_dict(self.parser)
        copy = ConfigFile(self.path, parser)
        copy.unset(section, key)
        return copy

    def remove_section(self, section: str) -> bool:
        return self.parser.remove_section(section)

    def credentials_held(self) -> dict[str, str]:
        """The options of this file that hold credentials, by `remote.NAME.OPTION`, with
        their values: a secret option's (backends.is_secret), a remote URL with a password
        or token in it."""
        from dvx.remote.backends import credentials_in_url, is_secret

        held = {}
        for section in self.parser.sections():
            match = REMOTE_SECTION.fullmatch(section)
            if match is None:
                continue
            for option, value in self.parser.items(section):
                if is_secret(option) or (option == "url" and credentials_in_url(value)):
                    held[f"remote.{match.group(1)}.{option}"] = value
        return held

    def save(self, mode: int | None = None) -> None:
        """Write the file, with the permissions `mode` if given, else with those of the file
        it replaces: a config.local its owner made private (it may hold credentials) stays
        private."""
        self.check_before_save()
        self.write(mode)

    def check_before_save(self) -> None:
        """Refuse (raising) a write of the file before anything is written: `before_save`'s
        checks, and a link there to a file in no folder that exists. A command writing
        several files asks each first (Config.save), so a refusal of any changes none."""
        self.written_path()
        if self.before_save is not None:
            self.before_save()

    def write(self, mode: int | None = None) -> None:
        """Write the file as save() does, once check_before_save() let it."""
        buffer = io.StringIO()
        self.parser.write(buffer)
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        written = self.written_path()
        self._remove_leftover_temporaries(written)
        # keeps the permissions the file has: a private config (credentials) stays private
        fsutil.rewrite(written, buffer.getvalue().encode("utf-8"), mode=mode)

    def written_path(self) -> str:
        """The file a write replaces: `path`, or where a link there leads (`through_link`,
        a chain of links followed to its end, which need not exist yet)."""
        if not (self.through_link and os.path.islink(self.path)):
            self._refuse_a_folder_link_to_nothing()
            return self.path
        target = os.path.realpath(self.path)
        if not os.path.isdir(os.path.dirname(target)):
            raise ConfigError(f"The config file '{self.path}' is a symbolic link to '{target}', "
                              "which is in no folder that exists, so nothing was written.",
                              "Create that folder, or point the link at a file in one.")
        return target

    def _refuse_a_folder_link_to_nothing(self) -> None:
        """A folder of the file's that is a symbolic link to no folder (GNU stow's
        ~/.config/dvx, linked to a dotfiles folder not made yet) is refused as a link to a
        file in no folder is: no folder can be made where the link is."""
        folder = os.path.dirname(self.path)
        while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
        if os.path.islink(folder) and not os.path.isdir(folder):
            raise ConfigError(f"The config file '{self.path}' is in '{folder}', a symbolic "
                              f"link to '{os.path.realpath(folder)}', which is no folder that "
                              "exists, so nothing was written.",
                              "Create that folder, or point the link at one.")

    @staticmethod
    def _remove_leftover_temporaries(written: str) -> None:
        """Delete the temporaries a killed write of the file `written` left beside it (they
        may hold a secret): none a live write holds."""
        directory, name = os.path.split(written)
        fsutil.remove_leftover_temporaries(directory, [name])


@dataclass(frozen=True)
class _Previous:
    """A config file as it was before a write: its bytes (None: there was none) and mode."""
    path: str
    data: bytes | None
    mode: int | None

    @classmethod
    def of(cls, config_file: ConfigFile) -> _Previous:
        return cls.read(config_file.written_path())

    @classmethod
    def read(cls, path: str) -> _Previous:
        try:
            with open(path, "rb") as f:
                return cls(path, f.read(), stat.S_IMODE(os.fstat(f.fileno()).st_mode))
        except FileNotFoundError:
            return cls(path, None, None)

    def put_back(self) -> None:
        """Make the file what it was, if it is not: a write that failed before its rename
        left it so (its folder may take no write at all)."""
        if _Previous.read(self.path) == self:
            return
        if self.data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        else:
            fsutil.atomic_write(self.path, self.data, mode=self.mode)


def _put_back(before: list[_Previous], exc: BaseException) -> None:
    """Put back the files of `before` (Config.save's, as they were) after `exc` stopped the
    writes; those that cannot be are named on `exc`, which then no longer says that nothing
    was left half-written."""
    left = []
    for previous in reversed(before):
        try:
            previous.put_back()
        except OSError as failed:
            left.append(f"'{previous.path}' ({failed.strerror or failed})")
    if left:
        many = len(left) > 1
        note_left_half_done(exc, f"The config file{'s' if many else ''} {', '.join(left)} "
                                 f"could not be put back as {'they were' if many else 'it was'}"
                                 f": {'they hold' if many else 'it holds'} what the command "
                                 "wrote.")


def _tracked_placement(levels: dict[str, dict[str, str]]) -> dict[str, str]:
    """Config.tracked_placement of the remote whose options by level are `levels`."""
    local = levels.get("local", {})
    tracked = {key: value for key, value in levels.get("project", {}).items()
               if key not in local}
    return {**levels.get("global", {}), **tracked}


def _refuse_link(path: str) -> None:
    """The tracked config is a regular file: a symbolic link committed in Git there would
    make dvx read settings from anywhere, and its next write copy them into the repository."""
    if os.path.islink(path):
        raise ConfigError(f"The config file '{path}' is a symbolic link: dvx reads the "
                          "repository's tracked config only from a regular file, so that a "
                          "link committed in Git cannot make it read settings from elsewhere.",
                          "Replace the link with a regular file holding the settings, and "
                          "commit it.")


def _checks_before_saving(config_file: ConfigFile, level: str,
                          before_save: Callable[[str], object] | None
                          ) -> Callable[[], object] | None:
    """What runs before the file of `level` is written: for the global config, the refusal
    to write credentials where Git would add them (refuse_global_credentials_git_would_add),
    in a repository or outside any; then the caller's `before_save`, given the level's name."""
    given = functools.partial(before_save, level) if before_save is not None else None
    if level != "global":
        return given

    def check() -> None:
        refuse_global_credentials_git_would_add(config_file)
        if given is not None:
            given()
    return check


def refuse_global_credentials_git_would_add(config_file: ConfigFile) -> None:
    """Refuse (PathError) to write the global config `config_file` with a credential it
    does not hold on disk (a new or changed value, whatever remote it is under) where the file
    it really is (through a link at it, or a linked folder on the way, as GNU stow links a
    dotfiles checkout's folder) would be staged by `git add -A` or `git commit -a` in the
    work tree holding it: it would go into a commit. Settings that are no credential, and a
    write removing one, are written there, as a dotfiles repository is for sharing them; so
    is any write to a file Git ignores, or one outside any work tree."""
    from dvx.scm import why_git_would_add

    path = config_file.path
    on_disk = set(ConfigFile.load(path).credentials_held().values())
    held = [name for name, value in config_file.credentials_held().items()
            if value not in on_disk]  # one there already (a remote renamed): no new harm
    if not held:
        return
    real = os.path.realpath(path)
    why = why_git_would_add(real)
    if why is None:
        return
    if os.path.islink(path):
        what = f"a symbolic link to '{real}'"
    else:
        what = f"which is '{real}' by its real path" if real != path else "the global config"
    raise PathError(f"dvx wrote nothing to {path}, {what}: it would hold credentials "
                    f"({', '.join(held)}) and Git would not ignore that file ({why}), so "
                    "the next `git add -A` or `git commit -a` there would put them into a "
                    "commit.",
                    "Keep credentials in a project's own .dvx/config.local (`dvx remote "
                    "modify --local NAME OPTION VALUE`), or make Git ignore that file in its "
                    "repository (a rule in its .gitignore or .git/info/exclude, the file "
                    "untracked), then run the command again.")


class Config:
    """The merged view of all levels, plus access to each level's file for writing."""

    def __init__(self, dvx_dir: str | None, local_path: str | None = None,
                 before_save: Callable[[str], object] | None = None) -> None:
        """`local_path`: the local level's file when it is not `dvx_dir`'s own (a linked
        worktree shares its main worktree's); `before_save`: run with a level's name before
        that level's file is written (it may refuse the write by raising)."""
        self.paths = {"global": global_config_path()}
        if dvx_dir is not None:
            self.paths["project"] = os.path.join(dvx_dir, "config")
            self.paths["local"] = local_path or os.path.join(dvx_dir, "config.local")
        if "project" in self.paths:
            _refuse_link(self.paths["project"])
        self.files = {level: ConfigFile.load(path, tracked=level == "project")
                      for level, path in self.paths.items()}
        for level, config_file in self.files.items():
            config_file.through_link = level != "project"  # the tracked one is no link
            config_file.before_save = _checks_before_saving(config_file, level, before_save)

    @classmethod
    def of_files(cls, files: dict[str, ConfigFile]) -> Config:
        """The merged view of these levels' files only: another repository's settings as it
        is read (ops/source.py), without the reader's global config."""
        config = cls.__new__(cls)
        config.paths = {level: f.path for level, f in files.items()}
        config.files = dict(files)
        return config

    def save(self, levels: set[str]) -> None:
        """Write the files of `levels`, config.local first, once every one of them passed
        its checks (ConfigFile.check_before_save): a refusal of any writes none. All or
        none: a write that fails (a full disk, a read-only folder, a Ctrl-C) puts back the
        files written before it as they were, then raises."""
        ordered = [level for level in reversed(LEVELS) if level in levels]
        for level in ordered:
            self.files[level].check_before_save()
        before: list[_Previous] = []
        try:
            for level in ordered:
                before.append(_Previous.of(self.files[level]))
                faults.point("config.before_write")
                self.files[level].write()
        except BaseException as exc:
            _put_back(before, exc)
            raise

    def file(self, level: str) -> ConfigFile:
        if level not in self.files:
            raise ConfigError(f"There is no {level} config outside a dvx repository.")
        return self.files[level]

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        for level in reversed(LEVELS):
            config_file = self.files.get(level)
            value = config_file.get(section, key) if config_file else None
            if value is not None:
                return value
        return default

    def own_value(self, section: str, key: str) -> str | None:
        """section.key as the user's own configs set it (local, else global), never the
        tracked one."""
        for level in ("local", "global"):
            config_file = self.files.get(level)
            value = config_file.get(section, key) if config_file else None
            if value is not None:
                return value
        return None

    def get_bool(self, section: str, key: str, default: bool = False) -> bool:
        value = self.get(section, key)
        if value is None:
            return default
        try:
            return _bool(value) == "true"
        except ValueError as exc:
            raise self.invalid_value(section, key, value, str(exc),
                                     "true" if default else "false") from None

    def get_float(self, section: str, key: str, default: float) -> float:
        """A number option of SCHEMA (core.lock_wait, core.url_timeout), checked by its
        validator there, as `dvx config` checks it when it is set."""
        value = self.get(section, key)
        if value is None:
            return default
        try:
            return float(SCHEMA[section][key](value))
        except ValueError as exc:
            raise self.invalid_value(section, key, value, str(exc), f"{default:g}") from None

    def invalid_value(self, section: str, key: str, value: str, why: str, example: str
                      ) -> ConfigError:
        """The error for the `value` of section.key (a [core] or [cache] option) that
        cannot work, `why` not: names the config file that sets it, and how to set it there
        to a good one (`example`) or unset it."""
        level = self.where(section, key)
        flag = "" if level in (None, "project") else f" --{level}"
        option = f"{section}.{key}"
        return ConfigError(f"Invalid value {value!r} for {option} in the config file "
                           f"'{self.paths.get(level or '', '?')}': {why}.",
                           f"Fix it with `dvx config{flag} {option} {example}`, or unset it "
                           f"with `dvx config{flag} --unset {option}`.")

    def where(self, section: str, key: str) -> str | None:
        for level in reversed(LEVELS):
            config_file = self.files.get(level)
            if config_file and config_file.get(section, key) is not None:
                return level
        return None

    def unknown_options(self) -> list[str]:
        """A sentence for each option, or section, the files set that dvx does not know (a
        typo, or an option of another tool such as DVC's core.checksum_jobs), which dvx
        ignores (ignored_when_read): said, so a setting that does nothing is not taken for one
        in effect."""
        found = []
        for level, config_file in self.files.items():
            parser = config_file.parser
            for section in parser.sections():
                where = f"the config file '{self.paths[level]}'"
                if ignored_when_read(section):
                    found.append(f"The section [{section}] in {where} is not one this dvx "
                                 f"knows ({', '.join(f'[{s}]' for s in SCHEMA)} and [remote "
                                 "\"NAME\"] are), so its options are ignored: delete it from "
                                 "the file if nothing else reads it.")
                    continue
                flag = "" if level == "project" else f" --{level}"
                for key in parser.options(section):
                    if not ignored_when_read(section, key):
                        continue
                    meant = (f"{key} is an option of each remote: remote.NAME.{key}"
                             if key in REMOTE_KEYS else "a typo, or a newer dvx's")
                    found.append(f"The option {section}.{key} in {where} is not one this dvx "
                                 f"knows ({meant}), so it is ignored; known options of "
                                 f"[{section}]: {', '.join(sorted(SCHEMA[section]))}. "
                                 f"`dvx config{flag} "
                                 f"--unset {section}.{key}` removes it.")
        return found

    def section_names(self) -> list[str]:
        seen: list[str] = []
        for level in LEVELS:
            config_file = self.files.get(level)
            if config_file:
                seen.extend(s for s in config_file.parser.sections() if s not in seen)
        return seen

    def remote_names(self) -> list[str]:
        return [m.group(1) for s in self.section_names() if (m := REMOTE_SECTION.fullmatch(s))]

    def remote_level(self, name: str) -> str | None:
        """The level that defines the remote `name`: the one giving its URL in effect, else
        the most specific one with a section of it (None: no level does)."""
        section = f'remote "{name}"'
        return self.where(section, "url") or next(
            (lv for lv in reversed(LEVELS) if lv in self.files
             and self.files[lv].parser.has_section(section)), None)

    def modify_command(self, name: str) -> str:
        """The command that changes an option of the remote `name`, as a hint gives it:
        `dvx remote modify NAME`, with the flag of the level defining the remote where that
        is not the tracked config (`--local`, `--global`): without it, `remote modify`
        writes the tracked config, refused for a remote only config.local defines. The name
        is given for the shell (pasted_args): a cloned config may hold one with a ';' in it,
        or one starting with '-'; a hint adds arguments after it, never options."""
        level = self.remote_level(name)
        flag = "" if level in (None, "project") else f" --{level}"
        return f"dvx remote modify{flag} {pasted_args(name)}"

    def remote_options(self, name: str) -> dict[str, str]:
        """The options of the remote `name` in effect, merged key by key (local over project
        over global), but for those `set_aside_options` names: never the user's own options
        of another store, nor a tracked choice of which servers to trust."""
        return {key: value for key, (_, value) in self.remote_settings(name).items()}

    def remote_settings(self, name: str) -> dict[str, tuple[str, str]]:
        """Each option of the remote `name` in effect (remote_options), with the level it
        comes from: (level, value). Not always the most specific level that sets it, which
        may be one set aside (`dvx config` shows what the commands use)."""
        return self._options_and_set_aside(name)[0]

    def set_aside_options(self, name: str) -> list[tuple[str, str]]:
        """The (level, option) pairs of the remote `name` that remote_options leaves out:

        - the global config's, where the tracked config places the remote at another store
          (_lends): a remote is matched by its name at every level, and a cloned
          .dvx/config naming a remote as the user's global one is named, at another URL,
          must not get the user's credentials for it sent there. (The local config is the
          user's own, for this clone: its options apply by name.)
        - the tracked config's choices of which servers to trust (`known_hosts`, `ssl_verify
          false`: backends.is_trust_setting), which a clone would make to turn the check of
          the server's identity off.

        Neither where the user's own config sets the option too (config.local, or the global
        config where it lends): that value is the one used, and nothing is said of it."""
        return self._options_and_set_aside(name)[1]

    def _options_and_set_aside(self, name: str
                               ) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
        """The options of the remote `name` in effect, each with its level, and the (level,
        option) pairs set aside, from one reading of the levels."""
        from dvx.remote.backends import is_trust_setting

        levels = self._remote_levels(name)
        lends = "global" not in levels or self._lends(levels)
        # What the user's own config gives the remote: config.local's, the global's if lent.
        yours = {*levels.get("local", {}), *(levels.get("global", {}) if lends else ())}
        options: dict[str, tuple[str, str]] = {}
        set_aside: list[tuple[str, str]] = []
        for level, own in levels.items():
            for key, value in own.items():
                if (level == "global" and key != "url" and not lends) or (
                        level == "project" and is_trust_setting(key, value)):
                    # Where the user's own config sets it too (config.local, as the notice
                    # advises), that value is the one used: nothing to say of this one.
                    if key not in yours:
                        set_aside.append((level, key))
                else:
                    options[key] = (level, value)
        return options, set_aside

    def _remote_levels(self, name: str) -> dict[str, dict[str, str]]:
        """The options each level gives the remote `name`, the least specific first."""
        section = f'remote "{name}"'
        return {level: dict(config_file.parser.items(section)) for level in LEVELS
                if (config_file := self.files.get(level)) is not None
                and config_file.parser.has_section(section)}

    def tracked_placement(self, name: str) -> dict[str, str]:
        """The global config's options of the remote `name` with those of the tracked config
        that are in effect over them: where the store is, as far as a cloned config says.
        The user's own options (global, config.local), a credential or a server alike, never
        make the global remote another store: only a tracked one could send them elsewhere."""
        return _tracked_placement(self._remote_levels(name))

    def _lends(self, levels: dict[str, dict[str, str]]) -> bool:
        """Does the global config's remote, of the options by level `levels`, name the store
        that the tracked config places the remote at (tracked_placement): the same URL and
        options that choose the server (backends.store_of)? Only then are its options
        (credentials) used: a cloned config naming the same bucket at another endpoint must
        not get them sent there."""
        from dvx.remote.backends import same_store

        own = levels.get("global", {})
        placed = _tracked_placement(levels)
        return "url" in own and same_store(own["url"], own, placed["url"], placed,
                                           self.repo_root())

    def repo_root(self) -> str | None:
        """The root of the repository whose config this is (a relative directory remote is
        taken from there), if it is one on this machine."""
        project = self.paths.get("project")
        return os.path.dirname(os.path.dirname(os.path.abspath(project))) if project else None

    def cache_shared(self, tracked_counts: bool = True) -> bool:
        """Is the cache used by the users of a group (cache.shared group)? Not
        `tracked_counts`: as the user's own configs (local, global) say, whatever the tracked
        one, which comes with a clone, says."""
        value = self.get("cache", "shared") if tracked_counts else self.own_value("cache",
                                                                                  "shared")
        if value is None:
            return False
        try:
            return _shared(value) == "group"
        except ValueError as exc:
            raise self.invalid_value("cache", "shared", value, str(exc), "group") from None

    def hash_algo(self) -> str:
        """core.hash, checked when read: a name written by hand that is no algorithm (XXH128)
        would otherwise make every pointer and dvx.lock look hashed with another one."""
        from dvx.hashing import DEFAULT_ALGO

        value = self.get("core", "hash")
        if value is None:
            return DEFAULT_ALGO
        try:
            return _hash(value)
        except ValueError as exc:
            level = self.where("core", "hash")
            flag = "" if level == "project" else f" --{level}"
            raise ConfigError(f"Invalid value {value!r} for core.hash in the config file "
                              f"'{self.paths.get(level or '', '?')}': {exc}.",
                              f"Set the algorithm the repository's data was added with "
                              f"(`dvx config{flag} core.hash {DEFAULT_ALGO}`, the default), or "
                              f"unset it (`dvx config{flag} --unset core.hash`).") from None

    def link_types(self) -> tuple[str, ...]:
        value = self.get("cache", "type")
        if value is None:
            return DEFAULT_LINK_TYPES
        try:
            return tuple(_link_types(value).split(","))
        except ValueError as exc:
            raise self.invalid_value("cache", "type", value, str(exc),
                                     ",".join(DEFAULT_LINK_TYPES)) from None


def named_from_here(path: str) -> str:
    """The config file at `path` as the user names it where they are: relative to the
    current directory when that is shorter (the repository's own files), else as it is (a
    user's global config, say)."""
    try:
        rel = os.path.relpath(path)
    except (OSError, ValueError):  # a current directory that is gone
        return path
    return rel if len(rel) < len(path) else path
