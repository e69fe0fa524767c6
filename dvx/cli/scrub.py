"""The one scrubber every message dvx prints about an error goes through: errors (`ERROR:`),
warnings, log messages and tracebacks may quote a library's error, and a library may quote a
password, a key or a URL holding them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from dvx.errors import quoted_by_libraries

SECRET_ENVIRONMENT = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_KEY",
                      "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN")

_WORD = re.compile(r"[^\W\d_]+")  # letters only: a word dvx's own sentences may use


def scrubbed(text: str, quoting: Iterable[BaseException | str] = ()) -> str:
    """`text` without any configured secret that a library may have put into it: secret
    options, the passwords and query values (tokens) of remote URLs, and those of any URL
    the text quotes. `quoting`: the errors the text may quote the libraries' words of (each
    followed through what it was raised from or joins: `quoted_by_libraries`), or such
    words themselves. A secret that is a word of letters alone ("data", "wrong") is one
    dvx's own sentences and paths may use: it is hidden only where the libraries' words
    hold it, and then as a whole word ("metadata" stays)."""
    from dvx.remote.backends import redact_urls

    quoting = tuple(quoting)
    quoted = [q for q in quoting if isinstance(q, str)]
    quoted += quoted_by_libraries(*(q for q in quoting if isinstance(q, BaseException)))
    # The known values first, longest first: a URL redacted first could leave only a part
    # of one (a password holding '@' or '/' that a message quotes apart from its URL).
    for secret in sorted(set(_secrets()), key=len, reverse=True):
        if len(secret) < 4:
            continue
        if not _WORD.fullmatch(secret):
            text = text.replace(secret, "***")
            continue
        as_word = re.compile(rf"(?<!\w){re.escape(secret)}(?!\w)")
        if any(as_word.search(library) for library in quoted):
            text = as_word.sub("***", text)
    return redact_urls(text)


def _secrets() -> list[str]:
    """The secrets configured where dvx runs: in its environment, and in the options and
    URLs of the repository's remotes."""
    from dvx.remote.backends import is_secret, url_secrets

    secrets = [os.environ.get(name, "") for name in SECRET_ENVIRONMENT]
    try:
        from dvx.repo import Repo

        config = Repo.find().config
        for name in config.remote_names():
            options = config.remote_options(name)
            secrets += [v for k, v in options.items() if is_secret(k)]
            secrets += url_secrets(options.get("url", ""))
    except Exception:  # no repository, or an unreadable config: nothing more to hide
        pass
    return secrets
