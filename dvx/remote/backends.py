"""Remote backends: for each URL scheme, the options it accepts and how to build its fsspec
filesystem. Adding a backend is adding an entry here; the transfer engine does not change.

    s3://bucket/prefix          S3 and S3-compatible stores (s3fs)
    ssh://[user@]host[:port]/path   SFTP (sshfs/asyncssh)
    http(s)://host/path         read-only (fsspec's HTTP filesystem)
    gs://bucket/prefix          Google Cloud Storage (gcsfs, dvx's extra `gs`)
    azure://container/prefix    Azure Blob Storage (adlfs, dvx's extra `azure`)
    /path, file:///path         a local or mounted directory

Options whose values are secrets are listed in `secrets`: dvx keeps them out of the tracked
config and out of every message. Credentials can also come from each library's usual places
(AWS environment variables and ~/.aws, ~/.ssh, GOOGLE_APPLICATION_CREDENTIALS, ...).
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from dvx.errors import ConfigError, DvxError, RemoteError, UsageError, install_extra_hint
from dvx.logs import get_logger, pasted_args, shell_quote
from dvx.remote.option_files import check_option_file, is_refused_file
from dvx.remote.packs import DEFAULT_PACK_SIZE, DEFAULT_THRESHOLD
from dvx.remote.ssh import (
    check_keyfile,
    config_options,
    jump_host_of,
    jump_hosts,
    keyfile_args,
    refused_through_agent,
)

if TYPE_CHECKING:
    from dvx.objects.blobs import Blobs
    from dvx.remote.s3fast import Access

DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT = 60.0
COMMON_OPTIONS = {"url": "the remote's URL", "jobs": "objects transferred at once",
                  "retries": f"attempts for a failing transfer (default {DEFAULT_RETRIES})",
                  "timeout": "seconds without progress before a request fails "
                             f"(default {DEFAULT_TIMEOUT:g})",
                  "pack_threshold": "objects smaller than this many bytes are pushed inside "
                                    f"packs (default {DEFAULT_THRESHOLD}; 0: every object "
                                    "alone)",
                  "pack_size": f"bytes at which a pack is closed (default {DEFAULT_PACK_SIZE})"}
log = get_logger(__name__)


@dataclass(frozen=True)
class BucketNames:
    """What a kind of store takes as a bucket's name. `new`: the names its servers give new
    buckets (`rules`, in words), which `creators` keep; `anywhere`: every name a server of
    its kind may have (`laxer` says which takes the others), so that a URL naming another
    names no bucket there is or can be."""
    kind: str  # the stores' name in messages
    new: re.Pattern[str]
    rules: str
    creators: str
    anywhere: re.Pattern[str]
    laxer: str


# No S3 server takes a name of fewer than 3 characters, and botocore sends none of other
# characters than these.
S3_BUCKET_NAMES = BucketNames(
    kind="S3",
    new=re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    rules="3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a "
          "letter or digit, without '..', and not an IP address",
    creators="AWS S3, MinIO, SeaweedFS, R2 and Ceph (by default)",
    anywhere=re.compile(r"[A-Za-z0-9._-]{3,255}"),
    laxer="an AWS bucket made before March 2018 in us-east-1, or a Ceph gateway with "
          "rgw_relaxed_s3_bucket_names, may also have upper case and '_', up to 255 "
          "characters")


@dataclass(frozen=True)
class Backend:
    name: str
    schemes: tuple[str, ...]
    module: str  # the Python package that implements it
    extra: str  # dvx's extra that installs it (pyproject.toml)
    options: dict[str, str]  # option -> what it means
    secrets: frozenset[str]
    read_only: bool
    atomic_put: bool  # a plain put publishes a complete object (else: temp name + rename)
    # (url, options, timeout) -> (fs, root); `timeout`: seconds without progress on a request
    build: Callable[[str, dict[str, str], float], tuple[Any, str]]
    put_options: Callable[[dict[str, str]], dict[str, Any]] = lambda options: {}
    read_options: dict[str, Any] = field(default_factory=dict)  # for whole-object reads
    # What the URL's first path component names, on stores where it must exist: "bucket",
    # "container" (else "").
    bucket_kind: str = ""
    bucket_names: BucketNames | None = None  # None: any name its URL can hold
    # option -> its check of (value, repository root): the value as kept, or ValueError
    # saying what it must be (the root: where a relative path in a value is taken from)
    checks: dict[str, Callable[[str, str], str]] = field(default_factory=dict)
    query_string: bool = False  # a '?' in the URL starts a query string sent with each request
    decodes_path: bool = False  # '%23' in the URL's path names a '#' (so '%3F' a '?')
    # '.' and '..' in the URL's path reach the store as folder names (an object key's
    # prefix), where a file system (a directory, SSH) resolves them
    keeps_dot_folders: bool = True
    # The options that hold its credentials, which a hint names (a URL's user:password part
    # is taken by the kinds whose URL names a host, never by a bucket's).
    credential_options: tuple[str, ...] = ()
    # What to check when its server refuses the login ({name}: the remote's name).
    login_check: str = "the remote's credentials"
    # Where to give credentials when none are found (MissingCredentials, botocore's
    # NoCredentialsError): to the remote {name} of one's own ({modify}: the command that
    # changes its options, `dvx remote modify --local NAME`), and for the remote at {url} of
    # another repository, whose options are not the reader's (default: from the
    # credential_options).
    credentials_hint: str = ""
    source_credentials_hint: str = ""
    # (options, environment, where each option comes from) -> where its client takes the
    # credentials it signs with, in words (Blobs.credentials_from); None: it does not tell.
    credentials_from: Callable[[Mapping[str, str], Mapping[str, str], Mapping[str, str]],
                               str] | None = None
    # The commands that give a remote of the reader's own the login to another repository's
    # remote of its URL ({name}: that remote's; default: its credential_options set).
    login_commands: str = ""
    # The host its client speaks to, from its options, where the URL does not name it (a
    # bucket's URL names a bucket): named when it cannot be reached.
    server_of: Callable[[Mapping[str, str]], str | None] = lambda options: None
    # The environment variables its client takes its endpoint from when no option gives one,
    # the first set one winning (botocore's, gcsfs's).
    endpoint_variables: tuple[str, ...] = ()
    # Whether its client logs in to an SSH server, whose host key dvx then has it check
    # against known_hosts (a source URL's too). Declared by every kind, never defaulted: a
    # kind that spoke SSH without it would trust any server.
    verifies_host_keys: bool = field(kw_only=True)
    # The options that choose which server is spoken to, besides the URL: with the URL they
    # name the store (store_of), and the user's options for one store never go to another.
    server_options: tuple[str, ...] = field(default=(), kw_only=True)
    # (url, fsspec's options, timeout) -> (fs, path) of a source URL of this kind (import-url
    # reads one): its client waits for an answer as a remote's of this kind does. A kind that
    # verifies host keys is opened by `source_fs` itself.
    open_source: Callable[[str, dict[str, Any], float], tuple[Any, str]] = \
        field(default=lambda url, options, timeout: _url_to_fs(url, options), kw_only=True)

    def all_options(self) -> dict[str, str]:
        return {**COMMON_OPTIONS, **self.options}

    @property
    def url_user_is_login(self) -> bool:
        """Whether a URL's user part (before its '@') is a login, a credential to hide. A
        bucket's URL takes none: there it names no login (adlfs reads
        azure://CONTAINER@ACCOUNT.blob.core.windows.net/PATH as CONTAINER/PATH)."""
        return not self.bucket_kind


# The form of an SSH URL that dvx's own text writes, its optional login in brackets: the one
# login part the scrubber leaves as written (where no other '@' follows it), since any other,
# in the same shape or not, may be a client's quote of a real one.
SSH_URL_FORM = "ssh://[USER@]HOST[:PORT]/PATH"
_TEMPLATE_LOGIN = SSH_URL_FORM[:SSH_URL_FORM.index("]") + 1]  # ssh://[USER@]


class MissingCredentials(Exception):
    """Neither a remote's options nor the environment give its client credentials it cannot
    work without (why, in the message): found before any request, when it is built.
    `options`: the remote's options the message speaks of, whose config levels the error
    names; `hint` and `source_hint` take the place of the kind's own (Backend.
    credentials_hint) where those would name as the way out what is set already."""

    def __init__(self, reason: str, options: tuple[str, ...] = (), hint: str = "",
                 source_hint: str = "") -> None:
        super().__init__(reason)
        self.options = options
        self.hint = hint
        self.source_hint = source_hint


TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")


def _bool(value: str) -> bool:
    return value.strip().lower() in TRUE_WORDS


