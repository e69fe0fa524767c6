"""From a remote's URL and options to a RemoteStore on the store that suits it (blobs.py).

A local or mounted directory is a plain path or a file:// URL; a relative path is taken
relative to the repository root. Every other scheme is built by its backend
(dvx/remote/backends.py), so a new backend needs no new transfer code.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from dvx.errors import (
    MODIFY_A_REMOTE,
    ConfigError,
    CredentialsError,
    DvxError,
    LostConnection,
    RemoteError,
)
from dvx.logs import pasted_args
from dvx.objects.blobs import DirectoryBlobs
from dvx.remote.backends import (
    COMMON_OPTIONS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    LOCAL_SCHEMES,
    Backend,
    MissingCredentials,
    backend_for,
    bucket_doubt,
    bucket_of,
    check_option_value,
    credentials_commands,
    credentials_for_source,
    endpoint_of,
    host_key_refusal,
    is_secret,
    missing_client,
    network_failure,
    path_of_local_url,
    port_option_of,
    quiet_client_libraries,
    redact_url,
    resolve_paths,
    s3_access,
    s3_root,
    scheme_of,
    seconds_option,
    url_secrets,
)
from dvx.remote.blobs import (
    FAST_S3_CONNECTIONS,
    AzureBlobs,
    FsspecBlobs,
    GcsBlobs,
    HttpBlobs,
    S3Blobs,
    SftpBlobs,
)
from dvx.remote.option_files import is_refused_file
from dvx.remote.retry import describe
from dvx.remote.ssh import KEYFILE_COMPANIONS, KeyfileNeedsAgent
from dvx.remote.store import RemoteStore, index_dir_for

_T = TypeVar("_T")


def is_local_url(url: str) -> bool:
    """Is `url` a directory on this machine: a path, or a URL of any scheme of the local
    filesystem (file://, fsspec's local://), in any letter case?"""
    return scheme_of(url) in LOCAL_SCHEMES


def local_path(url: str, repo_root: str) -> str:
    """The absolute path of the directory remote at `url`, a relative one taken from
    `repo_root`."""
    path = os.path.expanduser(path_of_local_url(url))
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(repo_root, path))


PRIVATE_DIRECTORIES = (".dvx", ".git")


def refuse_private_directory(path: str, shown: str, name: str, hint: str | None = None
                             ) -> None:
    """No remote lives in a repository's .dvx (its cache) or .git: a cloned configuration
    naming one could make `gc --remote` delete another project's objects, or `push` write
    into a Git directory. A configuration error (exit 2), wherever the URL came from.
    `hint`: what to do instead (default: change the remote's URL)."""
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    for depth, part in enumerate(parts):
        if part.lower() in PRIVATE_DIRECTORIES:
            private = os.sep.join(parts[:depth + 1])
            raise ConfigError(f"The {shown} is the directory '{real}', in '{private}', a "
                              "repository's private directory (its cache or Git's): no remote "
                              "lives there, and dvx never writes or deletes there for one.",
                              hint or "Point the remote at a directory of its own: `dvx remote "
                              f"modify {pasted_args(name, 'url', 'DIR')}`.")


def _option_naming(options: dict[str, str], filename: object, root: str
                   ) -> tuple[str, str] | None:
    """The option (`keyfile`, `known_hosts`, ...) whose value, a relative one taken from the
    repository root `root`, names the local file `filename`, and what that file is: the
    option's own, or the public key or certificate beside a keyfile."""
    if not isinstance(filename, str):
        return None
    for key, value in options.items():
        path = os.path.join(root, os.path.expanduser(value))
        if path == filename:
            return key, key
        if key == "keyfile" and filename.startswith(path):
            what = KEYFILE_COMPANIONS.get(filename[len(path):])
            if what is not None:
                return key, f"keyfile's {what}"
    return None


