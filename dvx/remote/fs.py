"""From a remote's URL and options to an ObjectStore on an fsspec filesystem.

A local or mounted directory is a plain path or a file:// URL; a relative path is taken
relative to the repository root. Every other scheme goes through fsspec's registry, so a
backend is a matter of configuration, not of new transfer code.
"""

from __future__ import annotations

import os
import re
from typing import Any

from dvx.errors import RemoteError
from dvx.objects.odb import ObjectStore

# The package that provides each scheme, for the "install ..." advice.
SCHEME_EXTRAS = {"s3": "s3", "ssh": "ssh", "sftp": "ssh", "gs": "gs", "gcs": "gs",
                 "azure": "azure", "az": "azure", "abfs": "azure", "http": "http",
                 "https": "http"}
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@]*)@")


def redact_url(url: str) -> str:
    """The URL with any user:password part hidden."""
    return _USERINFO.sub(lambda m: m.group(1) + "***@", url)


def is_local_url(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def local_path(url: str, repo_root: str) -> str:
    path = url[len("file://"):] if url.startswith("file://") else url
    path = os.path.expanduser(path)
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(repo_root, path))


def open_store(url: str, options: dict[str, str], repo_root: str, algo: str) -> ObjectStore:
    if is_local_url(url):
        from fsspec.implementations.local import LocalFileSystem

        return ObjectStore(LocalFileSystem(auto_mkdir=True), local_path(url, repo_root), algo)
    scheme = url.split("://", 1)[0].lower()
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url, **_fs_options(options))
    except ImportError:
        extra = SCHEME_EXTRAS.get(scheme, scheme)
        raise RemoteError(f"Remotes with '{scheme}://' URLs need an extra package.",
                          f"Install it with: pip install 'dvx[{extra}]'.") from None
    except ValueError as exc:
        raise RemoteError(f"Unsupported remote URL '{redact_url(url)}': {exc}.") from None
    return ObjectStore(fs, path, algo)


def _fs_options(options: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k not in ("url", "jobs")}
