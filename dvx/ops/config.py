"""dvx config: read options with the level they come from (defaults included), and write them.

Remote options go through ops/remote.py, which keeps secrets out of the tracked config.
Setting `cache.dir` to a directory outside the repository in the tracked config also records
it in this clone's own `.dvx/config.local`: the user who sets it trusts it, and a teammate's
clone asks for the same confirmation (see `Repo.cache_dir`). Moving the cache elsewhere leaves
the old cache's objects behind: `left_behind` says how many, and how to bring them over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dvx.config import (
    REMOTE_SECTION,
    Config,
    global_config_path,
    ignored_when_read,
    refuse_relative_global_cache_dir,
    split_key,
    validate,
)
from dvx.errors import DvxError, UsageError
from dvx.hash_setting import PERSONAL, own_setting_notice
from dvx.logs import shell_quote
from dvx.objects.cache import LocalCache
from dvx.remote.backends import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from dvx.remote.packs import DEFAULT_PACK_SIZE, DEFAULT_THRESHOLD
from dvx.repo import refuse_where_git_sees

if TYPE_CHECKING:
    from dvx.ops.remote import SetAside
    from dvx.repo import Repo

# What dvx uses when no level sets an option (remote jobs depend on the kind of remote).
DEFAULTS = {
    ("core", "autostage"): "false", ("core", "no_scm"): "false", ("core", "hash"): "xxh128",
    ("core", "lock_wait"): "30", ("core", "fsync"): "true",
    ("core", "url_timeout"): f"{DEFAULT_TIMEOUT:g}",
    ("cache", "type"): "reflink,copy", ("cache", "dir"): "cache",
}
# Taken from the code that applies them, so what is printed is what a remote uses.
REMOTE_DEFAULTS = {"retries": str(DEFAULT_RETRIES), "timeout": f"{DEFAULT_TIMEOUT:g}",
                   "pack_threshold": str(DEFAULT_THRESHOLD), "pack_size": str(DEFAULT_PACK_SIZE)}
FILES = {"project": ".dvx/config", "local": ".dvx/config.local"}  # the global one: its path


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    level: str  # "global", "project", "local" or "default"

    @property
    def origin(self) -> str:
        if self.level == "global":
            return global_config_path()
        return "default" if self.level == "default" else FILES[self.level]


def get_option(config: Config, key: str, level: str | None = None) -> Setting | None:
    """The value in effect (or, with `level`, that level's own), or None if nothing sets it."""
    section, option = split_key(key)
    if level is not None:
        value = config.file(level).get(section, option)
        return Setting(key, value, level) if value is not None else None
    in_effect = _in_effect(config, section, option)
    if in_effect is not None:
        return Setting(key, in_effect[1], in_effect[0])
    default = DEFAULTS.get((section, option))
    if default is None and section in (f'remote "{n}"' for n in config.remote_names()):
        default = REMOTE_DEFAULTS.get(option)
    return Setting(key, default, "default") if default is not None else None


def _in_effect(config: Config, section: str, option: str) -> tuple[str, str] | None:
    """(level, value) of the option dvx uses: a remote's as every command that opens the
    remote reads it (Config.remote_settings), without the options it sets aside."""
    remote = REMOTE_SECTION.fullmatch(section)
    if remote is not None:
        return config.remote_settings(remote.group(1)).get(option)
    where = config.where(section, option)
    value = config.get(section, option)
    return (where, value) if where is not None and value is not None else None


def list_options(config: Config, level: str | None = None) -> list[Setting]:
    """The options the levels set (or `level` alone), merged as dvx uses them: one set only
    where it is set aside is left out (set_aside_of names it), not shown as its default, and
    so is one dvx ignores, which the warning of unknown options names."""
    found = []
    for section in config.section_names():
        if ignored_when_read(section):
            continue  # kept in the file, ignored (Config.unknown_options says so)
        name = section.replace('remote "', "remote.").rstrip('"')
        for option in _options(config, section, level):
            if ignored_when_read(section, option):
                continue  # as above
            setting = get_option(config, f"{name}.{option}", level)
            if setting is not None and setting.level != "default":
                found.append(setting)
    return sorted(found, key=lambda s: s.key)


def set_aside_of(config: Config, key: str | None = None,
                 level: str | None = None) -> list[SetAside]:
    """The remote options that the config gives and dvx does not use (ops/remote.set_aside):
    of every remote, or of `key` alone; with `level`, those of that level. Outside a
    repository there is none: options are set aside for a repository's remote."""
    if "project" not in config.files:
        return []
    if key is None:
        names, option = config.remote_names(), None
    else:
        section, option = split_key(key)
        remote = REMOTE_SECTION.fullmatch(section)
        names = [remote.group(1)] if remote is not None else []
    if not names:
        return []
    from dvx.ops.remote import set_aside  # its transfers and stores: only for a remote

    return [aside for name in names for aside in set_aside(config, name)
            if (level is None or aside.level == level)
            and (option is None or option in aside.keys)]


def _options(config: Config, section: str, level: str | None) -> list[str]:
    seen: list[str] = []
    for file_level, config_file in config.files.items():
        if level and file_level != level:
            continue
        if config_file.parser.has_section(section):
            seen += [o for o in config_file.parser.options(section) if o not in seen]
    return seen


def set_option(config: Config, key: str, value: str | None, level: str | None,
               repo: Repo | None) -> str | None:
    """Set (or, `value` None, unset) an option that is not a remote's; a notice, if any."""
    section, option = split_key(key)
    target = level or "project"
    config_file = config.file(target)
    if value is None:
        if not config_file.unset(section, option):
            raise UsageError(f"'{key}' is not set in the {target} config.")
        config_file.save()
        return None
    normalized = validate(section, option, value)
    if (section, option) == ("core", "remote") and normalized not in config.remote_names():
        known = ", ".join(config.remote_names()) or "none yet"
        raise UsageError(f"There is no remote called '{normalized}' (known: {known}).",
                         "Add it first: dvx remote add NAME URL (-d makes it the default).")
    if (section, option) == ("cache", "dir"):
        _refuse_unusable_cache_dir(config, value, target, repo)
    config_file.set(section, option, normalized)
    notice = _confirm_here(config, value, repo) \
        if (section, option) == ("cache", "dir") and target == "project" and repo else None
    config.save({target, "local"} if notice else {target})
    if (section, option) == ("core", "hash") and target in PERSONAL and repo is not None:
        return _own_hash_notice(config, target, normalized, repo)
    return notice


def _own_hash_notice(config: Config, level: str, algo: str, repo: Repo) -> str | None:
    """What a core.hash of the user's own `level` means in the repository it was set in
    (hash_setting.own_setting_notice); nothing where Git cannot say what its data records
    (no Git, or set from below the top of its work tree), as then no command refuses it."""
    try:
        if repo.below_the_top_of_git():
            return None
        return own_setting_notice(config, level, algo, repo.recorded_algorithms)
    except DvxError:
        return None


def _refuse_unusable_cache_dir(config: Config, value: str, level: str,
                               repo: Repo | None) -> None:
    """The checks every command makes of a cache.dir, made before `dvx config` writes it at
    `level`: the same at every level (docs/configuration.md#cache). Outside a repository
    only the global config can be written, and what it names is checked where it leads."""
    if level == "global":
        refuse_relative_global_cache_dir(value, config.paths["global"], written=False)
    if repo is None:
        if level == "global":
            path = os.path.normpath(os.path.expanduser(value))
            _refuse_cache_dir_not_a_folder(value, path, level)
            refuse_where_git_sees(path, f"cache.dir '{value}'", _cache_dir_hint(level))
        return
    _refuse_cache_dir_not_a_folder(value, repo.cache_dir_of(value, level), level)
    _refuse_cache_dir_git_sees(value, repo, level)
    _refuse_cache_dir_through_tracked_link(value, repo, level)


def _refuse_cache_dir_not_a_folder(value: str, path: str, level: str) -> None:
    """A cache.dir that is, or leads through, something other than a folder (a file, a
    broken link) is refused before it is written down: no cache can be made there, and every
    command after it would fail. A folder not made yet is fine: the cache makes it."""
    place = path
    while not os.path.lexists(place) and os.path.dirname(place) != place:
        place = os.path.dirname(place)
    if os.path.isdir(place):
        return
    kind = ("a symbolic link to nothing" if os.path.islink(place) and not os.path.exists(place)
            else "a file")
    what = f"is {kind}" if place == path else f"leads through {place}, which is {kind}"
    raise UsageError(f"cache.dir '{value}' {what}, not a folder: the cache is a folder of "
                     "objects.", "Name a folder (dvx makes it if it does not exist yet) "
                     f"{_ways_back(level)}")


def _refuse_cache_dir_git_sees(value: str, repo: Repo, level: str) -> None:
    """A cache in the Git directory, or in the workspace anywhere but .dvx/cache (the folder
    .dvx/.gitignore ignores), or in another Git repository's (unless Git ignores it there),
    is refused before it is written down: Git would see every object. The tracked config's
    value is also checked where a plain clone puts it (its own .dvx/), as every clone reads
    it."""
    paths = [repo.cache_dir_of(value, level)]
    if level == "project":
        paths.append(os.path.join(repo.dvx_dir, os.path.expanduser(value)))
    # A global cache.dir is every repository's: one's .dvx/cache is no place for it.
    in_dvx_cache = "" if level == "global" else ", or one in .dvx/cache"
    hint = f"Name a folder outside the repository{in_dvx_cache} {_ways_back(level)}"
    for path in paths:
        place = repo.place_git_sees(path)
        if place == "git":
            raise UsageError(f"cache.dir '{value}' leads into the Git directory; dvx never "
                             "writes there.", hint)
        if place == "workspace":
            raise UsageError(f"cache.dir '{value}' leads into the workspace "
                             f"({os.path.realpath(path)}) outside .dvx/cache, where Git would "
                             "see every object (git add -A would commit the data itself).",
                             hint)
        real = os.path.realpath(path)
        shown = f"cache.dir '{value}'" + (f" ({real})" if real != value else "")
        repo.refuse_where_other_git_sees(path, shown, _cache_dir_hint(level))


def _cache_dir_hint(level: str) -> str:
    """The hint of a cache.dir refused at `level` where another Git would see it."""
    return f"Name a folder outside any Git work tree, or one Git ignores there {_ways_back(level)}"


def _ways_back(level: str) -> str:
    """How a refused cache.dir value is read, and how that level goes back to the default
    (a global one is always absolute)."""
    relative = "" if level == "global" else "a relative path is relative to .dvx/; "
    flag = "" if level == "project" else f" --{level}"
    return f"({relative}`dvx config{flag} --unset cache.dir` for the default)."


def _refuse_cache_dir_through_tracked_link(value: str, repo: Repo, level: str) -> None:
    """A cache.dir through a symbolic link Git tracks is refused before it is written down
    (Repo.refuse_tracked_link_on_the_way): a commit could move it. The tracked config's value
    is also checked where a plain clone puts it, as every clone reads it."""
    paths = [repo.cache_dir_of(value, level)]
    if level == "project":
        paths.append(os.path.normpath(os.path.join(repo.dvx_dir, os.path.expanduser(value))))
    for path in paths:
        repo.refuse_tracked_link_on_the_way(value, path, level, written=False)


def _confirm_here(config: Config, value: str, repo: Repo) -> str | None:
    """Confirm a tracked cache.dir outside the repository for this clone too, in its
    config.local (left to the caller to save, with the tracked one): a notice saying so."""
    if repo.is_inside(repo.cache_dir_of(value, "project")):
        return None
    config.file("local").set("cache", "dir", value)
    return (f"cache.dir leads outside the repository, so it was also recorded in "
            ".dvx/config.local: this clone uses it. Each clone confirms it for itself with "
            f"`dvx config --local cache.dir {shell_quote(value)}`.")


def left_behind(old_dir: str, new_dir: str, algo: str) -> str | None:
    """A warning when the cache moved from `old_dir` to `new_dir` and the old one holds
    objects the new one lacks: dvx no longer sees them (`status` calls them not in cache,
    `push` cannot send them), though nothing was deleted."""
    if os.path.realpath(old_dir) == os.path.realpath(new_dir) or not os.path.isdir(old_dir):
        return None
    old, new = LocalCache(old_dir, algo), LocalCache(new_dir, algo)
    missing = new.missing(old.list_oids())
    if not missing:
        return None
    files, into = (shell_quote(os.path.join(cache.root, "files")) for cache in (old, new))
    return (f"The old cache at {old.root} holds {len(missing)} object"
            f"{'' if len(missing) == 1 else 's'} that the new cache at {new.root} does not, "
            "and dvx now reads only the new one: data only there counts as not in the cache "
            "and cannot be pushed. Nothing was deleted. Copy what is in its files/ folder "
            f"into the new one (`mkdir -p {into} && cp -a -n {files}/. {into}/`, or "
            f"`rsync -a --ignore-existing {files}/ {into}/`), or set cache.dir back.")