def _unreadable_option_file(shown: str, name: str, exc: OSError, option: str, what: str
                            ) -> RemoteError:
    """The local file the remote's `option` names (`what`: that file, or one beside a
    keyfile) cannot be read, or is refused unread (option_files)."""
    why = f"is {exc.strerror}, so none of it was read" if is_refused_file(exc) else \
        f"cannot be read ({exc.strerror or exc})"
    fix = f"`dvx remote modify {pasted_args(name or 'NAME', option, 'PATH')}`"
    hint = f"Fix it with {fix}." if what == option else \
        f"Move it away, or name another key with {fix}."
    return RemoteError(f"Cannot set up the {shown}: its {what} '{exc.filename}' {why}.", hint)


CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound")


def is_credentials_error(exc: BaseException) -> bool:
    return any(cls.__name__ in CREDENTIAL_ERRORS for cls in type(exc).__mro__)


def no_credentials(shown: str, name: str, reason: str, url: str,
                   missing: MissingCredentials | None = None,
                   origins: Mapping[str, str] | None = None, modify: str = ""
                   ) -> CredentialsError:
    """The one error for a remote without credentials (an S3 or Azure remote whose client
    found none), whichever request found it, with the way out for the repository's own
    remote `name`, and for a source's remote at `url` (its options cannot be modified from
    the reader: a remote of the reader's own with the same URL lends it its options, as
    docs/reuse.md says). `missing`: what the client found lacking, when dvx tells it, with
    the options it speaks of, whose config files `origins` names (option -> where from).
    `modify`: the command that changes the remote's options (default: without a level)."""
    name = name or "NAME"
    backend = backend_for(url)
    hint = (missing.hint if missing and missing.hint else backend.credentials_hint).format(
        name=pasted_args(name), modify=modify or f"dvx remote modify {pasted_args(name)}") or \
        f"Give them with {credentials_commands(backend, name)}."
    source_hint = (missing.source_hint if missing and missing.source_hint
                   else backend.source_credentials_hint).format(url=url) or \
        credentials_for_source(backend, url)
    origins = origins or {}
    named = [f"its {option} comes from {origins[option]}" for option in
             (missing.options if missing else ()) if option in origins]
    reason = "; ".join([reason, *named])
    return CredentialsError(f"No credentials for the {shown}: {reason}.", hint, source_hint)


def login_refused(shown: str, exc: PermissionError, backend: Backend, name: str, url: str
                  ) -> CredentialsError:
    """The server was reached and refused the login (an SSH server the credentials it was
    given, the client's PermissionError naming the user and the host): no network problem.
    The way out for a source's remote at `url` is a remote of the reader's own."""
    reason = str(exc.strerror or exc)
    return CredentialsError(f"The server of the {shown} refused the login: {reason}.",
                            f"Check {backend.login_check.format(name=pasted_args(name or 'NAME'))} "
                            "(`dvx remote list` shows the URL).",
                            credentials_for_source(backend, url))


def keyfile_needs_agent(shown: str, exc: KeyfileNeedsAgent, name: str) -> RemoteError:
    """The SSH login with an encrypted `keyfile` failed: dvx has no passphrase to ask for,
    so the key signs through ssh-agent, as it does for `ssh -i`."""
    return RemoteError(
        f"Cannot log in to the {shown}: its keyfile '{exc.path}' is protected by a "
        f"passphrase, which dvx cannot ask for, so the login goes through ssh-agent's copy "
        f"of the key, as with ssh, and {exc.why}.",
        f"{exc.fix}, or drop the option to log in with the agent's other keys and those of "
        f"~/.ssh: `dvx remote modify {pasted_args(name or 'NAME', 'keyfile', options='--unset')}`.")


def request_retries(options: dict[str, str]) -> int:
    """Attempts for a failing request (the remote's `retries` option)."""
    try:
        return max(1, int(float(options.get("retries", DEFAULT_RETRIES))))
    except (ValueError, OverflowError):
        return DEFAULT_RETRIES


