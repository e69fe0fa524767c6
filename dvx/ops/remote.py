"""dvx remote add/list/modify/remove/default/rename: remotes are config sections.

Secrets (per backend, see dvx/remote/backends.py) are never written to the tracked project
config: given for that level, they go to .dvx/config.local instead, with a notice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from dvx.config import (
    LEVELS,
    REMOTE_KEYS,
    REMOTE_NAME,
    Config,
    ConfigFile,
    validate,
)
from dvx.errors import ConfigError, JobsSettingError, RemoteError, UnknownRemoteError, UsageError
from dvx.logs import get_logger, pasted_args, shell_quote
from dvx.objects.odb import ObjectStore
from dvx.ops.remote_places import directory_remote, refuse_remote_in_data, tracked_paths
from dvx.remote import transfer
from dvx.remote.backends import (
    COMMON_OPTIONS,
    DEFAULT_RETRIES,
    accepts_any_option,
    backend_for,
    check_option,
    check_option_value,
    check_url,
    credentials_commands,
    credentials_in_url,
    is_secret,
    is_trust_setting,
    path_of_local_url,
    redact_url,
    same_store,
    scheme_of,
    store_of,
    unusual_bucket,
)
from dvx.remote.fs import (
    check_settings,
    is_local_url,
    local_path,
    open_store,
    refuse_private_directory,
    request_retries,
)
from dvx.remote.locks import RemoteLock
from dvx.remote.store import RemoteStore
from dvx.remote.workers import within_open_files
from dvx.repo import Repo
from dvx.scm import why_git_would_add, work_tree_seeing

log = get_logger(__name__)


@dataclass(frozen=True)
class RemoteInfo:
    name: str
    url: str  # secrets redacted
    is_default: bool
    level: str  # the config that gives its URL; of one without: the one setting its options
    problem: RemoteError | None = None  # why it cannot be used (no URL), and the way out


def _section(name: str) -> str:
    return f'remote "{name}"'


def _check_name(name: str) -> None:
    if not REMOTE_NAME.fullmatch(name):
        raise ConfigError(f"Invalid remote name {name!r}.",
                          "Use letters, digits, '.', '_' and '-', starting with a letter or digit.")


def _stored_url(repo: Repo, name: str, url: str, level: str | None) -> str:
    url = validate(_section(name), "url", url)
    backend = check_url(url, name)  # unknown schemes, malformed URLs: now, not at a push
    unusual = unusual_bucket(url)
    if unusual is not None:  # an older or a laxer store may have it: said, not refused
        log.warning("%s", unusual)
    # Only the project config is tracked: the local and the global one (yours, outside any
    # repository) take a password, as they take a secret option.
    held = None if is_local_url(url) else credentials_in_url(url)
    if level in (None, "project") and held is not None:
        raise ConfigError(f"The remote URL contains {held}, which would be stored in plain "
                          "text in the config Git tracks.",
                          "Give the URL without it and the password with "
                          f"{credentials_commands(backend, name)}, or give the URL with "
                          "--local (.dvx/config.local, never tracked) or --global (your own "
                          "config, outside any repository).")
    if is_local_url(url):  # refused by every command that opens it: refused now
        path = local_path(url, os.getcwd())
        refuse_private_directory(path, f"remote URL '{url}'", name,
                                 "Give the remote a directory of its own.")
        _refuse_the_cache(repo, path, f"remote URL '{url}'", "Give the remote a directory of "
                          "its own.")
        _refuse_in_tracked_data(repo, path, f"remote URL '{url}'", "Give the remote a "
                                "folder outside the data dvx tracks.")
        _refuse_where_git_sees(path, f"remote URL '{url}'", "Give the remote a folder outside "
                               "any Git work tree, or one Git ignores there")
    return _stored_path(repo, url, level) if _is_relative_path(url) else url


def _stored_path(repo: Repo, url: str, level: str | None) -> str:
    """A relative directory path, typed relative to the current directory, as it is stored:
    relative to the repository root in the repository's own configs, so it works from every
    clone; absolute in the global config, which every repository reads and would take a
    relative path from its own root (another folder for each)."""
    typed = os.path.abspath(path_of_local_url(url))
    if level == "global":
        return typed.replace(os.sep, "/")
    return os.path.relpath(typed, repo.root).replace(os.sep, "/")


def _refuse_the_cache(repo: Repo, path: str, shown: str, hint: str) -> None:
    """A directory remote is never this repository's cache (`cache.dir`, which a private
    directory check does not see when it is outside .dvx): `gc` deletes from the cache what
    the remote holds, and the only copy would go."""
    cache = os.path.realpath(repo.cache_dir)
    real = os.path.realpath(path)
    if real == cache or real.startswith(cache.rstrip(os.sep) + os.sep):
        raise RemoteError(f"The {shown} is the directory '{real}', in this repository's cache "
                          f"('{cache}'): a remote must be a copy of its own, or `dvx gc` would "
                          "delete from the cache the only copy of what it takes the remote to "
                          "hold.", hint)


def _refuse_in_tracked_data(repo: Repo, path: str, shown: str, hint: str) -> None:
    """A directory remote is never at or inside data this repository tracks
    (ops/remote_places.py). A configuration error (exit 2), wherever the URL came from."""
    remote = directory_remote(repo, path, shown)
    if remote is not None:
        refuse_remote_in_data([remote], tracked_paths(repo), "a push would write into that "
                              "data, and `dvx checkout --force` would delete the remote's "
                              "objects as changes of it.", lambda _remote, _path: hint)


def _refuse_where_git_sees(path: str, shown: str, hint: str) -> None:
    """A directory remote is never where a Git work tree sees it (this repository's or
    another's; scm.work_tree_seeing, the rule cache.dir follows outside the repository):
    `git add -A` there would commit every object pushed. A folder Git ignores there is
    fine. A configuration error (exit 2), wherever the URL came from. `hint`: what to do
    instead, to which the .gitignore rule that would do is added."""
    work_tree = work_tree_seeing(path)
    if work_tree is None:
        return
    real = os.path.realpath(path)
    rel = os.path.relpath(real, work_tree).replace(os.sep, "/")
    rule = "" if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", rel) or rel == "." else (
        f" (a line `/{rel}/` in {os.path.join(work_tree, '.gitignore')})")
    raise ConfigError(f"The {shown} is the directory '{real}', in the Git work tree "
                      f"'{work_tree}', where Git would see every object pushed (git add -A "
                      "would commit the data itself).", f"{hint}{rule}.")


def add_remote(repo: Repo, name: str, url: str, default: bool, level: str | None,
               force: bool) -> str | None:
    """Returns a notice for the user, if any (set_default's)."""
    _check_name(name)
    config = repo.config
    chosen = level or "project"
    # As in DVC, a name is taken per level: the same name at another level is the way to
    # give a remote your own URL (--local) or credentials (--global), and --force would
    # replace nothing there.
    if _defines(config, chosen, name) and not force:
        flag = "" if level is None else f" --{level}"
        raise ConfigError(f"A remote named '{name}' already exists in the {chosen} config.",
                          f"Use --force to replace it there, or `dvx remote modify{flag} "
                          f"{pasted_args(name, 'KEY', 'VALUE')}` to change it.")
    target = config.file(chosen)
    target.remove_section(_section(name))
    target.set(_section(name), "url", _stored_url(repo, name, url, level))
    target.save()
    notices = [_query_notice(config, name, url, level), _also_defined(config, name, chosen),
               set_default(repo, name, level) if default else None]
    return "\n".join(notice for notice in notices if notice) or None


def _also_defined(config: Config, name: str, chosen: str) -> str | None:
    """A note for a remote just added at level `chosen` that another level gives a URL too:
    which level's URL is the one in effect here (the most specific one's)."""
    others = [lv for lv in reversed(LEVELS) if lv != chosen and _gives_url(config, lv, name)]
    if not others:
        return None
    in_effect = config.where(_section(name), "url") or chosen
    where = " and ".join(f"the {lv} config ({redact_url(_url_at(config, lv, name) or '')})"
                         for lv in others)
    which = ("this one's URL" if in_effect == chosen else "its URL" if len(others) == 1
             else f"the {in_effect} config's URL")
    lends = ("" if "global" not in (chosen, *others) or in_effect == "global" else
             " The global config's options of it (credentials) go to the one in effect only "
             "while both name the same store.")
    return (f"Note: {where} also define{'s' if len(others) == 1 else ''} a remote '{name}'; "
            f"{which} is the one in effect in this repository, as the most specific "
            f"config's is (local, then project, then global).{lends}")


def _gives_url(config: Config, level: str, name: str) -> bool:
    return _url_at(config, level, name) is not None


def _url_at(config: Config, level: str, name: str) -> str | None:
    return config.files[level].get(_section(name), "url") if level in config.files else None


def _query_notice(config: Config, name: str, url: str, level: str | None) -> str | None:
    """A warning for a URL whose query string goes to a file Git would commit: stored as
    given, as the store needs it on every request, it may hold a token that Git would then
    share. That is the tracked config, and a global config that a dotfiles work tree does not
    ignore (judged by its real path, as credentials there are)."""
    if level == "local" or is_local_url(url) or not urlsplit(url).query \
            or not backend_for(url).query_string:
        return None
    if level == "global":
        path = config.paths["global"]
        why = why_git_would_add(os.path.realpath(path))
        if why is None:
            return None
        written, flag = f"the global config '{path}', which Git would add to a commit ({why})", \
            " --global"
    else:
        written, flag = ".dvx/config, which Git tracks", ""
    return (f"WARNING: The query string of the URL of remote '{name}' ({redact_url(url)}) "
            "may hold a credential (a token, a signature): it was written as given to "
            f"{written}. If it does, remove it from there before you commit (`dvx remote "
            f"remove{flag} {pasted_args(name)}`) and add the remote with --local "
            "(.dvx/config.local, never tracked).")


def list_remotes(repo: Repo) -> list[RemoteInfo]:
    config = repo.config
    default = config.get("core", "remote")
    infos = []
    for name in config.remote_names():
        url = config.remote_options(name).get("url", "")
        level = config.remote_level(name) or "project"
        infos.append(RemoteInfo(name, redact_url(url), name == default, level,
                                _relative_in_global(config, name) if url
                                else _without_url(config, name)))
    return infos


def _without_url(config: Config, name: str) -> RemoteError:
    """The error for the remote `name`, which no level gives a URL. Where only a level that
    overrides options has it (config.local's `jobs`, credentials), the remote it overrode was
    renamed or removed in the tracked config (by a teammate, most likely): those options name
    no remote any more, and the way out is at that level."""
    where = config.remote_level(name)  # with no URL anywhere: the most specific section
    if where is None or _defines(config, "project", name):
        return RemoteError(f"Remote '{name}' has no URL.",
                           f"Set it with `dvx remote modify {pasted_args(name, 'url', 'URL')}`.")
    keys = ", ".join(sorted(config.files[where].parser.options(_section(name))))
    return RemoteError(
        f"Remote '{name}' has no URL: only the {where} config ({_file_of(config, where)}) sets "
        f"options of it ({keys}), as it does once the remote it overrode was renamed or "
        "removed in .dvx/config (by a teammate, say).",
        f"Remove those options with `dvx remote remove --{where} {pasted_args(name)}` and set "
        f"them for the remote's new name, if it has one (`dvx remote list`), with `dvx remote "
        f"modify --{where} NAME KEY VALUE`; or give '{name}' a URL of its own with `dvx remote "
        f"modify --{where} {pasted_args(name, 'url', 'URL')}`.")


def _relative_in_global(config: Config, name: str) -> RemoteError | None:
    """The error for a remote whose URL in effect is a relative directory path in the global
    config (written by hand, say): every repository reads that
    config and would take the path from its own root, each pushing to another folder, so no
    repository uses it until it names one folder."""
    url = _url_at(config, "global", name)
    if url is None or config.where(_section(name), "url") != "global" \
            or not _is_relative_path(url):
        return None
    root = config.repo_root()
    here = "" if root is None else (
        f" (from this repository: '{local_path(url, root)}')")
    return RemoteError(
        f"Remote '{name}' has the relative path '{url}' as its URL in the global config "
        f"({_file_of(config, 'global')}), which every repository reads: each would take it "
        f"from its own root and use another folder{here}.",
        f"Give it the folder you mean: `dvx remote modify --global "
        f"{pasted_args(name, 'url', 'PATH')}` (a "
        "relative PATH is taken from the current directory and stored absolute).")


def _file_of(config: Config, level: str) -> str:
    """How a message names the file of a config level."""
    return {"project": ".dvx/config", "local": ".dvx/config.local"}.get(
        level, config.files[level].path if level in config.files else "the global config")


def modify_remote(repo: Repo, name: str, key: str, value: str | None,
                  level: str | None) -> str | None:
    """Set or (value None) unset an option; returns a notice for the user, if any."""
    config = repo.config
    if name not in config.remote_names():
        raise ConfigError(f"There is no remote named '{name}'.", "See `dvx remote list`.")
    if value is None:
        _unset_option(config, name, key, level)
        return None
    notice = None
    if key == "url":
        url = value = _stored_url(repo, name, value, level)
        notice = _query_notice(config, name, value, level)
    else:
        url = config.remote_options(name).get("url", "")
        check_option(url, key)
        value = validate(_section(name), key, value)
        value = check_option_value(url, _section(name), key, value, repo.root)
    target_level = level or "project"
    kept_from_git = _kept_from_git(url, key, value)
    if kept_from_git is not None and target_level == "project":
        target_level = "local"
        notice = kept_from_git
    _refuse_level_without(config, name, key, target_level)
    _refuse_unusable(config, name, key, value, target_level)
    target = config.file(target_level)
    target.set(_section(name), key, value)
    target.save()
    return notice


def _kept_from_git(url: str, key: str, value: str) -> str | None:
    """Why `key` set to `value` goes to .dvx/config.local when no level is given (the notice
    saying so), or None where it goes to the tracked config as DVC's would."""
    if is_secret(key):  # local and global: never in Git
        return (f"'{key}' is a secret, so it was written to .dvx/config.local (never tracked "
                "by Git) instead of the shared config.")
    if _is_client_option(url, key):  # refused from the tracked config
        return (f"'{key}' goes to the client of its kind of remote as given, which dvx takes "
                "only from your own config, so it was written to .dvx/config.local instead "
                "of the shared config.")
    if is_trust_setting(key, value):  # not used from the tracked config
        return (f"'{key} {value}' turns off the check of the server's identity, which only "
                "your own config may do (a tracked one's is not used), so it was written to "
                ".dvx/config.local instead of the shared config.")
    return None


def _unset_option(config: Config, name: str, key: str, level: str | None) -> None:
    """Unset `key` at one level, as `dvx config --unset` and DVC do: `level`, or the one that
    `remote modify NAME KEY VALUE` writes to without a level. The same name may be the user's
    global remote too (their credentials for every repository): an option of it is never
    removed by a command that named no level. Refused before anything changes, in `config`
    too: checked on the settings it would leave."""
    chosen = level or _default_unset_level(config, name, key)
    own = config.file(chosen)
    if own.get(_section(name), key) is None:
        raise _not_set_at(config, name, key, chosen)
    after = Config.of_files({**config.files, chosen: own.without(_section(name), key)})
    if key == "url":
        _refuse_left_without_url(after, name, chosen)
    _refuse_unusable_without(after, name, key)
    own.unset(_section(name), key)
    own.save()


def _refuse_left_without_url(config: Config, name: str, level: str) -> None:
    """Unsetting the URL of remote `name` at `level` (`config`: the settings it leaves) is
    refused where it would leave a remote that no level gives a URL, which every use refuses,
    or the tracked config without the URL every clone reads (a remote without one there, or a
    default naming none): removing a remote is `dvx remote remove`, which takes the default
    with it."""
    flag = "" if level == "project" else f"--{level} "
    remove = f"`dvx remote remove {flag}{pasted_args(name)}`"
    modify = f"`dvx remote modify {flag}{pasted_args(name, 'url', 'URL')}`"
    if level == "project":
        raise ConfigError(f"Without 'url', the tracked config (.dvx/config) would no longer say "
                          f"where remote '{name}' is, and every clone reads it from there.",
                          f"Remove the remote with {remove}, or give it another URL with "
                          f"{modify}.")
    if config.where(_section(name), "url") is None:
        raise ConfigError(f"Without 'url', remote '{name}' would have no URL at any level, and "
                          "every use of it would be refused.",
                          f"Remove the remote with {remove}, or give it another URL with "
                          f"{modify}.")


def _default_unset_level(config: Config, name: str, key: str) -> str:
    """Where `remote modify` writes `key` without a level: config.local for a secret or a
    client's option, and for a trust setting when config.local holds one (`ssl_verify false`
    went there, `ssl_verify true` to the tracked config); else the tracked config."""
    url = config.remote_options(name).get("url", "")
    own = config.files["local"].get(_section(name), key) if "local" in config.files else None
    return "project" if _kept_from_git(url, key, own or "") is None else "local"


def _not_set_at(config: Config, name: str, key: str, chosen: str) -> ConfigError:
    """The error for unsetting `key` at level `chosen`, which lacks it: naming the levels that
    do set it, and the flag that unsets it there."""
    holding = [lv for lv in reversed(LEVELS)
               if lv in config.files and config.files[lv].get(_section(name), key) is not None]
    if not holding:
        return ConfigError(f"Remote '{name}' has no option '{key}' in the {chosen} config.")
    configs = " and ".join(holding) + (" configs set" if len(holding) > 1 else " config sets")
    others = "".join(f" (or --{lv})" for lv in holding[1:])
    return ConfigError(f"Remote '{name}' has no option '{key}' in the {chosen} config; the "
                       f"{configs} it.", f"Unset it there with `dvx remote modify "
                       f"--{holding[0]} {pasted_args(name, key, options='--unset')}`{others}.")


def _refuse_level_without(config: Config, name: str, key: str, level: str) -> None:
    """An option is written at a level that defines the remote or overrides one that does
    (DVC's rule): written alone at a level the remote is not defined up to, it would make a
    remote without a URL there (in the tracked config: for every teammate)."""
    def defines(lv: str) -> bool:
        return lv in config.files and config.files[lv].parser.has_section(_section(name))

    if any(defines(lv) for lv in LEVELS[:LEVELS.index(level) + 1]):
        return
    where = next(lv for lv in LEVELS if defines(lv))
    raise ConfigError(f"Remote '{name}' is defined in the {where} config, not in the {level} "
                      "config.", f"Change it there with `dvx remote modify --{where} "
                      f"{pasted_args(name, key, 'VALUE')}`.")


def _refuse_unusable(config: Config, name: str, key: str, value: str, level: str) -> None:
    """The options in effect once `key` is set at `level`, checked by the rule every use of
    the remote applies (check_settings): a value that cannot work is refused now, not by
    every push."""
    after: dict[str, str] = {}
    for lv in LEVELS:
        if lv in config.files and config.files[lv].parser.has_section(_section(name)):
            after.update(config.files[lv].parser.items(_section(name)))
        if lv == level:
            after[key] = value
    try:
        check_settings(after, name)
    except RemoteError as exc:
        raise ConfigError(exc.message, _at_its_level(
            exc.hint, config, name, _levels_of(config, name, (key, level)))) from None


def _refuse_unusable_without(config: Config, name: str, key: str) -> None:
    """The options in effect once `key` is unset (`config`: the settings it leaves),
    checked by the same rule: a pack_threshold above the default pack_size, say."""
    try:
        check_settings(config.remote_options(name), name)
    except RemoteError as exc:
        why = exc.message[:1].lower() + exc.message[1:]
        raise ConfigError(f"Without '{key}', remote '{name}' would be refused by every use: "
                          f"{why}", _at_its_level(exc.hint, config, name,
                                                  _levels_of(config, name))) from None


def remove_remote(repo: Repo, name: str, level: str | None) -> str | None:
    """Remove remote `name` from the config of `level` (the project config when None), as
    DVC does, with that level's default if it names it; see `_follow`. Returns a notice when
    another level still defines it."""
    config = repo.config
    chosen = _level_defining(config, name, level, "remove", (name,))
    config.file(chosen).remove_section(_section(name))
    return _follow(config, name, None, chosen)


def rename_remote(repo: Repo, old: str, new: str, level: str | None) -> str | None:
    """Rename remote `old` to `new` in the config of `level` (the project config when None),
    as DVC does, with that level's default if it names it; see `_follow`. Returns a notice
    when another level still defines `old`."""
    _check_name(new)
    config = repo.config
    chosen = _level_defining(config, old, level, "rename", (old, new))
    if new in config.remote_names():
        raise ConfigError(f"A remote named '{new}' already exists.")
    own = config.file(chosen)
    if own.get(_section(old), "url") is None:  # it only overrides options of another level's
        where = config.where(_section(old), "url")
        raise ConfigError(f"Remote '{old}' gets its URL from the {where} config; the {chosen} "
                          "config only overrides some of its options.",
                          f"Rename it there with `dvx remote rename --{where} "
                          f"{pasted_args(old, new)}`.")
    _move_section(own, old, new)
    return _follow(config, old, new, chosen)


def _level_defining(config: Config, name: str, level: str | None, verb: str,
                    args: tuple[str, ...]) -> str:
    """The level to act on (the project config when None), refused unless it defines the
    remote: remove and rename act on one level, and name the levels that do define it, in
    `dvx remote VERB --LEVEL ARGS` (the arguments quoted as they are, braces and all)."""
    if name not in config.remote_names():
        raise ConfigError(f"There is no remote named '{name}'.", "See `dvx remote list`.")
    chosen = level or "project"
    if _defines(config, chosen, name):
        return chosen
    where = [lv for lv in reversed(LEVELS) if _defines(config, lv, name)]
    configs = " and ".join(where) + (" configs" if len(where) > 1 else " config")
    others = "".join(f" (or --{lv})" for lv in where[1:])
    raise ConfigError(f"Remote '{name}' is defined in the {configs}, not in the {chosen} "
                      "config.", f"{verb.capitalize()} it there with `dvx remote {verb} "
                      f"--{where[0]} {pasted_args(*args)}`{others}.")


def _defines(config: Config, level: str, name: str) -> bool:
    return level in config.files and config.files[level].parser.has_section(_section(name))


def _defined_between(config: Config, name: str, low: str, high: str) -> bool:
    """Does a level between `low` and `high` (neither included) give remote `name` a URL?"""
    return any(_gives_url(config, lv, name)
               for lv in LEVELS[LEVELS.index(low) + 1:LEVELS.index(high)])


def _move_section(config_file: ConfigFile, old: str, new: str) -> None:
    items = config_file.parser.items(_section(old))
    config_file.remove_section(_section(old))
    for key, value in items:
        config_file.set(_section(new), key, value)


def _follow(config: Config, old: str, new: str | None, chosen: str) -> str | None:
    """After remote `old` was renamed to `new` (None: removed) at level `chosen`, bring what
    names it at `chosen` and at the levels overriding it along, and save them: options there
    that only override the remote's (a section without a URL), and a default naming it, at
    `chosen` always, at an overriding level only when no level defines `old` any more (else
    that default still names a remote). Options overriding a remote that a level in between
    still defines stay: they are its (config.local's credentials of the project's remote
    when the global one of that name goes). A notice when another level still defines `old`."""
    overriding = [lv for lv in LEVELS[LEVELS.index(chosen) + 1:] if lv in config.files]
    changed = {chosen}
    kept = []
    for lv in overriding:
        config_file = config.files[lv]
        if not _defines(config, lv, old) or config_file.get(_section(old), "url") is not None:
            continue
        if _defined_between(config, old, chosen, lv):
            kept.append(lv)
        elif new is None:
            config_file.remove_section(_section(old))
            changed.add(lv)
        else:
            _move_section(config_file, old, new)
            changed.add(lv)
    still = [lv for lv in reversed(LEVELS) if _defines(config, lv, old)]
    for lv in [chosen, *overriding]:
        config_file = config.files[lv]
        if config_file.get("core", "remote") == old and (lv == chosen or not still):
            if new is None:
                config_file.unset("core", "remote")
            else:
                config_file.set("core", "remote", new)
            changed.add(lv)
    config.save(changed)
    if not still:
        return None
    where = next((lv for lv in still if _gives_url(config, lv, old)), still[0])
    command = (f"remove --{where} {pasted_args(old)}" if new is None
               else f"rename --{where} {pasted_args(old, 'NEW')}")
    stay = "".join(f" The {lv} config's options of it stay with it." for lv in kept)
    return (f"The {where} config still defines a remote '{old}' (`dvx remote {command}` "
            f"{'removes' if new is None else 'renames'} it there).{stay}")


def set_default(repo: Repo, name: str | None, level: str | None) -> str | None:
    """Set (name None: unset) the default remote at `level`, the project config when None, as
    DVC does. Returns a notice when another level's default is the one in effect after it."""
    config = repo.config
    chosen = level or "project"
    target = config.file(chosen)
    if name is None:
        if not target.unset("core", "remote"):
            _refuse_unset_elsewhere(config, chosen)
            return None
    else:
        if name not in config.remote_names():
            raise ConfigError(f"There is no remote named '{name}'.", "See `dvx remote list`.")
        target.set("core", "remote", name)
    target.save()
    in_effect = config.where("core", "remote")
    if in_effect is None or in_effect == chosen:
        return None
    return (f"The {in_effect} config's default remote '{config.get('core', 'remote')}' is the "
            f"one in effect (`dvx remote default --unset --{in_effect}` clears it).")


def _refuse_unset_elsewhere(config: Config, chosen: str) -> None:
    """`--unset` at a level without a default, while another level has one: doing nothing
    would leave that default in use, unseen. No default anywhere: nothing to undo."""
    elsewhere = config.where("core", "remote")
    if elsewhere is not None:
        raise UsageError(
            f"The default remote is not set in the {chosen} config; the {elsewhere} config "
            f"sets it ('{config.get('core', 'remote')}').",
            f"Unset it there with `dvx remote default --unset --{elsewhere}`.")


def default_remote(config: Config, level: str | None = None) -> str | None:
    """The default remote in effect, or (with `level`) the one that level's config sets."""
    if level is not None:
        return config.file(level).get("core", "remote")
    return config.get("core", "remote")


def required_default_remote(config: Config) -> str:
    """The default remote, for a command that names none: an error if none is set."""
    name = default_remote(config)
    if name is None:
        raise RemoteError("No remote given and no default remote is set.",
                          "Pass -r NAME, or set one with `dvx remote default NAME`.")
    return name


def refuse_unknown_remote(config: Config, name: str) -> None:
    """A remote `name` no config level defines is refused: read from the config alone, so a
    command that need not open the remote (a fetch of data the cache holds) still refuses a
    -r NAME mistyped."""
    if name not in config.remote_names():
        if name == default_remote(config):
            raise _default_gone(config, name)
        raise UnknownRemoteError(f"There is no remote named '{name}'.",
                                 "See `dvx remote list`.")


def own_remote(named: str | None, known: Collection[str]) -> str | None:
    """The remote an output's data belongs on by the one it names itself (`named`: its
    `remote:` in dvx.yaml, as dvx.lock records it; None: the default remote's). push, fetch,
    status -c, gc and a source's readers all ask here. One no remote is called any more
    (`known`: the names there are) is the default remote's: only other revisions' dvx.lock
    still names it, renamed or removed since."""
    return named if named in known else None


@contextmanager
def lock_remote(repo: Repo, name: str, remote: RemoteStore, kind: str) -> Iterator[RemoteLock]:
    """The remote's push or gc lock (remote/locks.py), held for a `with` block; it waits
    for another holder as long as the repository lock does (core.lock_wait). Once it is
    held, what the command learned of the remote's indexes before is forgotten: a gc that
    held the lock meanwhile rewrote them, so what they named then may be deleted now."""
    with RemoteLock(remote.retried, kind, f"'{name}' ({remote.url})",
                    repo.config.get_float("core", "lock_wait", 30.0)) as lock:
        remote.forget_locations()
        yield lock


def open_remote(repo: Repo, name: str | None) -> tuple[str, RemoteStore]:
    """The remote `name` (None: the default), opened once per command: every step of a
    command shares one store, and so one client and its connections."""
    name = name or default_remote(repo.config)
    if name is not None and name in repo.open_stores:
        return name, repo.open_stores[name]
    if name is not None and name in repo.config.remote_names():
        _refuse_name_remote_add_refuses(repo.config, name)
    opened_name, store = _open_remote(repo, name)
    repo.open_stores[opened_name] = store
    return opened_name, store


def _refuse_name_remote_add_refuses(config: Config, name: str) -> None:
    """A remote name `remote add` refuses (a space, a ';'), which a cloned .dvx/config can
    still hold, is refused before the remote is used: every hint of its errors is a command
    naming it, to paste into a shell."""
    if REMOTE_NAME.fullmatch(name):
        return
    level = config.remote_level(name) or "project"
    flag = "" if level == "project" else f" --{level}"
    commit = ", and commit .dvx/config" if level == "project" else ""
    raise RemoteError(f"The remote name {shell_quote(name)} ({_file_of(config, level)}) is not "
                      "one dvx takes: a remote's name is letters, digits, '.', '_' and '-', "
                      "starting with a letter or digit.",
                      f"Rename it with `dvx remote rename{flag} {pasted_args(name, 'NEW_NAME')}`"
                      f"{commit}.")


def _open_remote(repo: Repo, name: str | None, also_from: tuple[Config, ...] = (),
                 locate: Callable[[str, str], str] = lambda url, name: url,
                 index_base: str | None = None, config: Config | None = None,
                 source: bool = False) -> tuple[str, RemoteStore]:
    """`locate`: the URL (and the remote's name) as it is read from here; `index_base`: see
    open_store; `config`: the settings naming the remote (default: the repository's);
    `source`: they are a source project's (`open_source_remote`)."""
    config = repo.config if config is None else config
    try:
        return _open_configured(repo, config, name, also_from, locate, index_base, source)
    except RemoteError as exc:
        name = name or default_remote(config)
        if name is not None:
            exc.hint = _at_its_level(exc.hint, config, name, _levels_of(config, name))
        raise


def _levels_of(config: Config, name: str, setting: tuple[str, str] | None = None
               ) -> dict[str, str]:
    """The level each option of the remote in effect comes from (with `setting`, a (key,
    level) about to be written)."""
    levels: dict[str, str] = {}
    for lv in LEVELS:
        if lv in config.files and config.files[lv].parser.has_section(_section(name)):
            levels.update(dict.fromkeys(config.files[lv].parser.options(_section(name)), lv))
        if setting is not None and setting[1] == lv:
            levels[setting[0]] = lv
    return levels


def _at_its_level(hint: str | None, config: Config, name: str,
                  levels: dict[str, str]) -> str | None:
    """A hint to fix options with `dvx remote modify NAME KEY ...`, each naming the level
    that sets the value in effect (`levels`), else the one defining the remote (`--local`,
    `--global`): the same command without it writes the tracked config, whose value the
    other level still overrides, and which is refused for a remote it does not define."""
    if not hint:
        return hint
    defined_at = config.remote_level(name) or "project"

    def flagged(match: re.Match[str]) -> str:
        unset, key = match.group(1) or "", match.group(2)
        level = levels.get(key, defined_at)
        flag = "" if level == "project" else f"--{level} "
        return f"`dvx remote modify {flag}{unset}{pasted_args(name, key)}"
    named = f"(?:{re.escape(pasted_args(name))}|{re.escape(name)})"  # ours, or a store's
    # `--unset` comes first where the name starts with '-' (pasted_args)
    return re.sub(rf"`dvx remote modify (--unset )?{named} ([\w.-]+)", flagged, hint)


def _open_configured(repo: Repo, config: Config, name: str | None,
                     also_from: tuple[Config, ...], locate: Callable[[str, str], str],
                     index_base: str | None, source: bool = False) -> tuple[str, RemoteStore]:
    if name is None:
        name = required_default_remote(config)
    refuse_unknown_remote(config, name)
    options = _source_options(config, name) if source else config.remote_options(name)
    origins = _origins(config, name)
    _warn_set_aside(config, name)
    for other in also_from:  # the reader's own settings for a remote of the same store
        for other_name in other.remote_names():
            mine = other.remote_options(other_name)
            lent = {k: v for k, v in mine.items() if k != "url"}
            # the store in effect once lent: the source's endpoint, say, where mine sets none
            if options.get("url") and "url" in mine and same_store(
                    mine["url"], mine, options["url"], {**options, **lent}):
                options.update(lent)
                origins.update({key: f"your remote '{other_name}' in {where}" for key, where
                                in _origins(other, other_name).items() if key in lent})
    url = options.get("url")
    if not url:
        raise _without_url(config, name)
    relative = _relative_in_global(config, name)
    if relative is not None:
        raise relative
    backend_for(url)  # an unknown kind of URL is an error of its own
    try:  # as `remote add` would: a URL it refuses names no store dvx can find again
        check_url(url, name)
    except ConfigError as exc:
        raise RemoteError(f"Remote '{name}': {exc.message}",
                          f"{exc.hint} Fix it with `dvx remote modify "
                          f"{pasted_args(name, 'url', 'URL')}`.") from None
    _refuse_tracked_client_options(config, name, url)
    for key, value in options.items():
        if key == "jobs":  # read only where no -j is given (settings_for)
            continue
        try:  # the config comes with the repository (or was edited): check it before use
            if key in REMOTE_KEYS:
                validate(_section(name), key, value)
            if key != "url":
                check_option_value(url, _section(name), key, value, repo.root)
        except ConfigError as exc:
            raise RemoteError(f"Remote '{name}': {exc.message}",
                              f"Fix it with `dvx remote modify "
                              f"{pasted_args(name, key, 'VALUE')}`.") from None
    located = locate(url, name)
    if is_local_url(located):
        path = local_path(located, repo.root)
        if not repo.read_only:  # a source's cache is never used, so never the remote's
            _refuse_the_cache(repo, path, f"remote '{name}' ({url})",
                              f"Point the remote at a directory of its own: `dvx remote "
                              f"modify {pasted_args(name, 'url', 'DIR')}`.")
        if index_base is None:  # another repository's remote (a source) is only read
            _refuse_in_tracked_data(repo, path, f"remote '{name}' ({url})", "Point the "
                                    "remote at a folder outside the data dvx tracks: `dvx "
                                    f"remote modify {pasted_args(name, 'url', 'DIR')}`.")
            _refuse_where_git_sees(path, f"remote '{name}' ({url})", "Point the remote at "
                                   "a folder outside any Git work tree (`dvx remote modify "
                                   f"{pasted_args(name, 'url', 'DIR')}`), or have Git ignore "
                                   "this one")
    return name, open_store(located, options, repo.root, repo.algo, name, index_base,
                            origins, config.modify_command(name))


def _origins(config: Config, name: str) -> dict[str, str]:
    """Where each option in effect of the remote `name` comes from, as an error names it:
    `the project config (.dvx/config)`."""
    return {key: f"the {level} config ({_file_of(config, level)})"
            for key, (level, _) in config.remote_settings(name).items()}


def _is_client_option(url: str, key: str) -> bool:
    """Is `key` an option that the client of the remote at `url` is handed as given (a generic
    fsspec remote's own), where it may name a folder to write in, a file to read, or another
    filesystem to open?"""
    return key not in COMMON_OPTIONS and accepts_any_option(backend_for(url))


def _refuse_tracked_client_options(config: Config, name: str, url: str) -> None:
    """A generic fsspec remote takes its client's options from the user's own config only: a
    cloned .dvx/config would choose where that client writes and what it reads."""
    tracked = sorted(key for key, level in _levels_of(config, name).items()
                     if level == "project" and _is_client_option(url, key))
    if tracked:
        raise RemoteError(
            f"Remote '{name}' ({redact_url(url)}) gets options of its client from the tracked "
            f".dvx/config ({', '.join(tracked)}): its kind of remote hands them to its client "
            "as given, where one may name a folder to write in or a file to read, so dvx takes "
            "them only from your own config.",
            f"If you trust them, set each in .dvx/config.local, which wins over the tracked "
            f"config: `dvx remote modify --local {pasted_args(name, tracked[0], 'VALUE')}`.")


@dataclass(frozen=True)
class SetAside:
    """Options of a remote that one level of its configuration gives and dvx does not use
    (Config.set_aside_options): why, and how to have them used if they should be. Neither
    names the value of a secret."""
    level: str  # "global" or "project"
    keys: tuple[str, ...]
    reason: str
    remedy: str

    @property
    def notice(self) -> str:
        return f"{self.reason} {self.remedy}"


def set_aside(config: Config, name: str) -> list[SetAside]:
    """What every command that opens the remote `name` says it does not use (and `dvx config`
    shows as not in effect): the global config's options lent to another store, and each
    tracked choice that would turn off the check of the server's identity."""
    aside = config.set_aside_options(name)
    found = []
    url = config.remote_options(name).get("url", "")
    lent = tuple(sorted(key for level, key in aside if level == "global"))
    if lent:
        own = dict(config.files["global"].parser.items(_section(name)))
        other = _other_store(own, config.tracked_placement(name), config.repo_root())
        found.append(SetAside(
            "global", lent,
            f"The global config's remote '{name}' has {other}, so its options "
            f"({', '.join(lent)}) are not used for this repository's remote '{name}' "
            f"({redact_url(url)}): your settings for one store never go to another.",
            f"If they should, give them to this one with `dvx remote modify --local "
            f"{pasted_args(name, 'KEY', 'VALUE')}`."))
    for key in sorted(key for level, key in aside if level == "project"):
        value = config.files["project"].get(_section(name), key) or ""  # never a secret's
        found.append(SetAside(
            "project", (key,),
            f"The tracked .dvx/config sets {key} = {value} for remote '{name}', which would "
            "turn off the check of the server's identity: not used, the server is checked.",
            "If you trust the network to it, set it in your own config: `dvx remote modify "
            f"--local {pasted_args(name, key, value)}`."))
    return found


def _warn_set_aside(config: Config, name: str) -> None:
    """Say, as each command opens the remote `name`, what of its configuration is not used."""
    for options in set_aside(config, name):
        log.warning("%s", options.notice)


def _other_store(own: dict[str, str], placed: dict[str, str], root: str | None) -> str:
    """How the global config's remote, with its options `own`, names another store than the
    one the tracked config places it at (`placed`: Config.tracked_placement)."""
    if not own.get("url"):
        return "no URL"
    url = placed["url"]
    if store_of(own["url"], {}, root) != store_of(url, {}, root):
        return f"another URL ({redact_url(own['url'])})"
    try:
        server_options = backend_for(url).server_options
    except ConfigError:  # an unknown kind of URL, refused where it is opened
        server_options = ()
    # One naming no endpoint speaks to its kind's default server: not "another" one of its own.
    named_here = [key for key in server_options
                  if placed.get(key, "").strip() and not own.get(key, "").strip()]
    if named_here:
        shown = " and ".join(f"{key} {'(a secret)' if is_secret(key) else redact_url(placed[key])}"
                             for key in named_here)
        return f"the same URL but names no {' or '.join(named_here)} while this one names {shown}"
    chosen_by = ", ".join(server_options) or "its options"
    return f"the same URL but another server (chosen by {chosen_by})"


def dangling_default(config: Config) -> RemoteError | None:
    """The error every use of the default remote meets when `core.remote` names no remote."""
    name = default_remote(config)
    return None if name is None or name in config.remote_names() else _default_gone(config,
                                                                                  name)


def _default_gone(config: Config, name: str) -> RemoteError:
    """The error for a default remote (`core.remote`) that names no remote: renamed or
    removed since, at another level than the default (a teammate's rename in .dvx/config
    leaves this clone's config.local default behind)."""
    where = config.where("core", "remote") or "project"
    flag = "" if where == "project" else f" --{where}"
    below = next((lv for lv in reversed(LEVELS[:LEVELS.index(where)]) if lv in config.files
                  and config.files[lv].get("core", "remote")), None)
    then = (f" (the {below} config's default, '{config.files[below].get('core', 'remote')}',"
            " then applies)" if below is not None else "")
    return RemoteError(
        f"There is no remote named '{name}', the default remote that the {where} config "
        f"({_file_of(config, where)}) sets: it was renamed or removed since (by a teammate, "
        "say).",
        f"`dvx remote list` names the remotes there are; make one the default with `dvx "
        f"remote default{flag} NAME`, or clear this default with `dvx remote default --unset"
        f"{flag}`{then}.")


def _is_relative_path(url: str) -> bool:
    return is_local_url(url) and scheme_of(url) != "file" and not os.path.isabs(
        os.path.expanduser(path_of_local_url(url)))


def open_source_remote(repo: Repo, config: Config, name: str | None,
                       readers: tuple[Config, ...], root: str | None, index_base: str
                       ) -> tuple[str, RemoteStore]:
    """The remote `name` (None: the default) of another repository read as a source
    (ops/source.py), as its settings at the revision read (`config`) name it, with the
    options that the reader's configurations (`readers`: the user's global one, the reading
    repository's) give for a remote of the same URL, under any name: credentials stay with
    the user, never in the source. A relative directory URL is
    resolved from `root`, where the source is on this machine; for a source that is not
    (None: a clone of a URL), it is refused, as it names nothing here. Copies of its pack
    indexes are kept below `index_base`, the reader's: a source is never written to."""
    def locate(url: str, name: str) -> str:
        if not _is_relative_path(url):
            return url
        if root is None:
            raise RemoteError(f"Remote '{name}' is the relative directory '{url}', which names "
                              "nothing from here: it is relative to a checkout of the "
                              "repository, on the machine where that is.",
                              "Read the source from a clone of it on this machine (its path, "
                              "not a URL), or give it a remote with an absolute path or a URL.")
        return local_path(url, root)  # absolute: another repository's, not this one's

    return _open_remote(repo, name, readers, locate, index_base, config, source=True)


def _source_options(source: Config, name: str) -> dict[str, str]:
    """The options of a source project's remote `name`, but a `retries` or `timeout` dvx
    refuses: read as unset (the default), as its `jobs` is (`_source_jobs`); and a `retries`
    past the default: capped at it. They only tune how hard and how long a failing request
    is tried, the reader cannot fix another project's config, and it may not make a reader
    try a failing request without end."""
    options = source.remote_options(name)
    for key in _TUNING_KEYS:
        value = options.get(key)
        if value is None:
            continue
        try:
            validate(_section(name), key, value)
        except ConfigError as exc:
            log.debug("ignored the source's %s of remote '%s': %s", key, name, exc.message)
            del options[key]
    if "retries" in options and int(options["retries"]) > DEFAULT_RETRIES:
        options["retries"] = str(DEFAULT_RETRIES)
    return options


_TUNING_KEYS = ("retries", "timeout")  # a source's that dvx refuses are read as unset


def remote_jobs(store: ObjectStore, jobs: int | None) -> int:
    """Objects in flight at once: `jobs` (-j, else the remote's `jobs` option), else what
    suits the store, each within what the process's limit of open files leaves room for
    (`within_open_files`). A count given or lowered also bounds the store's own concurrent
    requests (Blobs.request_limit): -j 1 means one request at a time."""
    if jobs is None:
        suits = store.blobs.jobs
        fitting = within_open_files(suits, asked=False)
        store.blobs.request_limit = None if fitting == suits else fitting
        return fitting
    store.blobs.request_limit = within_open_files(max(1, jobs), asked=True)
    return store.blobs.request_limit


def configured_jobs(config: Config, name: str) -> int | None:
    """The `jobs` option of the remote `name`, None where unset. Read only where no -j is
    given, which wins over it: a value dvx refuses (past threads.MAX_JOBS, written by hand
    or before that bound) stops a command only where it would be used, naming its file and
    its fix (JobsSettingError: a command that has -j adds that it wins over it)."""
    setting = config.remote_settings(name).get("jobs")
    if setting is None:
        return None
    level, value = setting
    try:
        return int(validate(_section(name), "jobs", value))
    except ConfigError as exc:
        flag = "" if level == "project" else f"--{level} "
        raise JobsSettingError(f"Remote '{name}': {exc.message[:-1]}, in the {level} config "
                               f"({_file_of(config, level)}).",
                               f"Fix it with `dvx remote modify {flag}"
                               f"{pasted_args(name, 'jobs', 'VALUE')}`.") from None


def settings_for(repo: Repo, name: str, remote: ObjectStore, jobs: int | None,
                 source: Config | None = None) -> transfer.Settings:
    """How a transfer with the remote `name` runs: its jobs (-j, else the remote's; None: no
    -j given, or the command has none) and retries, as the repository's config sets them,
    with progress; or as `source` sets them, the config of a source project (import, update)
    whose remote this is."""
    if source is None:
        options = repo.config.remote_options(name)
        jobs = configured_jobs(repo.config, name) if jobs is None else jobs
    else:
        options = _source_options(source, name)
        jobs = _source_jobs(source, name) if jobs is None else jobs
    return transfer.Settings(remote_jobs(remote, jobs), request_retries(options),
                             repo.progress)


def _source_jobs(source: Config, name: str) -> int | None:
    """The `jobs` of a source project's remote `name`; None (the store's own default) for
    one dvx refuses: it only tunes speed, and the reader cannot fix another project's config."""
    try:
        return configured_jobs(source, name)
    except JobsSettingError as exc:
        log.debug("ignored the source's jobs of remote '%s': %s", name, exc.message)
        return None