def _import(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RemoteError(f"This remote needs the Python package '{module}', which is not "
                          "installed.", install_extra_hint(extra)) from None


def s3_root(url: str) -> str:
    """`bucket/prefix` from s3://bucket/prefix."""
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError(f"The S3 URL '{redact_url(url)}' has no bucket.",
                          "Use s3://BUCKET/PREFIX.")
    return (parts.netloc + parts.path).rstrip("/")


def bucket_of(url: str) -> str:
    """The bucket (or container) of an object store's URL: scheme://BUCKET/prefix."""
    return urlsplit(url).netloc


def ssl_verify_setting(value: str, root: str | None) -> bool | str:
    """What the `ssl_verify` option asks for: True (check the server's certificate against
    the system's CAs), False (no check), or the absolute path of the CA bundle file to check
    it against. A relative path is taken from the repository root `root`, wherever dvx runs
    (None: the value must be absolute already, as resolve_paths leaves it). ValueError
    for anything else: a typo, or a bundle that is not there, must never turn the check off."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return _option_file(value, root, "CA bundle",
                        "true, false or the path of a CA bundle file")


def _option_file(value: str, root: str | None, what: str, must_be: str) -> str:
    """The absolute path of the file an option names, a relative one taken from the
    repository root `root` (None: it must be absolute already); ValueError saying what the
    option `must_be` when it is no regular file there."""
    path = os.path.expanduser(value.strip())
    if not os.path.isabs(path):
        if root is None:
            raise ValueError(f"the {what} path '{value}' is not absolute")
        path = os.path.join(root, path)
    try:
        check_option_file(path)
    except OSError as exc:
        problem = "does not exist" if isinstance(exc, FileNotFoundError) else \
            "is a directory" if os.path.isdir(path) else \
            f"is {exc.strerror}" if is_refused_file(exc) else \
            f"cannot be read ({exc.strerror or exc})"
        raise ValueError(f"it must be {must_be} (a relative one is taken from the repository "
                         f"root), and '{path}' {problem}") from None
    return path


def credentials_file(value: str, root: str | None) -> str:
    """The absolute path of the credentials file (a service account's JSON key) that a GS
    remote's `credentialpath` names, a relative one taken from the repository root `root`
    (None: it must be absolute already, as resolve_paths leaves it). ValueError naming the
    file if it is not there or holds no JSON object: gcsfs would take a path that is no
    file for an access token, and report a file that is no JSON without naming it."""
    import json

    path = _option_file(value, root, "credentials file",
                        "the path of a service account's JSON key file")
    try:
        with open(path, "rb") as f:
            key = json.load(f)
    except OSError as exc:
        raise ValueError(f"the credentials file '{path}' cannot be read "
                         f"({exc.strerror or exc})") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"the credentials file '{path}' is not valid JSON ({exc})") from None
    if not isinstance(key, dict):
        raise ValueError(f"the credentials file '{path}' holds no JSON object (a service "
                         "account's key is one)")
    return path


def _check_credentials_file(value: str, root: str) -> str:
    credentials_file(value, root)
    return value.strip()  # as given: a relative path stays the repository's


# The SSH options that name a local file, which its client opens when it connects.
SSH_FILE_OPTIONS = ("keyfile", "known_hosts")


def resolve_paths(backend: Backend, options: dict[str, str], root: str) -> dict[str, str]:
    """The options with each local file the backend's options name (a CA bundle, a
    credentials file, an SSH key or known_hosts file) as an absolute path, a relative one
    taken from the repository root `root`: the client libraries would take it from the
    current directory, so a file committed with the project would be missed from a
    subfolder. Each file is checked first (option_files): an OSError naming an SSH file
    that is no regular file of plausible size, a ValueError for the others."""
    resolved = dict(options)
    for option in SSH_FILE_OPTIONS:
        value = options.get(option)
        if option in backend.options and value and not is_trust_setting(option, value):
            resolved[option] = path = os.path.join(root, os.path.expanduser(value))
            # an OSError naming the file, which open_store says is the option's
            if option == "keyfile":
                check_keyfile(path)
            else:
                check_option_file(path)
    if "ssl_verify" in backend.options and "ssl_verify" in options:
        verify = ssl_verify_setting(options["ssl_verify"], root)
        resolved["ssl_verify"] = verify if isinstance(verify, str) else str(verify).lower()
    if "credentialpath" in backend.options and "credentialpath" in options:
        resolved["credentialpath"] = credentials_file(options["credentialpath"], root)
    return resolved


def _check_ssl_verify(value: str, root: str) -> str:
    import ssl

    bundle = ssl_verify_setting(value, root)
    if isinstance(bundle, str):
        try:
            ssl.create_default_context(cafile=bundle)
        except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"'{bundle}' is no CA bundle: it holds no certificate in PEM form "
                             f"({getattr(exc, 'reason', None) or exc})") from None
    return value.strip()  # as given: a relative path stays the repository's


def _build_s3(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
              ) -> tuple[Any, str]:
    root = s3_root(url)
    s3fs = _import("s3fs", "s3")
    given, options = options, s3_keys_in_effect(options, os.environ)
    kwargs: dict[str, Any] = {"skip_instance_cache": True}
    if "endpointurl" in options:
        kwargs["endpoint_url"] = options["endpointurl"]
    if "access_key_id" in options:
        kwargs["key"] = options["access_key_id"]
    if "secret_access_key" in options:
        kwargs["secret"] = options["secret_access_key"]
    if "session_token" in options:
        kwargs["token"] = options["session_token"]
    if "profile" in options:
        kwargs["profile"] = options["profile"]
    client_kwargs: dict[str, Any] = {}
    if "region" in options:
        client_kwargs["region_name"] = options["region"]
    if "ssl_verify" in options:
        client_kwargs["verify"] = ssl_verify_setting(options["ssl_verify"], None)
    if client_kwargs:
        kwargs["client_kwargs"] = client_kwargs
    kwargs["config_kwargs"] = _s3_client_config(timeout)
    fs = _one_try(s3fs.S3FileSystem(**kwargs))
    if not fs.anon:
        from botocore.exceptions import NoCredentialsError, PartialCredentialsError, ProfileNotFound

        try:
            _check_s3_credentials(fs, explicit="key" in kwargs)
        except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
            raise _s3_without_credentials(exc, given, os.environ) from None
    return fs, root


def _s3_client_config(timeout: float) -> dict[str, Any]:
    """botocore's settings: `timeout` seconds without a byte before a request fails, and its
    own retries off (dvx retries every transfer itself: remote.retries)."""
    return {"connect_timeout": min(timeout, 30.0), "read_timeout": timeout,
            "retries": {"max_attempts": 1}}


def _one_try(fs: Any) -> Any:
    """s3fs's filesystem `fs` without s3fs's own loop of retries, each of which would wait
    out the timeout again."""
    fs.retries = 1
    return fs


def _open_s3_source(url: str, options: dict[str, Any], timeout: float) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True,
                                     config_kwargs=_s3_client_config(timeout), **options)
    return _one_try(fs), path


def _check_s3_credentials(fs: Any, explicit: bool) -> None:
    """Raise botocore's NoCredentialsError now if the client found none (environment,
    profile, ~/.aws, instance role), and its PartialCredentialsError if the options give a
    key id without its secret (`explicit`): every request would fail with it, and the first
    one may come from any step of a command, the lean S3 path's too."""
    from botocore.exceptions import NoCredentialsError
    from fsspec.asyn import sync

    fs.connect()  # builds the client, which resolves the credentials once
    if not explicit and sync(fs.loop, fs.session.get_credentials) is None:
        raise NoCredentialsError()


S3_KEY_OPTIONS = ("access_key_id", "secret_access_key")
S3_KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def _half_key_pair(options: Mapping[str, str]) -> tuple[str, str] | None:
    """(the key option the options give, the one they lack) where they give one of the
    pair only: no credential, yet one botocore takes over the environment's."""
    given = [key for key in S3_KEY_OPTIONS if key in options]
    if len(given) != 1:
        return None
    return given[0], next(key for key in S3_KEY_OPTIONS if key not in given)


def s3_keys_in_effect(options: Mapping[str, str], environ: Mapping[str, str]
                      ) -> dict[str, str]:
    """`options` with the key pair an S3 client is given. Half a pair in dvx's config (the
    team's access_key_id in the tracked config, whose secret a CI runner or a reader of the
    repository with `dvx get` has not set) gives way to a whole pair from elsewhere, in
    botocore's order: the `profile` the options name (one's own, in .dvx/config.local), for
    which botocore leaves the environment's keys aside; else the environment's
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, with its AWS_SESSION_TOKEN; else, the
    environment giving neither, the profile AWS_PROFILE (or AWS_DEFAULT_PROFILE) names,
    which botocore reads after the environment's keys. Given to botocore, the half would
    hide them from it (PartialCredentialsError). A key of the config is never paired with a
    secret from elsewhere: the two need not belong together."""
    if _half_key_pair(options) is None:
        return dict(options)
    kept = {k: v for k, v in options.items() if k not in (*S3_KEY_OPTIONS, "session_token")}
    if "profile" in options:
        return kept
    if all(environ.get(v) for v in S3_KEY_VARIABLES):
        token = environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN")
        return {**kept, **{key: environ[variable] for key, variable
                           in zip(S3_KEY_OPTIONS, S3_KEY_VARIABLES, strict=True)},
                **({"session_token": token} if token else {})}
    if _profile_of_environment(environ) is not None:
        return kept
    return dict(options)


def s3_credentials_from(options: Mapping[str, str], environ: Mapping[str, str],
                        origins: Mapping[str, str]) -> str:
    """Where an S3 remote's client takes the credentials it signs with, in botocore's order
    (s3_keys_in_effect), as an error names it: the remote's options (`origins`: where each
    comes from, `the local config (.dvx/config.local)`), the AWS profile they name, the
    environment's keys or the profile it names, else the places botocore looks by itself."""
    keys_set = all(environ.get(variable) for variable in S3_KEY_VARIABLES)
    unused = "; the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go unused" \
        if keys_set else ""
    if all(key in options for key in S3_KEY_OPTIONS):
        files = sorted({origins[key] for key in S3_KEY_OPTIONS if key in origins})
        where = f", set in {' and '.join(files)}" if files else ""
        return f"the remote's options access_key_id and secret_access_key{where}{unused}"
    if "profile" in options:
        where = f" set in {origins['profile']}" if "profile" in origins else ""
        return (f"the AWS profile '{options['profile']}', named by the remote's profile "
                f"option{where}{unused}")
    if keys_set:
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
    variable = _profile_of_environment(environ)
    if variable is not None:
        return f"the AWS profile '{environ[variable]}' that {variable} names"
    return ("the default profile of your AWS credentials file (~/.aws/credentials), or "
            "another place the AWS client looks (an instance role)")


def _profile_of_environment(environ: Mapping[str, str]) -> str | None:
    """The variable that names the AWS profile botocore reads where the options name none
    (AWS_DEFAULT_PROFILE, else AWS_PROFILE, in botocore's order), when the environment gives
    no key of its own, which botocore would read first (a half pair stops it there)."""
    if any(environ.get(variable) for variable in S3_KEY_VARIABLES):
        return None
    return next((v for v in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if environ.get(v)), None)


def _s3_without_credentials(exc: Exception, options: Mapping[str, str],
                            environ: Mapping[str, str]) -> Exception:
    """botocore's finding no credentials (`exc`), said with what the remote's `options` gave
    its client, where the kind's hint would name as the way out the environment's keys that
    are set and not used: half a key pair with no whole one in the environment to take its
    place, or a profile, named by the options or AWS_PROFILE, for which botocore leaves the
    environment's keys aside. `exc` itself otherwise."""
    profile_not_found = type(exc).__name__ == "ProfileNotFound"
    half = _half_key_pair(options)
    if half is not None and not profile_not_found and "profile" not in options \
            and _profile_of_environment(environ) is None:
        return _half_key_pair_alone(*half, environ)
    if "profile" in options or profile_not_found or half is not None:
        return _profile_without_credentials(profile_not_found, options, environ)
    return exc


# Where a reader of another repository gives S3 credentials of their own for its remote
# ({url}): a remote of the same store in their own config lends it its options.
_S3_OWN_REMOTE = ("in your own config, to a remote of the same URL (and endpointurl, where "
                  "the source's names one), whose options apply to it: `dvx remote add "
                  "--global NAME {url}`, then `dvx remote modify --global NAME")


def _half_key_pair_alone(given: str, missing: str, environ: Mapping[str, str]
                         ) -> MissingCredentials:
    """The options give the key `given` without the key `missing`, and the environment has
    no whole pair to take their place (s3_keys_in_effect): what it has is named, never
    recommended as it stands."""
    have = [variable for variable in S3_KEY_VARIABLES if environ.get(variable)]
    lack = [variable for variable in S3_KEY_VARIABLES if not environ.get(variable)]
    if have:
        environment = f"(it gives {have[0]} without {lack[0]})"
        pair = f"{lack[0]} beside the environment's {have[0]}"
    else:
        environment = "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        pair = "a key pair in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    return MissingCredentials(
        f"its options give the {given} but not the {missing}, and the environment no key "
        f"pair to use instead {environment}", (given,),
        f"Give the {missing} with `{_command_giving(missing)} {missing} ...`, or "
        f"{pair}: the environment's pair is used where the config gives half of one.",
        f"Give {pair} (the environment's pair is used where the config gives half of one), "
        f"or a key pair {_S3_OWN_REMOTE} access_key_id ...` and `... secret_access_key ...`.")


def _command_giving(missing: str) -> str:
    """The command a hint names to give the key option `missing`, as a template of `{name}`
    and `{modify}`: the secret key in config.local, never in the tracked config."""
    return "dvx remote modify --local {name}" if missing == "secret_access_key" else "{modify}"