def request_timeout(options: dict[str, str], name: str = "") -> float:
    """Seconds a request may go without progress (the remote's `timeout` option)."""
    return seconds_option(options, "timeout", DEFAULT_TIMEOUT, name)


def check_settings(options: dict[str, str], name: str) -> None:
    """A RemoteError if the options every remote takes cannot work: the one rule, applied by
    `open_store` before any use and by `dvx remote modify` before a value is stored."""
    pack_settings(options, name)
    request_timeout(options, name)


def _size_option(options: dict[str, str], key: str, default: int, low: int, high: int,
                 name: str) -> int:
    value = options.get(key)
    if value is None:
        return default
    # Whole bytes in the digits 0-9 alone: int(float()) would make 0.5 the 0 that turns
    # packs off, and isdigit() alone takes digits int() refuses.
    digits = value.strip()
    number = int(digits) if digits.isascii() and digits.isdigit() else -1
    if not (number == 0 and key == "pack_threshold") and not low <= number <= high:
        raise RemoteError(f"The remote option {key}={value!r} must be a number of bytes from "
                          f"{low} to {high}" + (" (or 0)." if key == "pack_threshold" else "."),
                          "Fix it with `dvx remote modify "
                          f"{pasted_args(name or 'NAME', key, 'BYTES')}`.")
    return number


def pack_settings(options: dict[str, str], name: str = "") -> dict[str, int]:
    """The remote's pack options, checked: objects below `pack_threshold` bytes go in packs
    (0: none do) closed at `pack_size` bytes."""
    from dvx.remote.packs import DEFAULT_PACK_SIZE, DEFAULT_THRESHOLD, MAX_PACK_SIZE

    size = _size_option(options, "pack_size", DEFAULT_PACK_SIZE, 1 << 20, MAX_PACK_SIZE // 4,
                        name)
    threshold = _size_option(options, "pack_threshold", DEFAULT_THRESHOLD, 1, size, name)
    return {"pack_threshold": threshold, "pack_size": size}


