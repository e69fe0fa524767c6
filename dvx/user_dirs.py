"""The user's own folders dvx keeps files in, after the XDG Base Directory spec:
`$XDG_CONFIG_HOME/dvx` (default `~/.config/dvx`) and `$XDG_CACHE_HOME/dvx` (default
`~/.cache/dvx`)."""

from __future__ import annotations

import os


def xdg_base_dir(variable: str, default: str) -> str:
    """The folder the XDG base directory `variable` names, or `~/default` where it is unset,
    empty or relative: the spec says to ignore a relative one, which would put the user's own
    files (config with credentials, clones, cached objects) in whatever folder a command runs
    from, a work tree Git sees."""
    base = os.environ.get(variable, "")
    return base if os.path.isabs(base) else os.path.join(os.path.expanduser("~"), default)


def user_config_dir() -> str:
    """Where the global config lives: `$XDG_CONFIG_HOME/dvx`."""
    return os.path.join(xdg_base_dir("XDG_CONFIG_HOME", ".config"), "dvx")


def user_cache_dir() -> str:
    """Where dvx keeps what it reads from other repositories outside one of its own (clones of
    Git sources, their objects): `$XDG_CACHE_HOME/dvx`."""
    return os.path.join(xdg_base_dir("XDG_CACHE_HOME", ".cache"), "dvx")