def _profile_without_credentials(not_found: bool, options: Mapping[str, str],
                                 environ: Mapping[str, str]) -> MissingCredentials:
    """The AWS profile named by the options (or AWS_PROFILE) is not found (`not_found`) or
    gives no keys. botocore then uses no keys of the environment: the way out is the
    profile, never AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Half a key pair in the
    options gave way to the profile (s3_keys_in_effect): said so, and where it is set."""
    by_option: tuple[str, ...] = ()
    if "profile" in options:
        named, profile, by_option = "its profile option", options["profile"], ("profile",)
    else:
        named = next((v for v in ("AWS_DEFAULT_PROFILE", "AWS_PROFILE") if environ.get(v)),
                     "AWS_PROFILE")  # in botocore's order
        profile = environ.get(named, "")
    found = ("which your AWS config and credentials files do not have" if not_found
             else "which gives no keys")
    # Not where the environment's keys took the half's place (a missing AWS_PROFILE)
    half = _half_key_pair(options) if by_option or _profile_of_environment(environ) else None
    if half is not None:
        found += (f" (the {half[0]} the options give without the {half[1]} gives way to "
                  "the profile)")
    keys_set = all(environ.get(variable) for variable in S3_KEY_VARIABLES)
    unused = (", and leaves the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
              "unused" if keys_set else "")
    give = "Give the profile its keys in your AWS credentials file (~/.aws/credentials), or "
    if by_option:
        hint = f"{give}name another with `dvx remote modify --local {{name}} profile PROFILE`."
        source_hint = f"{give}name another {_S3_OWN_REMOTE} profile PROFILE`."
    elif half is not None:
        given, missing = half
        command = _command_giving(missing)
        hint = f"{give}unset {named} and give the {missing} with `{command} {missing} ...`."
        source_hint = (f"{give}unset {named} and give a key pair {_S3_OWN_REMOTE} "
                       "access_key_id ...` and `... secret_access_key ...`.")
        by_option = (given,)
    else:
        then = (" so that the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are "
                "used" if keys_set else "")
        hint = source_hint = f"{give}unset {named}{then}."
    return MissingCredentials(f"{named} names the AWS profile '{profile}', {found}{unused}",
                              by_option, hint, source_hint)


def s3_access(options: dict[str, str], environ: Mapping[str, str]) -> Access | None:
    """The endpoint, region and credentials of an S3 remote, as botocore would resolve them,
    when the options and the environment give them outright (an `endpointurl`, and keys in
    the options or in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which take the place of
    half a pair in the options: s3_keys_in_effect): then the lean S3 path
    needs no AWS client library, whose import and set-up take a third of a second. None when
    only botocore can tell: a `profile`, an AWS config file (it may set the region, the
    addressing style, a CA bundle...), keys from ~/.aws or an instance role, fsspec's own
    S3 configuration."""
    from dvx.remote.s3fast import Access

    endpoint = options.get("endpointurl")
    if not endpoint or "profile" in options:
        return None
    config_file = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    if os.path.exists(os.path.expanduser(config_file)):
        return None
    from fsspec.config import conf

    if conf.get("s3"):
        return None
    options = s3_keys_in_effect(options, environ)
    if "access_key_id" in options or "secret_access_key" in options:
        if "access_key_id" not in options or "secret_access_key" not in options:
            return None
        key, secret = options["access_key_id"], options["secret_access_key"]
        token = options.get("session_token")  # explicit keys never take a token from elsewhere
    elif environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        key, secret = environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]
        token = environ.get("AWS_SESSION_TOKEN") or environ.get("AWS_SECURITY_TOKEN")
    else:
        return None
    verify: bool | str = environ.get("AWS_CA_BUNDLE") or environ.get("REQUESTS_CA_BUNDLE") or True
    if "ssl_verify" in options:
        verify = ssl_verify_setting(options["ssl_verify"], None)
    region = options.get("region") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return Access(endpoint, region, key, secret, token or None, verify)


S3_PART_SIZE = 8 << 20  # objects below twice this (the chunksize) go in one PUT
S3_MIN_PART_SIZE = 5 << 20  # S3 refuses a smaller multipart part (but the last)
S3_MAX_PART_SIZE = 5 << 30  # S3 refuses a larger part, and a larger single PUT
S3_MAX_PARTS = 10_000  # S3 refuses part 10,001 of a multipart upload
S3_MAX_OBJECT_SIZE = 5 << 40  # S3 stores no larger object


def _chunksize(value: str, root: str = "") -> str:
    """The S3 option chunksize, checked by `remote modify` and before any use (the one rule:
    the store would refuse every multipart upload with smaller parts, or larger)."""
    try:
        part = int(value)
    except ValueError:
        raise ValueError("not a whole number of bytes") from None
    if part < S3_MIN_PART_SIZE:
        raise ValueError(f"it must be at least {S3_MIN_PART_SIZE} (5 MiB), S3's smallest "
                         "multipart part")
    if part > S3_MAX_PART_SIZE:
        raise ValueError(f"it must be at most {S3_MAX_PART_SIZE} (5 GiB), S3's largest "
                         "multipart part and single upload")
    return value