def open_store(url: str, options: dict[str, str], repo_root: str, algo: str,
               name: str = "", index_base: str | None = None,
               origins: Mapping[str, str] | None = None, modify: str = "") -> RemoteStore:
    """The object store of the remote `name` at `url` (some clients connect right away).
    Copies of its pack indexes are kept below `index_base` (default: the .dvx/tmp of the
    repository at `repo_root`). `origins`: where each option comes from, in words (`the
    project config (.dvx/config)`), for an error saying which of them left it without
    credentials. `modify`: the command that changes its options (`dvx remote modify
    --local NAME`), which the hints of the store's errors give (default: without a level)."""
    modify = modify or (f"dvx remote modify {pasted_args(name)}" if name else MODIFY_A_REMOTE)
    backend = backend_for(url)
    shown = f"remote '{name}' ({redact_url(url)})" if name else f"remote at '{redact_url(url)}'"
    check_settings(options, name)
    packs = pack_settings(options)
    index_base = index_base or os.path.join(repo_root, ".dvx", "tmp")
    packing: dict[str, Any] = {**packs, "retries": request_retries(options)}
    if backend.name == "local":  # plain os calls; fsspec's LocalFileSystem only if needed
        path = local_path(url, repo_root)
        refuse_private_directory(path, shown, name or "NAME")
        shared = options.get("shared")
        if shared is not None:  # as a config file written by hand may have it
            check_option_value(url, f'remote "{name or "NAME"}"', "shared", shared, repo_root)
        location = os.path.realpath(path)
        local = RemoteStore(DirectoryBlobs(path, shared=shared is not None, shown=shown), algo,
                            index_dir=index_dir_for(index_base, location), **packing)
        local.name, local.modify = name, modify
        local.location = location
        return local
    own_options = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
    # By the store, not the URL: the same s3:// URL on two endpoints names two stores, whose
    # index copies must never mix (a refresh deletes the copies its store does not list).
    packing["index_dir"] = index_dir_for(index_base, store_identity(url, backend, own_options,
                                                                    os.environ))
    timeout = request_timeout(options)

    def set_up(step: Callable[[], _T], again: bool = False) -> _T:
        """`step()`, its failure said for a person. `again`: connecting again after a
        connection lost under a command, where the server's not taking it yet is that loss
        going on (LostConnection, tried again), not a remote that cannot be set up."""
        try:
            return step()
        except MissingCredentials as exc:  # found before any request (Azure, S3)
            raise no_credentials(shown, name, str(exc), redact_url(url), exc,
                                 origins, modify) from None
        except (ValueError, TypeError) as exc:
            raise RemoteError(f"Cannot set up the {shown}: {exc}.") from None
        except OSError as exc:  # a client that connects when it is built (SFTP)
            unread = _option_naming(own_options, exc.filename, repo_root)
            if unread is not None:  # a local file the client reads first: a key, say
                raise _unreadable_option_file(shown, name, exc, *unread) from None
            if isinstance(exc, PermissionError) and exc.filename is None:
                raise login_refused(shown, exc, backend, name, url) from None
            seconds = seconds_option(own_options, "connect_timeout", timeout)
            why = network_failure(exc, url, seconds=seconds)
            if again:  # the cause kept: a timeout tells that the server stopped answering
                raise LostConnection(shown, why) from exc
            port = port_option_of(backend, own_options, url)
            if port is None:
                raise RemoteError(f"Cannot reach the {shown}: {why}.",
                                  "Check the URL with `dvx remote list`, and the network.") \
                    from None
            raise RemoteError(f"Cannot reach the {shown} on {port}: {why}.",
                              "Check that option (`dvx remote modify "
                              f"{pasted_args(name or 'NAME', 'port', 'PORT')}`, or `dvx remote "
                              f"modify {pasted_args(name or 'NAME', 'port', options='--unset')}`"
                              " to take the URL's), and the network.") from None
        except ImportError as exc:  # fsspec knows the protocol; its client is not installed
            raise missing_client(f"Cannot set up the {shown}", exc) from None
        except DvxError:  # already said for a person (a backend's missing package)
            raise
        except KeyfileNeedsAgent as exc:
            raise keyfile_needs_agent(shown, exc, name) from None
        except Exception as exc:  # a client library's own failure on an unusual URL
            if is_credentials_error(exc):  # found when the client is built (S3)
                raise no_credentials(shown, name, describe(exc), redact_url(url),
                                     modify=modify) from None
            refused = host_key_refusal(exc, url, own_options, name or "NAME")
            if refused is not None:  # found when the client connects (SSH)
                raise refused from None
            if again and type(exc).__name__ == "ConnectionLost":  # asyncssh's, mid-login
                raise LostConnection(shown, str(exc)) from None
            raise RemoteError(f"Cannot set up the {shown}: {type(exc).__name__}: {exc}.",
                              "Check the URL with `dvx remote list`.") from None

    own_options = set_up(lambda: resolve_paths(backend, own_options, repo_root))

    def build(again: bool = False) -> tuple[Any, str]:
        quiet_client_libraries()
        return set_up(lambda: backend.build(url, own_options, timeout), again)

    settings: dict[str, Any] = {
        "atomic_put": backend.atomic_put, "read_only": backend.read_only,
        "bucket": (bucket_of(url), backend.bucket_kind) if backend.bucket_kind else None,
        "bucket_doubt": bucket_doubt(url),
        "put_options": set_up(lambda: backend.put_options(own_options)),
        "read_options": backend.read_options, "remote_name": name, "modify": modify, "shown": shown,
        "url": redact_url(url)}
    blobs: FsspecBlobs
    if backend.name == "s3":
        # s3fs (and botocore under it) is imported only when needed, which the lean path is
        # not when the options give the endpoint and the keys: that import is a third of a
        # second.
        from dvx.remote.s3fast import FastS3

        fast = FastS3(lambda: blobs.fs, s3_access(own_options, os.environ),
                      connections=FAST_S3_CONNECTIONS, timeout=timeout)
        blobs = S3Blobs(s3_root(url), lambda: build()[0], fast, **settings)
    else:
        fs, root = build()
        if backend.name == "ssh":
            blobs = SftpBlobs(root, lambda: fs, connect_again=lambda: build(again=True)[0],
                              **settings)
        else:
            kind = {"http": HttpBlobs, "azure": AzureBlobs, "gs": GcsBlobs}.get(backend.name,
                                                                                FsspecBlobs)
            blobs = kind(root, lambda: fs, **settings)
    blobs.server = backend.server_of(own_options)  # s3://BUCKET names no host
    if backend.credentials_from is not None:
        blobs.credentials_from = backend.credentials_from(own_options, os.environ,
                                                          origins or {})
    store = RemoteStore(blobs, algo, url=redact_url(url),
                        secrets=tuple(v for k, v in options.items() if is_secret(k) and v)
                        + url_secrets(url),
                        **packing)
    store.name, store.modify = name, modify
    store.location = store_location(url, backend, own_options)
    return store