def s3_part_size(size: int, chunksize: int, max_parts: int = S3_MAX_PARTS) -> int:
    """The part size of a multipart upload of `size` bytes: `chunksize`, or, when that would
    take more than `max_parts` parts (S3's 10,000), the smallest whole number of MiB that
    takes no more, as boto3's transfer manager does (it needs a file above 78 GiB at the
    default chunksize; at S3's largest object, 5 TiB, it is 525 MiB)."""
    fewest = -(-size // max_parts)
    if fewest <= chunksize:
        return chunksize
    return -(-fewest // (1 << 20)) << 20


def _s3_put_options(options: dict[str, str]) -> dict[str, Any]:
    value = options.get("chunksize")
    if value is None:
        return {"chunksize": S3_PART_SIZE}
    try:
        return {"chunksize": int(_chunksize(value))}
    except ValueError as exc:
        raise ConfigError(f"Invalid value {value!r} for the S3 option chunksize: {exc}.") from None


def _build_ssh(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
               ) -> tuple[Any, str]:
    sshfs = _import("sshfs", "ssh")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"The SSH URL '{redact_url(url)}' has no host.",
                          f"Use {SSH_URL_FORM}.")
    kwargs: dict[str, Any] = {"skip_instance_cache": True}
    port = options.get("port") or parts.port
    if port:
        kwargs["port"] = int(port)
    user = options.get("user") or (unquote(parts.username) if parts.username else None)
    if user:
        kwargs["username"] = user
    keyfile = os.path.expanduser(options["keyfile"]) if "keyfile" in options else None
    if keyfile is not None:
        kwargs.update(keyfile_args(keyfile))
    # The URL's password is taken as its user name is (a URL holding one is stored in the
    # local config only); the option, like `user`, wins.
    password = options.get("password") or (unquote(parts.password) if parts.password else None)
    if password:
        kwargs["password"] = password
    settings = _server_settings(options, timeout)
    kwargs.update(settings)
    jumps = jump_hosts(parts.hostname, port, user, settings)
    if jumps is not None:
        kwargs["tunnel"] = jumps
    root = unquote(parts.path) or "."
    try:
        return sshfs.SSHFileSystem(parts.hostname, **kwargs), root
    except PermissionError as exc:  # the login refused (sshfs's, from asyncssh's)
        if keyfile is None or not kwargs.get("ignore_encrypted") or exc.filename is not None \
                or jump_host_of(exc.__cause__ or exc):
            raise
        raise refused_through_agent(keyfile, exc) from None


def port_option_of(backend: Backend, options: Mapping[str, str], url: str) -> str | None:
    """How a failure to connect names the port the remote's `port` option sets, which is
    the one tried in place of the URL's (None: no such option, the URL's port holds)."""
    port = options.get("port") if "port" in backend.server_options else None
    if not port:
        return None
    try:
        in_url = urlsplit(url).port
    except ValueError:
        in_url = None
    instead = f", not the URL's {in_url}" if in_url and str(in_url) != str(port) else ""
    return f"port {port}, which the remote's `port` option sets{instead}"


def _server_settings(options: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """asyncssh's arguments for each SSH server on the way to a remote (a ProxyJump host
    too): the check of its host key, and how long it may take to answer."""
    return {
        "known_hosts": known_hosts_arg(options.get("known_hosts")),
        # The TCP connection, the handshake and the login: a server that accepts the
        # connection and then says nothing would otherwise hold the command for asyncssh's
        # two minutes.
        "connect_timeout": seconds_option(options, "connect_timeout", timeout),
        # A server that stops answering is noticed by keep-alive probes, one every third of
        # the timeout: asyncssh drops the connection at the first tick past `count_max`
        # unanswered ones, so a timeout after the last answer.
        "keepalive_interval": max(timeout / 3, 1.0), "keepalive_count_max": 2}


# Where OpenSSH looks for the host keys it trusts (without a UserKnownHostsFile in ~/.ssh/config).
OPENSSH_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")


def known_hosts_files(option: str | None) -> list[str] | None:
    """The files an SSH server's host key is checked against: the file the remote's
    `known_hosts` option names, None when it is 'ignore' (no check), else those of OpenSSH's
    that can be read (none: every server is unknown, and refused, as by ssh)."""
    if option == "ignore":
        return None
    if option is not None:
        return [os.path.expanduser(option)]
    found = (os.path.expanduser(path) for path in OPENSSH_KNOWN_HOSTS)
    return [path for path in found if os.path.isfile(path) and os.access(path, os.R_OK)]


def known_hosts_arg(option: str | None) -> Any:
    """asyncssh's `known_hosts` for the option: always given, since sshfs would otherwise pass
    None, which checks no host key at all (a man in the middle would go unnoticed)."""
    files = known_hosts_files(option)
    if files is None:
        return None
    if len(files) == 1:
        return files[0]  # a file that cannot be read is named by its OSError
    return files or b""  # b"": an empty list of trusted keys


def host_key_refusal(exc: BaseException, url: str, options: Mapping[str, str],
                     name: str | None) -> RemoteError | None:
    """The error for an SSH server whose host key is not trusted, or None if `exc` is
    another failure. `name`: the remote's (None: a source URL, which takes no options). The
    server refused may be a ProxyJump host on the way, checked against the same files."""
    if not any(cls.__name__ == "HostKeyNotVerifiable" for cls in type(exc).__mro__):
        return None
    parts = urlsplit(url)
    named = parts.hostname or ""
    user = options.get("user") or (unquote(parts.username) if parts.username else None)
    asked: str | int | None = options.get("port") or parts.port
    jump = jump_host_of(exc)
    if jump is not None:
        named, asked, user = jump
    host, port, key_name = _ssh_destination(named, asked, user)
    files = known_hosts_files(options.get("known_hosts")) or []
    where = " and ".join(files)
    shown = _shown_server(named, host, port)
    if jump is not None:
        shown += f", the ProxyJump host on the way to {parts.hostname}"
    # The file the key goes to: the option's, else the user's own (a fresh machine, a CI
    # runner, has no ~/.ssh, where `>>` cannot create the file: made first).
    chosen = options.get("known_hosts")
    target = shell_quote(os.path.expanduser(chosen)) if chosen else "~/.ssh/known_hosts"
    scan = (f"{'' if chosen else 'mkdir -p ~/.ssh && '}ssh-keyscan "
            f"{'' if port == 22 else f'-p {port} '}{host} >> {target}")
    def option(value: str) -> str:
        return f"`dvx remote modify {pasted_args(name or 'NAME', 'known_hosts', value)}`"
    holding = _files_recording(files, key_name, port)
    if holding:
        why = (f"the key it presented is not the one recorded for it in {where}: someone may "
               "be intercepting the connection, or the server's key was changed")
        entry = key_name if port == 22 else f"[{key_name}]:{port}"
        forget = " and ".join(f"`ssh-keygen{_keygen_file(path)} -R '{entry}'`"
                              for path in holding)
        record = (f"If the server's key did change (ask its administrator), forget the old one "
                  f"with {forget} and record the new one with `{scan}`")
    else:
        why = f"no key is recorded for it in {where}" if files else \
            f"there is no known_hosts file ({' or '.join(OPENSSH_KNOWN_HOSTS)})"
        record = (f"If it is the server you expect, record its key with `{scan}` (compare its "
                  "fingerprint with the one its administrator gives)")
    way_out = f"{record}." if name is None else (
        f"{record}, or name a file that holds it with {option('FILE')}. {option('ignore')} turns "
        "the check off, which lets anyone who can intercept the connection read and change "
        "what dvx sends and receives.")
    return RemoteError(f"Refused the SSH server {shown}: its host key cannot be verified, "
                       f"since {why}.", way_out)


def _ssh_destination(host: str, port: str | int | None, user: str | None
                     ) -> tuple[str, int, str]:
    """The host and port an SSH connection to `host` reaches, and the name its key is looked up
    by in known_hosts: ~/.ssh/config's HostName, Port and HostKeyAlias for it, as asyncssh's
    connection options (which read ~/.ssh/config) apply them for the real check (a port in
    the URL or the remote's options wins over Port). Looking up the alias itself would call a
    changed key unrecorded. Only a message depends on it: whatever fails in reading the
    config (an invalid one, another asyncssh) leaves the URL's host and port."""
    options = config_options(host, port, user)
    if options is None:
        return host, int(port or 22), host
    resolved, alias = str(options.host), options.host_key_alias
    return resolved, int(options.port), str(alias) if alias else resolved


def _shown_server(named: str, host: str, port: int) -> str:
    """The server as a message names it: the URL's host, and where an alias leads."""
    where = [host] if host != named else []
    where += [f"port {port}"] if port != 22 else []
    return f"{named} ({', '.join(where)})" if where else named


def _files_recording(files: list[str], host: str, port: int) -> list[str]:
    """Those of the known_hosts `files` that record a key for the host."""
    from asyncssh import match_known_hosts

    holding = []
    for path in files:
        try:
            trusted = match_known_hosts(path, host, host, None if port == 22 else port)
        except (OSError, ValueError):
            continue
        if trusted[0] or trusted[1]:  # host keys, or CA keys
            holding.append(path)
    return holding


def _keygen_file(path: str) -> str:
    """The `-f FILE` that points ssh-keygen at the known_hosts `path` (none: its default)."""
    if path == os.path.expanduser("~/.ssh/known_hosts"):
        return ""
    return f" -f {shell_quote(path)}"


def _basic_auth(user: str, password: str) -> str:
    """HTTP Basic credentials as aiohttp's deprecated BasicAuth sent them (Latin-1), or UTF-8
    where Latin-1 cannot hold them (RFC 7617's charset)."""
    pair = f"{user}:{password}"
    try:
        raw = pair.encode("latin-1")
    except UnicodeEncodeError:
        raw = pair.encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _build_http(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
                ) -> tuple[Any, str]:
    aiohttp = _import("aiohttp", "http")
    from fsspec.implementations.http import HTTPFileSystem

    client_kwargs: dict[str, Any] = {"timeout": _aiohttp_timeout(aiohttp, timeout)}
    if "user" in options:  # aiohttp drops the header on a redirect to another origin
        client_kwargs["headers"] = {"Authorization": _basic_auth(options["user"],
                                                                 options.get("password", ""))}
    kwargs: dict[str, Any] = {"skip_instance_cache": True, "client_kwargs": client_kwargs}
    if "ssl_verify" in options:
        from dvx.remote.http1 import ssl_context

        verify = ssl_verify_setting(options["ssl_verify"], None)
        if verify is not True:  # fsspec passes `ssl` to aiohttp with each request
            kwargs["ssl"] = ssl_context(verify)
    return HTTPFileSystem(**kwargs), url.rstrip("/")


def _aiohttp_timeout(aiohttp: Any, timeout: float) -> Any:
    """aiohttp's timeouts (fsspec's HTTP client, gcsfs's): seconds to connect, and without a
    byte read, before a request fails."""
    return aiohttp.ClientTimeout(sock_connect=min(timeout, 30.0), sock_read=timeout)


def _open_http_source(url: str, options: dict[str, Any], timeout: float) -> tuple[Any, str]:
    import fsspec

    aiohttp = _import("aiohttp", "http")
    client_kwargs = {**options.get("client_kwargs", {}),
                     "timeout": _aiohttp_timeout(aiohttp, timeout)}
    return fsspec.core.url_to_fs(url, **{**options, "client_kwargs": client_kwargs})


def _build_gs(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
              ) -> tuple[Any, str]:
    gcsfs = _import("gcsfs", "gs")
    kwargs: dict[str, Any] = {"skip_instance_cache": True}
    if "projectname" in options:
        kwargs["project"] = options["projectname"]
    if "credentialpath" in options:  # gcsfs takes a path that is no file for a token
        kwargs["token"] = credentials_file(options["credentialpath"], None)
    if _bool(options.get("anonymous", "false")):
        kwargs["token"] = "anon"  # no credentials: public buckets, emulators
    import aiohttp  # gcsfs's own HTTP client

    kwargs["requests_timeout"] = _aiohttp_timeout(aiohttp, timeout)
    filesystem = gcsfs.GCSFileSystem
    if "endpointurl" in options:
        kwargs["endpoint_url"] = options["endpointurl"]
        # Newer gcsfs first asks Google's gRPC storage-control API whether a bucket has a
        # hierarchical namespace, and repeats that for every call while it gets no answer (a
        # minute each, against a server that speaks only the JSON API: an emulator, a proxy).
        # Its plain JSON-API class never asks; dvx needs nothing more.
        core = getattr(gcsfs, "core", None)
        filesystem = getattr(core, "GCSFileSystem", filesystem)
    parts = urlsplit(url)
    return _without_retries(filesystem)(**kwargs), (parts.netloc + parts.path).rstrip("/")


# The bytes of a file sent per request of a resumable upload (a multiple of 256 KiB, as GCS
# asks), each read whole into memory: gcsfs's own 50 MiB would hold 200 MB per upload.
GCS_CHUNK_SIZE = 16 << 20


# gcsfs's methods that retry what fails (its retry_request decorator)
GCSFS_RETRYING = ("_request", "_get_file_request", "_get_file_concurrent")


def _without_retries(filesystem: Any) -> Any:
    """gcsfs's filesystem class `filesystem`, each request tried once. gcsfs tries a request
    that fails for the connection, a timeout or a 5xx up to 6 times, up to 32 s apart: under
    each of dvx's own attempts (the remote's `retries`), a store that is down would hold
    every command for minutes. Its retrying methods are decorated again, from the
    undecorated function, with one attempt."""
    from gcsfs.retry import retry_request

    class TriedOnce(filesystem):
        pass

    for name in GCSFS_RETRYING:
        undecorated = getattr(getattr(filesystem, name, None), "__wrapped__", None)
        if undecorated is not None:
            setattr(TriedOnce, name, retry_request(retries=1)(undecorated))
    return TriedOnce


def _open_gs_source(url: str, options: dict[str, Any], timeout: float) -> tuple[Any, str]:
    """As fsspec's url_to_fs opens a gs:// URL, each request tried once as a remote's is
    (`_without_retries`)."""
    import aiohttp  # gcsfs's own HTTP client

    gcsfs = _import("gcsfs", "gs")
    filesystem = gcsfs.GCSFileSystem
    if "endpoint_url" in options or os.environ.get("STORAGE_EMULATOR_HOST"):
        # as for a remote with an endpoint (`_build_gs`): no gRPC question a server that
        # speaks the JSON API only would hold for a minute
        filesystem = getattr(getattr(gcsfs, "core", None), "GCSFileSystem", filesystem)
    filesystem = _without_retries(filesystem)
    return (filesystem(requests_timeout=_aiohttp_timeout(aiohttp, timeout), **options),
            filesystem._strip_protocol(url))


def _build_azure(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
                 ) -> tuple[Any, str]:
    from dvx.remote.azure import azure_filesystem

    adlfs = _import("adlfs", "azure")
    lacking = _azure_lacks_credentials(options, os.environ)
    if lacking is not None:  # adlfs would say only "Must provide either a connection_string..."
        raise MissingCredentials(lacking)
    kwargs: dict[str, Any] = {"skip_instance_cache": True}
    for option, arg in (("account_name", "account_name"), ("account_key", "account_key"),
                        ("connection_string", "connection_string"), ("sas_token", "sas_token")):
        if option in options:
            kwargs[arg] = options[option]
    kwargs.update(_azure_timeouts(timeout))
    parts = urlsplit(url)
    filesystem = azure_filesystem(adlfs, {"retry_total": 0, **_azure_timeouts(timeout)})
    return filesystem(**kwargs), (parts.netloc + parts.path).rstrip("/")


def _azure_timeouts(timeout: float) -> dict[str, int]:
    """Seconds to connect, and without a byte read, before a request fails."""
    return {"connection_timeout": int(max(min(timeout, 30.0), 1)),
            "read_timeout": int(max(timeout, 1))}


def _open_azure_source(url: str, options: dict[str, Any], timeout: float
                       ) -> tuple[Any, str]:
    """As fsspec's url_to_fs opens an az:// URL (adlfs knows no azure://), with the Azure
    client a remote's has (see `azure_filesystem`), which url_to_fs cannot be asked for."""
    from dvx.remote.azure import azure_filesystem

    adlfs = _import("adlfs", "azure")
    filesystem = azure_filesystem(adlfs, {"retry_total": 0, **_azure_timeouts(timeout)})
    url = "az://" + url.partition("://")[2]
    kwargs = {**filesystem._get_kwargs_from_urls(url), **_azure_timeouts(timeout), **options}
    return filesystem(skip_instance_cache=True, **kwargs), filesystem._strip_protocol(url)


def _azure_lacks_credentials(options: Mapping[str, str], environ: Mapping[str, str]
                             ) -> str | None:
    """Why an Azure client would have no account to speak to: neither the options nor
    adlfs's environment variables give a connection string or an account name (a name
    alone reads a public container); None when they do."""
    if any(options.get(option) or environ.get(variable) for option, variable in (
            ("connection_string", "AZURE_STORAGE_CONNECTION_STRING"),
            ("account_name", "AZURE_STORAGE_ACCOUNT_NAME"))):
        return None
    given = [option for option in ("account_key", "sas_token") if options.get(option)]
    without = f" (its {given[0]} is for an account it does not name)" if given else ""
    return ("neither its options nor the environment give a connection_string or an "
            f"account_name{without}")


def _endpoint_host(options: Mapping[str, str]) -> str | None:
    """The host and port of an `endpointurl` option."""
    return urlsplit(options["endpointurl"]).netloc or None if "endpointurl" in options else None


def endpoint_of(backend: Backend, options: Mapping[str, str], environ: Mapping[str, str]
                ) -> str | None:
    """The endpoint a bucket's client speaks to, in one spelling: its `endpointurl` option,
    else the environment's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST), as
    its client takes them; None: the kind's own service (or one a profile sets)."""
    endpoint = options.get("endpointurl") if "endpointurl" in backend.options else None
    endpoint = endpoint or next((environ[key] for key in backend.endpoint_variables
                                 if environ.get(key)), None)
    return normal_endpoint(endpoint) if endpoint else None


def normal_endpoint(endpoint: str) -> str:
    """One spelling of an endpoint URL: scheme and host in lower case, no login, no default
    port, no trailing slash (HTTP://S3.Example:80/ is http://s3.example). A bare HOST[:PORT]
    (as STORAGE_EMULATOR_HOST may be) is taken for http://HOST[:PORT]."""
    parts = urlsplit(endpoint.strip() if "://" in endpoint else f"http://{endpoint.strip()}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a port: kept as written, so it still tells endpoints apart
        return endpoint.strip()
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host += f":{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def _azure_host(options: Mapping[str, str]) -> str | None:
    """The host an Azure client speaks to: a connection string's BlobEndpoint, or its
    account's (the account_name option's) on Azure itself."""
    fields = dict(field.partition("=")[::2] for field in
                  options.get("connection_string", "").split(";") if "=" in field)
    fields = {key.strip().lower(): value.strip() for key, value in fields.items()}
    if fields.get("blobendpoint"):
        return urlsplit(fields["blobendpoint"]).netloc or None
    account = fields.get("accountname") or options.get("account_name")
    if not account:
        return None
    return f"{account}.blob.{fields.get('endpointsuffix') or 'core.windows.net'}"


def _build_local(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
                 ) -> tuple[Any, str]:
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem(auto_mkdir=True), url  # the caller resolves the path


def _open_local_source(url: str, options: dict[str, Any], timeout: float
                       ) -> tuple[Any, str]:
    """A local source as the one file its path names, in any of the local kind's spellings:
    never through fsspec's URL parsing, which takes a '::' in a path for a chain of
    filesystems (`simplecache::/x` would open a cache, `dir::/x` a wrapper)."""
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem(), local_source_path(url)


def local_source_path(url: str) -> str:
    """The path that reading `url`, a source of the local kind, opens: a path as given (a
    relative one from the current folder), or the path of a URL of any scheme of the kind in
    any letter case (file://, local://, asynclocal://) as fsspec reads a file:// URL
    (`file://~/x` is in the home folder). `is_local_url` tells which URLs are of that kind."""
    from fsspec.implementations.local import LocalFileSystem

    path = f"file://{url.split('://', 1)[1]}" if scheme_of(url) else url
    return LocalFileSystem._strip_protocol(path)


def seconds_option(options: Mapping[str, str], key: str, default: float, name: str = ""
                   ) -> float:
    """A remote option that is a number of seconds: more than 0 and finite. `name`: the
    remote's, for the hint."""
    value = options.get(key)
    if value is None:
        return default
    try:
        return positive_seconds(value)
    except ValueError as exc:
        raise RemoteError(f"The remote option {key}={value!r} cannot work: {exc}.",
                          "Fix it with `dvx remote modify "
                          f"{pasted_args(name or 'NAME', key, 'SECONDS')}`.") from None


def positive_seconds(value: str) -> float:
    """The one rule of a timeout in seconds, wherever it is set (a remote's `timeout` and
    `connect_timeout`, core.url_timeout): a number, more than 0 (no wait is no request) and
    finite. ValueError says so otherwise."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:  # nan is neither more nor less
        raise ValueError("expected a number of seconds, more than 0")
    return seconds


def _shared(value: str, root: str) -> str:
    from dvx.fsutil import SHARED_VALUES

    if value.strip() not in SHARED_VALUES:
        raise ValueError(f"expected {' or '.join(SHARED_VALUES)} (unset it for a remote "
                         "only its owner writes to)")
    return value.strip()


def _port(value: str, root: str) -> str:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError("a port is a whole number from 1 to 65535") from None
    if not 1 <= number <= 65535:
        raise ValueError("a port is a whole number from 1 to 65535")
    return str(number)


def _endpoint(value: str, root: str) -> str:
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (parsing it refuses a bad one)
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an endpoint is a URL like https://HOST[:PORT]")
    # The client puts the bucket first in the path: a path of the endpoint's own would be
    # taken for the bucket by the store, which then finds no bucket, or the wrong one.
    extra = [what for what, there in (
        ("a login", parts.username is not None), ("a path", parts.path not in ("", "/")),
        ("a query", "?" in value), ("a fragment", "#" in value)) if there]
    if extra:
        raise ValueError(f"an endpoint is https://HOST[:PORT] alone, without {' or '.join(extra)}"
                         " (the bucket and the folder in it belong in the remote's URL, "
                         "credentials in its options)")
    return value.strip()


def _seconds(value: str, root: str) -> str:
    positive_seconds(value)
    return value


BACKENDS = [
    Backend("s3", ("s3",), "s3fs", "s3",
            {"endpointurl": "endpoint of an S3-compatible store", "region": "AWS region",
             "profile": "AWS profile from ~/.aws", "access_key_id": "access key id",
             "secret_access_key": "secret access key", "session_token": "session token",
             "ssl_verify": "true, false, or a CA bundle path",
             "chunksize": "multipart part size in bytes, 5 MiB to 5 GiB (default 8 MiB)"},
            frozenset({"secret_access_key", "session_token"}), False, True, _build_s3,
            _s3_put_options,
            # one GET per object: without this, s3fs first asks for the size with a HEAD
            {"max_concurrency": 1}, bucket_kind="bucket", bucket_names=S3_BUCKET_NAMES,
            checks={"endpointurl": _endpoint, "ssl_verify": _check_ssl_verify,
                    "chunksize": _chunksize},
            credential_options=("access_key_id", "secret_access_key"),
            credentials_hint="Give them with `dvx remote modify --local {name} access_key_id "
                             "...` and `... secret_access_key ...`, or AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY in the environment, or an AWS profile "
                             "(`{modify} profile NAME`).",
            source_credentials_hint="Give them with AWS_ACCESS_KEY_ID and "
                                    "AWS_SECRET_ACCESS_KEY in the environment (or AWS_PROFILE "
                                    "naming an AWS profile), or in your own config, to a "
                                    "remote of the same URL (and endpointurl, where the "
                                    "source's names one), whose options apply to it: `dvx "
                                    "remote add --global NAME {url}`, then `dvx remote modify "
                                    "--global NAME access_key_id ...` and `... "
                                    "secret_access_key ...` (or `... profile PROFILE`).",
            credentials_from=s3_credentials_from,
            server_of=_endpoint_host,
            endpoint_variables=("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            verifies_host_keys=False, open_source=_open_s3_source,
            server_options=("endpointurl",)),
    Backend("ssh", ("ssh", "sftp"), "sshfs", "ssh",
            {"user": "login name", "port": "port (default 22)", "keyfile": "private key file",
             "password": "password", "known_hosts": "known_hosts file, or 'ignore'",
             "connect_timeout": "seconds to wait for a connection"},
            frozenset({"password"}), False, False, _build_ssh,
            checks={"port": _port, "connect_timeout": _seconds}, decodes_path=True,
            keeps_dot_folders=False, credential_options=("password",),
            login_commands="`dvx remote modify --global {name} keyfile KEYFILE` (or `... "
                           "password ...`, and `... user USER` to log in as another user "
                           "than the URL's)",
            login_check="the user name and the password (the URL's, or the `user` and "
                        "`password` options: `dvx remote modify --local {name} password "
                        "...`), the `keyfile` option, and the keys of your SSH agent and "
                        "~/.ssh", verifies_host_keys=True, server_options=("port",)),
    Backend("http", ("http", "https"), "aiohttp", "http",
            {"user": "basic-auth user", "password": "basic-auth password",
             "ssl_verify": "true, false, or a CA bundle path"},
            frozenset({"password"}), True, True, _build_http, query_string=True,
            decodes_path=True, checks={"ssl_verify": _check_ssl_verify},
            credential_options=("user", "password"), verifies_host_keys=False,
            open_source=_open_http_source),
    Backend("gs", ("gs", "gcs"), "gcsfs", "gs",
            {"projectname": "Google Cloud project", "credentialpath": "service-account JSON",
             "endpointurl": "custom endpoint (spoken to through the JSON API only)",
             "anonymous": "true: connect without credentials (public buckets, emulators)"},
            frozenset(), False, True, _build_gs, lambda options: {"chunksize": GCS_CHUNK_SIZE},
            bucket_kind="bucket",
            checks={"endpointurl": _endpoint, "credentialpath": _check_credentials_file},
            credential_options=("credentialpath",),
            server_of=_endpoint_host, endpoint_variables=("STORAGE_EMULATOR_HOST",),
            verifies_host_keys=False, open_source=_open_gs_source,
            server_options=("endpointurl",)),
    Backend("azure", ("azure", "az"), "adlfs", "azure",
            {"account_name": "storage account", "account_key": "account key",
             "connection_string": "connection string", "sas_token": "SAS token"},
            frozenset({"account_key", "connection_string", "sas_token"}), False, True,
            _build_azure, bucket_kind="container",
            credential_options=("account_name", "account_key"),
            credentials_hint="Give them with `dvx remote modify --local {name} "
                             "connection_string ...` (or `... account_name ...` and `... "
                             "account_key ...`, or `... sas_token ...`), or "
                             "AZURE_STORAGE_CONNECTION_STRING in the environment.",
            source_credentials_hint="Give them with AZURE_STORAGE_CONNECTION_STRING in the "
                                    "environment, or in your own config, to a remote of the "
                                    "same URL, whose options apply to it: `dvx remote add "
                                    "--global NAME {url}`, then `dvx remote modify --global "
                                    "NAME connection_string ...` (or `... account_name ...` "
                                    "and `... account_key ...`).",
            server_of=_azure_host, verifies_host_keys=False, open_source=_open_azure_source,
            server_options=("account_name", "connection_string")),
    # fsspec's own names for the local filesystem are the same directories, with the same
    # checks (fs.local_path reads each spelling): never a way past them.
    Backend("local", ("file", "", "local", "asynclocal"), "fsspec", "",
            {"shared": "group: folders the group writes in, files all read, whatever the "
                       "umask (a remote several users push to)"},
            frozenset(), False, False, _build_local, checks={"shared": _shared},
            verifies_host_keys=False, open_source=_open_local_source,
            keeps_dot_folders=False),
]
_BY_SCHEME = {scheme: backend for backend in BACKENDS for scheme in backend.schemes}
LOCAL_SCHEMES = _BY_SCHEME[""].schemes  # a directory on this machine
SECRET_OPTIONS = frozenset().union(*(b.secrets for b in BACKENDS))


def path_of_local_url(url: str) -> str:
    """The path a directory remote's URL names, as written (relative or not): a file:// URL's
    (which names no host), or what follows the scheme of another spelling (local://DIR, as
    fsspec reads it)."""
    scheme = scheme_of(url)
    if not scheme:
        return url
    path = url.split("://", 1)[1]
    if scheme == "file":
        if path.startswith("localhost/"):
            path = path[len("localhost"):]
        if not path.startswith("/"):
            raise RemoteError(f"The URL '{redact_url(url)}' names a host; file:// URLs must be "
                              "local.",
                              "Use file:///absolute/path or a plain path.")
    return path


def _refuse_a_host(url: str) -> None:
    """A file:// URL naming a host (file://server/share) names no directory here: set as a
    remote's URL, a configuration error like any other URL refused (path_of_local_url's
    RemoteError is for one read where the remote is opened)."""
    try:
        path_of_local_url(url)
    except RemoteError as exc:
        raise ConfigError(exc.message, exc.hint) from None


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _url_to_fs(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    """A source URL of a kind whose client takes no timeouts (a generic fsspec store's)."""
    import fsspec

    return fsspec.core.url_to_fs(url, **options)


def _build_generic(url: str, options: dict[str, str], timeout: float = DEFAULT_TIMEOUT
                   ) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
    return fs, path


# The other fsspec protocols a remote may use: stores on another machine, each reached by
# its own client. Not the others fsspec knows: those that cache, unpack or wrap another
# filesystem (simplecache, zip, reference, dir, ...) read and write where their options say,
# local paths included, and those that run in this process or on a cluster (memory, dask)
# are no store, or speak pickle to a server, which runs what it is sent.
FSSPEC_SCHEMES = frozenset({"abfs", "abfss", "ftp", "hdfs", "smb", "webdav", "webhdfs"})


def _generic(scheme: str) -> Backend | None:
    """A protocol of FSSPEC_SCHEMES that fsspec knows, or one that the program using dvx
    registered itself (a filesystem class of its own, in its process, which no config can
    bring): options go to its filesystem as given, and objects are written under a temporary
    name and renamed, the safe choice for unknown stores."""
    from fsspec.registry import known_implementations, registry

    registered_here = scheme in registry and scheme not in known_implementations
    known = scheme in known_implementations or scheme in registry
    if not registered_here and not (scheme in FSSPEC_SCHEMES and known):
        return None
    return Backend(f"fsspec-{scheme}", (scheme,), "fsspec", scheme, {}, frozenset(), False,
                   False, _build_generic, verifies_host_keys=False)  # options as given


def _kind_of(url: str) -> Backend | None:
    """The kind of store `url` names, by the one rule for remote and source URLs alike: a kind
    dvx has (a path names a directory or file), one of FSSPEC_SCHEMES, or a protocol the
    program using dvx registered itself; None for any other, and for a generic kind's URL
    that chains filesystems ('::'), which fsspec would open as one."""
    scheme = scheme_of(url)
    backend = _BY_SCHEME.get(scheme) or _generic(scheme)
    if backend is not None and (not accepts_any_option(backend) or "::" not in url):
        return backend
    return None


def keeps_dot_folders(url: str) -> bool:
    """Does the store `url` names keep '.' and '..' in its path as folder names (an object
    store's key prefix), where a file system resolves them? False for a URL of no kind."""
    backend = _kind_of(url)
    return backend is not None and backend.keeps_dot_folders


def backend_for(url: str) -> Backend:
    """The backend of `url`: the one place a URL becomes a kind of store, so whatever a URL
    says leads through the checks of that kind (a directory remote's among them)."""
    backend = _kind_of(url)
    if backend is None:
        raise ConfigError(*_not_a_store(url, "remote"))
    return backend


def source_backend(url: str) -> Backend:
    """The backend of the URL `import-url`, `get-url`, `update` and `status` read, accepted
    by the rule of remote URLs (`_kind_of`): a pointer of a cloned repository, whichever dvx
    wrote it, makes dvx neither speak to a Dask scheduler (pickle: it runs what it is sent)
    nor read or write where a caching or wrapping protocol's options say. A usage error
    (exit 2): the URL is the command's argument, or a pointer's, never the config's."""
    backend = _kind_of(url)
    if backend is None:
        raise UsageError(*_not_a_store(url, "source"))
    return backend


def _not_a_store(url: str, role: str) -> tuple[str, str]:
    """The message and the hint refusing `url` as the URL of a `role` ("remote", or
    "source" of import-url), which `_kind_of` finds no kind of store for."""
    scheme = scheme_of(url)
    known = ", ".join(sorted([*(s + "://" for s in _BY_SCHEME if s),
                              *(s + "://" for s in FSSPEC_SCHEMES)]))
    fix = f"Use {'a directory path' if role == 'remote' else 'a local path'} or one of: {known}."
    if "::" in url:
        return (f"The {role} URL '{redact_url(url)}' chains filesystems ('::'), as fsspec's "
                f"caching and wrapping protocols do: dvx opens a {role} on one store, named by "
                "one URL.", fix)
    from fsspec.registry import known_implementations

    alias = _alias_of(scheme)
    if alias is not None:
        rest = url.split("://", 1)[1]
        return (f"The {role} URL scheme '{scheme}://' is another name for '{alias}://', which "
                "dvx spells one way only.", f"Use {redact_url(f'{alias}://{rest}')}.")
    if scheme in WRAPPING_SCHEMES:
        return (f"The {role} URL scheme '{scheme}://' is fsspec's, but no kind of store dvx "
                f"opens as a {role}: fsspec's caching, archive and wrapping protocols read "
                "and write where their options say, and its in-process and compute ones "
                "(memory, dask) hold nothing or run what a server sends.", fix)
    known_here = " (fsspec knows it)" if scheme in known_implementations else ""
    return (f"The {role} URL scheme '{scheme}://'{known_here} is not among the stores dvx "
            f"opens as {role}s.", fix)


# fsspec's protocols that cache, unpack or wrap another filesystem, or hold nothing / run
# code (see FSSPEC_SCHEMES): refused with that reason.
WRAPPING_SCHEMES = frozenset({"async_wrapper", "asyncwrapper", "blockcache", "cached", "dask",
                              "dir", "filecache", "generic", "libarchive", "memory",
                              "reference", "simplecache", "tar", "zip"})


HADOOP_NAMES = {"s3n": "s3"}  # Hadoop's older name for S3 buckets, which fsspec lacks


def _alias_of(scheme: str) -> str | None:
    """The scheme of a kind dvx has that `scheme` is fsspec's other name for (s3a: s3), by
    the filesystem class fsspec opens for each."""
    from fsspec.registry import known_implementations

    if scheme in HADOOP_NAMES:
        return HADOOP_NAMES[scheme]
    spec = known_implementations.get(scheme)
    if spec is None or not scheme:
        return None
    return next((backend.schemes[0] for backend in BACKENDS if backend.name != "local"
                 for own in backend.schemes
                 if known_implementations.get(own, {}).get("class") == spec["class"]), None)


# What a URL of each kind must name besides its scheme (the rest is optional).
_NEEDS = {"s3": "a bucket (s3://BUCKET/PREFIX)", "gs": "a bucket (gs://BUCKET/PREFIX)",
          "azure": "a container (azure://CONTAINER/PREFIX)",
          "ssh": f"a host ({SSH_URL_FORM})",
          "http": "a host (http(s)://HOST/PATH)"}


def check_url(url: str, name: str = "NAME") -> Backend:
    """The backend of `url`, if it is a well-formed URL of a kind dvx knows, naming what that
    kind needs; else a ConfigError saying what is wrong (`name`: the remote's, for a hint)."""
    backend = backend_for(url)
    if backend.name == "local":
        _refuse_a_host(url)
        return backend
    parts = check_network_part(url, backend, "remote URL", ConfigError)
    if _at_in_first_segment(url):
        raise ConfigError(
            f"The remote URL '{redact_url(url)}' is ambiguous: the first folder of its path "
            "holds an unencoded '@', so its part before that '@' may be a user and a password "
            "holding a '/' (USER:PASS/WORD@HOST), which would be stored and shown as a host, "
            "a port and a path.",
            "Write a '/' and an '@' of a password percent-encoded ('%2F', '%40'), or give the "
            f"URL without the password and the password with {credentials_commands(backend, name)}"
            + (". Write an '@' of a folder's name as '%40'." if backend.decodes_path else
               ". Choose a folder name without '@'."))
    if not backend.url_user_is_login and parts.password is not None:
        # Its first part names the bucket (an Azure URL's user part its container): a
        # password there would be dropped or taken for the bucket's name, never used.
        raise ConfigError(f"The remote URL '{redact_url(url)}' holds credentials (a "
                          f"'USER:PASSWORD@' part), which remotes of type {backend.name} never "
                          "read from the URL.",
                          f"Give the URL without them, and the credentials with "
                          f"{credentials_commands(backend, name)}.")
    _refuse_cut_off_path(url, backend)
    _refuse_impossible_bucket(url, backend)
    return backend


def _refuse_impossible_bucket(url: str, backend: Backend) -> None:
    """A bucket of a name no server of its kind takes never exists: each command would say
    it does not exist, and to create it, which the store refuses."""
    names, bucket = backend.bucket_names, bucket_of(url)
    if names is None or names.anywhere.fullmatch(bucket):
        return
    raise ConfigError(f"The remote URL '{redact_url(url)}' names the {backend.bucket_kind} "
                      f"'{bucket}', which no {names.kind} store can have: {names.kind}'s "
                      f"naming rules ask for {names.rules} (older and laxer stores take "
                      "upper case and '_' too, up to 255 characters; none takes fewer than "
                      "3, or other characters).",
                      f"Give the name of a {backend.bucket_kind} that exists, or that you "
                      f"create: {_NEEDS.get(backend.name, backend.bucket_kind)}.")


def unusual_bucket(url: str) -> str | None:
    """Why the bucket `url` names is one that current stores of its kind never create (an
    older or a laxer server's may exist): the sentence of a warning; None for any other."""
    backend = _kind_of(url)
    names = backend.bucket_names if backend is not None else None
    bucket = bucket_of(url)
    if backend is None or names is None or names.new.fullmatch(bucket) \
            or not names.anywhere.fullmatch(bucket):
        return None
    return (f"The {backend.bucket_kind} name '{bucket}' breaks {names.kind}'s naming rules "
            f"({names.rules}): {names.creators} create no "
            f"{backend.bucket_kind} of that name, so this remote works only where one exists "
            f"already ({names.laxer}).{_following_the_rules(url, names, backend.bucket_kind)}")


def _following_the_rules(url: str, names: BucketNames, kind: str) -> str:
    """A sentence giving `url` with its bucket named as `names.new` asks (lower case, '-' for
    '_'), for a user who can create that one; "" where no such name is near (an IP address,
    a name longer than the rules allow)."""
    bucket = bucket_of(url)
    near = re.sub(r"\.{2,}", ".", bucket.lower().replace("_", "-")).strip(".-")
    if not names.new.fullmatch(near):  # too long, too: cut, it would name another bucket
        return ""
    return f" The URL with a {kind} name that follows them: {url.replace(bucket, near, 1)}"


def bucket_doubt(url: str) -> str:
    """For a bucket `url` names that `unusual_bucket` warns of, why a store may lack it
    whatever was created, for the error saying it does not exist (MissingBucketError): such
    a server refuses the name, or reads it as another; "" for any other bucket."""
    backend = _kind_of(url)
    if backend is None or backend.bucket_names is None or unusual_bucket(url) is None:
        return ""
    names, kind = backend.bucket_names, backend.bucket_kind
    return (f"it breaks {names.kind}'s naming rules ({names.rules}), and "
            f"{names.creators} refuse such a name or may rewrite it, so that no {kind} of it "
            f"is found or made there. Only {names.laxer}."
            f"{_following_the_rules(url, names, kind)}").rstrip(".")


def check_network_part(url: str, backend: Backend, what: str, error: type[DvxError]
                       ) -> SplitResult:
    """The parts of `url`, a URL of a network kind of store, once its network part parses and
    it names what its kind needs (a host, a bucket), before any client sees it: else an
    `error` naming it as `what` ("remote URL", or "URL" for a source). A client given such a
    URL fails with its own internals (a missing argument, an invalid URL) that tell nothing."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # both parse (and refuse) the network part
    except ValueError as exc:
        userinfo = _split_userinfo(url)
        if userinfo is not None and re.search(r"[/?#]", userinfo[1]):
            # urlsplit took its part before the '/' for a host and a port, and says so
            # quoting that "port": a piece of the password
            raise error(f"'{redact_url(url)}' is not a valid URL: its user name or password "
                        "holds a '/', '?' or '#', which ends the host part of a URL.",
                        "Write them percent-encoded: '%2F', '%3F', '%23' (and an '@' as "
                        "'%40').") from None
        raise error(f"'{redact_url(url)}' is not a valid URL: {exc}.",
                    "Check the brackets, the port and the characters in it.") from None
    needs = _NEEDS.get(backend.name)
    if needs and not (host if backend.name in ("ssh", "http") else parts.netloc):
        raise error(f"The {what} '{redact_url(url)}' names no {needs.split(' (')[0][2:]}.",
                    f"A URL of its kind needs {needs}.")
    return parts


def missing_client(failed: str, exc: ImportError) -> RemoteError:
    """The one error for a kind of store fsspec knows whose client package is not installed
    (hdfs's pyarrow, webdav's webdav4): `failed` begins the sentence ("Cannot set up the
    remote 'r'"). Installing the package is the way out, never the URL or the network."""
    # the package, not the module of it that was imported (pyarrow.fs)
    package = f" (`pip install {exc.name.partition('.')[0]}`)" if exc.name else ""
    return RemoteError(f"{failed}: the Python package for its kind of storage is not "
                       f"installed ({exc}).",
                       f"Install it where dvx is installed{package}; docs/remotes.md lists "
                       "the supported kinds and their extras.")


def credentials_commands(backend: Backend, name: str) -> str:
    """The commands that give the remote `name` its credentials in the local config."""
    first, *others = backend.credential_options or ("password",)
    return " and ".join([f"`dvx remote modify --local {pasted_args(name, first, '...')}`",
                         *[f"`... {option} ...`" for option in others]])


def credentials_for_source(backend: Backend, url: str) -> str:
    """How the reader of another repository gives their credentials for its remote at `url`,
    whose options are not theirs to modify: to a remote of the same URL in their own config,
    whose options apply to it (ops/remote.py). The URL is shown without its login part,
    which that match leaves aside, so that it is shown whole and can be copied."""
    first, *others = backend.credential_options or ("password",)
    commands = backend.login_commands or " and ".join(
        [f"`dvx remote modify --global {{name}} {first} ...`",
         *[f"`... {option} ...`" for option in others]])
    plain = url_without_login(url)
    matched = " (URLs are matched without their user name)" if plain != url else ""
    return ("Give your credentials to a remote of the same URL in your own config, whose "
            f"options apply to the source's{matched}: `dvx remote add --global NAME "
            f"{redact_url(plain)}`, then {commands.format(name='NAME')}.")


def _cut_off_at(url: str, backend: Backend) -> int:
    """Where a '#' (and, but for HTTP's query string, a '?') ends the URL's path; -1: nowhere."""
    return min((at for at in (url.find("#"), -1 if backend.query_string else url.find("?"))
                if at >= 0), default=-1)


def _cut_off_sentence(url: str, cut: int, what: str) -> str:
    char = url[cut]
    starts = "a fragment" if char == "#" else "a query string"
    return (f"The {what} '{redact_url(url)}' holds '{char}', which starts {starts} in a URL: "
            "everything from it on would be cut off")


def _refuse_cut_off_path(url: str, backend: Backend) -> None:
    """A '#' (and, but for HTTP's query string, a '?') ends a URL's path: what follows it
    is dropped, so `s3://bkt/team#a` and `s3://bkt/team#b` would be one store, which each
    project's `gc --remote` empties of the other's objects."""
    cut = _cut_off_at(url, backend)
    if cut < 0:
        return
    char = url[cut]
    encoded = f", or write it percent-encoded ('%{ord(char):02X}')" if backend.decodes_path else ""
    raise ConfigError(f"{_cut_off_sentence(url, cut, 'remote URL')}, so the remote would be "
                      f"'{redact_url(url[:cut])}', shared with every URL that differs only "
                      f"after the '{char}'.",
                      f"Choose a path without '{char}'{encoded}.")


# The client libraries dvx hands a remote's requests to (by module name, as `warnings` sees it)
CLIENT_LIBRARIES = r"(adlfs|azure|gcsfs|google|s3fs|aiobotocore|botocore|sshfs|asyncssh)(\.|$)"


def quiet_client_libraries() -> None:
    """Client libraries (gcsfs, adlfs, s3fs) log their retries and failures, tracebacks and
    all, through `logging`, which prints them on stderr when nothing handles them, and warn
    through `warnings` (adlfs: that it cannot tell whether a container exists, for every
    push with a container's SAS), which prints the warning with its source line. dvx reports
    every failure itself, in one message: both are dropped, except with -vv."""
    import logging
    import warnings

    from dvx.logs import DEBUG, is_enabled_for

    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler() if is_enabled_for(DEBUG)
                        else logging.NullHandler())
    if not is_enabled_for(DEBUG):
        warnings.filterwarnings("ignore", module=CLIENT_LIBRARIES)


def source_fs(url: str, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> tuple[Any, str]:
    """The filesystem and path of the file `import-url` or `get-url` reads, its URL read as
    a remote's is: where the path is a URL's path (SSH, HTTP), a '#' (or '?', but in HTTP)
    in it is refused, since it would be cut off there (or handed to the client as an
    option), and in an SSH path '%23' names a '#'. A bucket's key keeps all its characters.
    Its client gives up on a request as a remote's of its kind does, after `timeout` seconds
    without an answer or a byte (remote.NAME.timeout), so a server that stops answering
    fails the command rather than hold it."""
    import fsspec

    quiet_client_libraries()
    backend = source_backend(url)  # refused before any client is made, so none connects
    cut = _cut_off_at(url, backend) if backend.decodes_path else -1
    if cut >= 0:
        raise UsageError(f"{_cut_off_sentence(url, cut, 'URL')}.",
                         f"Write it percent-encoded ('%{ord(url[cut]):02X}') to name a file "
                         "with that character.")
    if backend.name != "local":
        check_network_part(url, backend, "URL", UsageError)
    try:
        if not backend.verifies_host_keys:
            return backend.open_source(url, options, timeout)  # HTTP sends the URL as written
        fs, path = fsspec.core.url_to_fs(url, **_source_ssh_args(url, timeout), **options)
    except ImportError as exc:  # fsspec knows the protocol; its client is not installed
        raise missing_client(f"Cannot read '{redact_url(url)}'", exc) from None
    except Exception as exc:
        refused = host_key_refusal(exc, url, {}, None) if backend.verifies_host_keys else None
        if refused is None:
            raise
        raise refused from None
    return fs, unquote(path)


def _source_ssh_args(url: str, timeout: float) -> dict[str, Any]:
    """asyncssh's arguments for a source URL: its server's host key, and those of the
    ProxyJump hosts on the way, checked as for a remote without options, and how long each
    may take to answer."""
    settings = _server_settings({}, timeout)
    parts = urlsplit(url)
    user = unquote(parts.username) if parts.username else None
    jumps = jump_hosts(parts.hostname or "", parts.port, user, settings)
    return settings if jumps is None else {**settings, "tunnel": jumps}


def accepts_any_option(backend: Backend) -> bool:
    return backend.build is _build_generic


def check_option(url: str, option: str) -> Backend:
    """The backend for `url`, if it accepts `option`; else a ConfigError listing what it does."""
    backend = backend_for(url)
    if option not in backend.all_options() and not accepts_any_option(backend):
        known = ", ".join(sorted(backend.all_options()))
        raise ConfigError(f"Remotes of type {backend.name} have no option '{option}'.",
                          f"Known options: {known}.")
    return backend


def check_option_value(url: str, section: str, option: str, value: str, root: str) -> str:
    """`value` as kept for `option` of the remote at `url`, if that kind of remote takes it;
    else a ConfigError in the style of config.validate. `root`: the repository's, where a
    relative path in the value is taken from."""
    check = backend_for(url).checks.get(option)
    if check is None:
        return value
    try:
        return check(value, root)
    except ValueError as exc:
        raise ConfigError(f"Invalid value {value!r} for {section}.{option}: {exc}.") from None


# The words of an option's name that say its value is a credential, whatever the kind of
# remote: a generic fsspec remote's client options (`token`, `client_secret`, `auth`,
# `private_key`, `apikey`) are named only by their library, so the name decides
# (docs/configuration.md#remote-name). A word counts when it is one of these or ends in one
# (`apikey`, `sastoken`); a plural (`look_for_keys`) or a longer word (`authority`) does not.
_SECRET_WORDS = ("token", "secret", "password", "passwd", "passphrase", "key", "auth",
                 "credential", "credentials")
# ... but for a name whose last word says the value is where to find one, how to use one or
# which one it is (`keyfile` is one word, `key_filename`, `access_key_id`, `auth_url`,
# `auth_type`): a path, a URL, a name or a setting, no secret.
_NOT_SECRET_LAST_WORDS = frozenset((
    "file", "filename", "path", "dir", "id", "name", "url", "uri", "endpoint", "host", "port",
    "type", "method", "mode", "kind", "version", "timeout", "expiry", "ttl", "region",
))
# Words are split at `_`, `-` and `.`, and before a capital that follows a lower-case
# letter or digit (`apiKey`, `clientSecret`).
_WORD_BREAK = re.compile(r"[_.-]+|(?<=[a-z0-9])(?=[A-Z])")


def _name_words(option: str) -> list[str]:
    return [word.lower() for word in _WORD_BREAK.split(option) if word]


def is_secret(option: str) -> bool:
    """Whether the value of remote option `option` is a credential, hidden wherever dvx shows
    it and never written where Git would take it: a named kind's secret option (Azure's
    `connection_string` holds its key), or one with a secret word in its name whose last word
    names no path, URL, identifier or setting."""
    if option.lower() in SECRET_OPTIONS:
        return True
    words = _name_words(option)
    if not words or words[-1] in _NOT_SECRET_LAST_WORDS:
        return False
    return any(word.endswith(_SECRET_WORDS) for word in words)


# How the access tokens of GitHub and GitLab begin (given as a URL's user name, as in
# `https://TOKEN@github.com/...`): no user name does. Any other token dvx cannot tell from a
# user name, so it is taken as one (docs/reuse.md).
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-")


def credentials_in_url(url: str) -> str | None:
    """What credentials `url` holds, as a message names them ("a password", "an access
    token (as its user name)"): never for a file Git tracks. None when it holds none, or is
    malformed (the command that reads it says what is wrong)."""
    try:
        parts = urlsplit(url)
        password, user = parts.password, parts.username
    except ValueError:
        return None
    if password is not None:
        return "a password"
    if user is not None and user.lower().startswith(_TOKEN_PREFIXES):
        return "an access token (as its user name)"
    return None


_AUTHORITY = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#]*)(.*)$", re.DOTALL)
_QUERY_VALUE = re.compile(r"([?&][^=&#]*=)[^&#]*")


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """(`scheme://`, the user:password part, what follows its '@') of a URL that has one,
    else None. As urlsplit reads it: up to the last '@' of the authority (a password may hold
    an unencoded '@'). One that holds an unencoded '/' (or '?', '#') cuts the authority short
    at it, into a host:port whose port is no number: then up to the URL's last '@'."""
    found = _AUTHORITY.match(url)
    if found is None:
        return None
    scheme, authority, rest = found.groups()
    if "@" not in authority and "@" in rest and not _is_host_and_port(authority):
        userinfo, _, after = (authority + rest).rpartition("@")
        return scheme, userinfo, after
    # An '@' in the first folder: a password may hold a '/' after digits, which urlsplit
    # reads as a port (check_url refuses such a URL). Up to that '@' is shown as one.
    segment = _first_segment(rest) if "@" in _first_segment(rest) else ""
    head = authority + segment
    if "@" in head:
        userinfo, _, host = head.rpartition("@")
        return scheme, userinfo, host + rest[len(segment):]
    return None


def _first_segment(rest: str) -> str:
    """The first folder of what follows a URL's authority, with its leading '/' ('' if none)."""
    found = re.match(r"/[^/?#]*", rest)
    return found.group(0) if found else ""


def _at_in_first_segment(url: str) -> bool:
    found = _AUTHORITY.match(url)
    return found is not None and "@" in _first_segment(found.group(3))


def _is_host_and_port(authority: str) -> bool:
    port = authority.rpartition(":")[2] if ":" in authority.rpartition("]")[2] else ""
    return port.isdigit() or port == ""


def redact_url(url: str) -> str:
    """The URL as dvx shows it: any user:password part and every query value (a token, a
    signature) hidden."""
    parts = _split_userinfo(url)
    if parts is not None:
        url = f"{parts[0]}{_hidden_userinfo(url, parts[1])}@{parts[2]}"
    return _QUERY_VALUE.sub(r"\1***", url)


def url_without_login(url: str) -> str:
    """The URL without its user:password part where that is a login (SSH, HTTP): the store
    it names, whoever logs in to it. A bucket's URL is kept whole (its user part names the
    container)."""
    parts = _split_userinfo(url)
    backend = _BY_SCHEME.get(scheme_of(url))
    if parts is None or (backend is not None and not backend.url_user_is_login):
        return url
    return f"{parts[0]}{parts[2]}"


def same_store(mine: str, my_options: Mapping[str, str], url: str,
               options: Mapping[str, str], root: str | None = None) -> bool:
    """Is the remote at `mine` with `my_options`, a remote of the user's own, the store of the
    remote in use (`url`, `options`)? The same URL, in any spelling (store_of), and the same
    server-choosing options: the user's credentials for a bucket must not go to another
    endpoint that a cloned config names for the same bucket."""
    return store_of(mine, my_options, root) == store_of(url, options, root)


_DEFAULT_PORTS = {"ssh": 22, "sftp": 22, "http": 80, "https": 443}


def store_of(url: str, options: Mapping[str, str], root: str | None = None) -> tuple[str, ...]:
    """The store a remote's URL and options name, in one spelling: scheme and host in lower
    case, no login (SSH, HTTP: the store is the same whoever logs in), no default port, no
    trailing slash, a directory's path absolute (a relative one taken from `root`, the
    repository's, as dvx opens it), and its kind's server_options (an SSH `port` as the
    port of the URL, which it overrides)."""
    backend = _BY_SCHEME.get(scheme_of(url))
    if backend is None:  # another fsspec protocol, whose options may all choose the server
        return (url_without_login(url).rstrip("/"), *sorted(
            f"{key}={value}" for key, value in options.items() if key not in COMMON_OPTIONS))
    if backend.name == "local":
        try:
            path = os.path.expanduser(path_of_local_url(url))
        except RemoteError:  # a file:// URL naming a host: refused where it is opened
            return (url,)
        if root is not None and not os.path.isabs(path):
            path = os.path.join(root, path)
        return ("local", os.path.normpath(path))
    parts = urlsplit(url_without_login(url))
    scheme = backend.name if backend.name != "http" else parts.scheme.lower()
    netloc = parts.netloc
    if not backend.bucket_kind:  # a host, in any letter case (a bucket's name is kept)
        given = options.get("port") if "port" in backend.server_options else None
        try:
            port = int(given or parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0))
        except ValueError:  # refused where it is opened
            port = 0
        host = (parts.hostname or "").lower()
        host = f"[{host}]" if ":" in host else host
        netloc = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    servers = [normal_endpoint(options[key]) if key == "endpointurl" and options.get(key)
               else options.get(key, "").strip() for key in backend.server_options
               if key != "port" or backend.bucket_kind]
    return (f"{scheme}://{netloc}{parts.path.rstrip('/')}{query}", *servers)


def is_trust_setting(option: str, value: str) -> bool:
    """Whether `option` set to `value` turns off the check of a server's identity, as only the
    user's own config may: `known_hosts ignore`, `ssl_verify false`. A file of host keys or a
    CA bundle still checks (a project shares those)."""
    if option == "known_hosts":
        return value == "ignore"  # as known_hosts_files reads it
    return option == "ssl_verify" and value.strip().lower() in FALSE_WORDS


def _hidden_userinfo(url: str, userinfo: str) -> str:
    """A URL's user:password part as shown: all of it as ***, but on a URL whose user part
    is no login (an Azure container) only its password."""
    backend = _BY_SCHEME.get(scheme_of(url))
    if backend is None or backend.url_user_is_login:
        return "***"
    user, colon, _ = userinfo.partition(":")
    return f"{user}:***" if colon else user


_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SENTENCE_PUNCTUATION = ".,;:!?"


def redact_urls(text: str) -> str:
    """`text` (a client library's error message, or dvx's own) with every URL in it
    redacted, and all else kept: a sentence's punctuation after a URL, a ')' closing a
    bracket opened before it, a URL's form with its login in brackets."""
    return _URL_IN_TEXT.sub(lambda found: _redacted_in_text(found.group(0)), text)


def _redacted_in_text(found: str) -> str:
    url, after = _split_trailing(found)
    if url.startswith(_TEMPLATE_LOGIN) and url.count("@") == 1:
        return _QUERY_VALUE.sub(r"\1***", url) + after
    return redact_url(url) + after


def _split_trailing(found: str) -> tuple[str, str]:
    """(the URL, what follows it) of `found`, a URL as a sentence quotes it: a query value
    hidden up to the end would hide the ')' or '.' after it too. A ')' of the URL's own
    (one that closes a '(' in it) stays in it."""
    end = len(found)
    while end > 0:
        char = found[end - 1]
        unopened = char == ")" and found.count("(", 0, end) < found.count(")", 0, end)
        if char not in _SENTENCE_PUNCTUATION and not unopened:
            break
        end -= 1
    return found[:end], found[end:]


def url_secrets(url: str) -> tuple[str, ...]:
    """The password and the query values of `url`: never to show, wherever a message puts
    them (a library may quote them on their own, or decoded)."""
    query = url.partition("?")[2].partition("#")[0]
    values = [value for _, value in parse_qsl(query, keep_blank_values=True)]
    values += [raw.partition("=")[2] for raw in query.split("&")]
    userinfo = _split_userinfo(url)
    password = userinfo[1].partition(":")[2] if userinfo is not None else ""
    if password:
        values += [password, unquote(password)]
    return tuple(value for value in dict.fromkeys(values) if value)


def network_failure(exc: OSError, url: str, server: str | None = None,
                    seconds: float | None = None) -> str:
    """Why a connection failed, naming the host (`server`, else the URL's) when it is the
    host that is unknown or did not answer; a timeout says after how long (`seconds`)."""
    import socket

    host = server or _named_host(url)
    refused = certificate_refusal(exc)
    if refused is not None:
        return refused
    why = str(exc.strerror or exc)
    if isinstance(exc, TimeoutError) and not why:  # asyncio's timeouts say nothing
        why = f"timed out after {seconds:g} s" if seconds else "timed out"
    if isinstance(exc, socket.gaierror):
        if not host:
            return f"the host of its storage service was not found ({why})"
        return f"its host '{host}' was not found ({why})"
    if isinstance(exc, ConnectionRefusedError) and host:
        return f"{host} did not accept the connection ({why})"
    if isinstance(exc, TimeoutError) and host:  # connected or not: no answer came in time
        if "stopped answering" in why:  # the lean S3 client's own words
            return f"{host} {why[why.index('stopped answering'):]}"
        return f"{host} stopped answering ({why})"
    return why


def access_refused(blobs: Blobs, exc: PermissionError, shown: str | None = None,
                   reason: str | None = None) -> RemoteError:
    """The one error for the remote of `blobs` (`shown`: how to name it, else as `blobs`
    does) refusing a request (`exc`; `reason`: its words, if the caller hid more secrets in
    them), whichever command's request met it: named as the remote's, never as a local
    file's permissions. A directory on this machine refused the file or folder `exc` names,
    whose permissions are the way out; any other store refused the credentials (S3's 403):
    wrong ones (Blobs.wrong_credentials), or ones that may not do that there. Where the
    store's kind tells where they come from (Blobs.credentials_from), the hint names it."""
    reason = reason or redact_urls(str(exc.strerror or exc))
    shown = shown or blobs.shown
    if blobs.on_this_machine and isinstance(exc.filename, str):
        return RemoteError(f"The {shown} refused access: {reason} ('{exc.filename}').",
                           "Check that you may read and write there (the permissions of that "
                           "file or folder), then run the command again.")
    taken = f"; they are taken from {blobs.credentials_from}" if blobs.credentials_from else ""
    wrong = blobs.wrong_credentials(exc)
    if wrong is not None:
        return RemoteError(f"The {shown} refused access: {wrong}.", f"Check them{taken}.")
    return RemoteError(f"The {shown} refused access: {reason}.",
                       f"Check that the credentials may read and write there{taken}.")


def delete_refused(blobs: Blobs, exc: PermissionError, shown: str | None = None,
                   needs: str = "") -> RemoteError:
    """The remote's refusal (access_refused) of a delete: credentials that may read and
    write there but not delete (an append-only key: no s3:DeleteObject, an Azure SAS without
    d), or a folder whose permissions let this user add files but not remove them. `needs`:
    a sentence saying what needed the delete, and so what cannot be done. The hint names
    the right as the store's access policies do (the store's `delete_right`)."""
    reason = redact_urls(str(exc.strerror or exc))
    if blobs.on_this_machine and isinstance(exc.filename, str):
        reason += f": '{exc.filename}'"
    whose = "this user" if blobs.on_this_machine else "these credentials"
    right = f" ({blobs.delete_right})" if blobs.delete_right else ""
    return RemoteError(f"The {shown or blobs.shown} refused access: {whose} may not delete "
                       f"there ({reason}).",
                       f"{needs + ' ' if needs else ''}Give {whose} the right to delete "
                       f"there{right}, or use one that has it, then run the command again.")


def _named_host(url: str) -> str | None:
    """The host a URL names; none for a bucket's URL (s3://BUCKET names a bucket, and its
    client picks the host: the cloud's own without an `endpointurl`)."""
    if "://" not in url:
        return None
    try:
        if backend_for(url).bucket_kind:
            return None
        return urlsplit(url).hostname
    except (ConfigError, ValueError):
        return None


def certificate_refusal(exc: BaseException) -> str | None:
    """Why the server's TLS certificate was refused, with the way to trust a certificate
    of one's own CA, if that is what `exc` (or the failure under it: client libraries wrap
    it in errors of their own) is; else None."""
    import ssl

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            wrapped = getattr(cause, "certificate_error", None)  # aiohttp's wrapper
            if isinstance(wrapped, ssl.SSLCertVerificationError):
                cause = wrapped
            why = getattr(cause, "verify_message", None) or "certificate verify failed"
            return (f"the server's TLS certificate could not be verified ({why}); a store "
                    "whose certificate comes from a CA of your own needs that CA's bundle in "
                    "the remote's ssl_verify option (a file path)")
        cause = cause.__cause__ or cause.__context__
    return None