def store_location(url: str, backend: Backend, options: Mapping[str, str]) -> str:
    """Where a network store keeps its objects, one string for every URL that leads there:
    its kind, the host it speaks to (without a login or a default port), its bucket and its
    path without doubled or trailing slashes. Two remotes of one location are one store: gc
    must not count one's copy of an object while it deletes that object through the other.
    Stores taken for one when they are not only make gc keep more in the cache; the reverse
    would lose data, so this errs that way: a bucket's location names no host at all, as one
    endpoint has many spellings (a host's case, its address, AWS_ENDPOINT_URL for the option)
    and the same bucket and prefix on two endpoints (a store being moved) are one store here."""
    host, where = _host_and_place(url, backend, options)
    return f"{backend.name}://{'' if backend.bucket_kind else host}/{where}".rstrip("/")


def store_identity(url: str, backend: Backend, options: Mapping[str, str],
                   environ: Mapping[str, str]) -> str:
    """One string for each network store, for what two stores must never share (the copies
    of their indexes, index_dir_for): as store_location, with a bucket's server, whose client
    speaks to the endpoint that endpoint_of gives, else to the one an AWS profile may set,
    else to its account's (Azure). Erring is safe here the other way: a store spelt two ways
    costs a second download of its indexes, never a mix of two stores' indexes."""
    host, where = _host_and_place(url, backend, options)
    if backend.bucket_kind:
        endpoint = endpoint_of(backend, options, environ)
        if endpoint is None and "profile" in backend.options:
            endpoint = f"profile:{options.get('profile') or environ.get('AWS_PROFILE', '')}"
        host = endpoint or host
    return f"{backend.name}://{host}/{where}".rstrip("/")


def _host_and_place(url: str, backend: Backend, options: Mapping[str, str]) -> tuple[str, str]:
    """The host a network store's client speaks to (from its options, else its URL; for a
    bucket, as the options name it or its Azure account) and its bucket and path."""
    parts = urlsplit(url)
    try:
        port = int(options.get("port") or parts.port or 0)
    except ValueError:
        port = 0
    host = (parts.hostname or "") + (f":{port}" if port not in (0, 22, 80, 443) else "")
    where = posixpath.normpath("/" + unquote(parts.path).lstrip("/")).strip("/")
    if backend.bucket_kind:  # an Azure container may come as CONTAINER@ACCOUNT's host
        bucket, at, account = parts.netloc.rpartition("@")
        bucket, host = (bucket, account.lower()) if at else (account, "")
        where = f"{bucket}/{where}"
    return (backend.server_of(options) or "").lower() or host, where
