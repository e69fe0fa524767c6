"""One exception tree for everything dvx reports to a user.

    DvxError                      exit 1  (base: message + hint)
    ├── UsageError                exit 2  bad arguments or options
    │   └── UnknownRevisionError  exit 2  a revision naming nothing Git knows
    │       └── ShallowCloneRevisionError exit 2  one a shallow clone may lack: fetch more history
    ├── NotARepoError             exit 2  not inside a dvx/Git repository
    ├── ConfigError               exit 2  unreadable or invalid configuration
    │   └── UnreadableConfigError exit 2  a config file this user may not read: a mode to fix
    ├── PathError                 exit 2  a path dvx refuses (outside, in .git, tracked by Git)
    │   └── PrivateFilesInGitError exit 2  Git tracks dvx's private files (.dvx/config.local)
    ├── FormatError               exit 1  a pointer, manifest or YAML file that fails validation
    │   ├── NewerFormatError      exit 1  one written in a format of a newer dvx: upgrade dvx
    │   ├── UnknownKeysError      exit 1  one with keys this dvx does not know (a newer dvx's?)
    │   ├── TooLargeError         exit 1  one larger than dvx reads of its kind, refused unparsed
    │   ├── YamlAnchorsError      exit 1  a YAML file with anchors or aliases where dvx refuses them
    │   ├── OtherAlgorithmError   exit 1  a pointer or dvx.lock of another hash algorithm than dvx's
    │   └── CorruptManifestError  exit 1  a manifest whose bytes hash to another oid than its own
    ├── UnreadableError           exit 1  a file or folder dvx must read that it may not
    ├── InvalidOidError           exit 1  a hash that is not the algorithm's lowercase hex
    ├── CorruptObjectError        exit 1  bytes whose hash differs from their oid
    ├── MissingObjectError        exit 1  an object needed but absent from the cache
    ├── ConflictError             exit 1  a pointer changed both in Git and in the workspace
    │   └── MergeConflictError    exit 1  a file dvx reads still holds Git's conflict markers
    ├── LockError                 exit 3  another dvx process holds the repository lock
    │   └── LockedPlaceGone       exit 3  another repository whose lock was awaited is gone
    ├── RemoteError               exit 1  a remote is unreachable or misconfigured
    │   ├── UnknownRemoteError    exit 2  a remote named on the command line that none is
    │   ├── JobsSettingError      exit 1  a remote's `jobs` option dvx refuses, met without -j
    │   └── CredentialsError      exit 1  its credentials are missing or refused
    ├── PartialFailure            exit 1  a command finished, but some items failed (listed)
    └── Interrupted               exit 130  Ctrl-C (143: SIGTERM, 129: SIGHUP): what was complete,
                                            and that a rerun finishes

Only the CLI turns these into text; code below it raises them with a message that says what
failed and a hint that says what to do about it.
"""

from __future__ import annotations

import errno


class DvxError(Exception):
    exit_code = 1
    # The errors of several that this one's message joins (the remotes of one command): what
    # they quote of libraries' errors, it quotes too (`quoted_by_libraries`).
    joins: tuple[BaseException, ...] = ()

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        # Keeps the hint when an error crosses from a worker process (dvx/processes.py).
        return type(self), (self.message, self.hint)


class UsageError(DvxError):
    exit_code = 2


class UnknownRevisionError(UsageError):
    """A revision that names nothing Git knows, where one naming a range or a blob is
    another UsageError: a caller may look the text up as something else (an experiment)."""


class ShallowCloneRevisionError(UnknownRevisionError):
    """A revision naming nothing Git knows in a shallow clone (`git clone --depth`): it may
    name a commit beyond the clone's boundary or a branch it did not fetch, which exist
    elsewhere, so the way out is fetching more history, never naming something else."""


class NotARepoError(DvxError):
    exit_code = 2


class ConfigError(DvxError):
    exit_code = 2


class UnreadableConfigError(ConfigError):
    """A config file this user may not read: its fix is the file's mode, which is never
    committed, so whoever reads it fixes it where it is (a source's too)."""


class PathError(DvxError):
    exit_code = 2


class UnreadableError(DvxError):
    """A file or folder of the workspace that dvx must read and may not (permission
    denied), at `path` (relative to the repository's root): a report can name it and go on
    with the rest, where a command that needs it refuses."""

    def __init__(self, message: str, hint: str | None = None, path: str = "") -> None:
        super().__init__(message, hint)
        self.path = path

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        return type(self), (self.message, self.hint, self.path)  # type: ignore[return-value]


def unreadable_error(display: str, is_dir: bool = False, inside: bool = True,
                     path: str | None = None) -> UnreadableError:
    """`display` (as the user names it from the current directory) may not be read: a file
    or folder inside a tracked directory (`inside`), which can also be moved out of it, or a
    path standing on its own. `path`: its path from the repository's root, if another."""
    from dvx.logs import shell_quote

    mode = "u+rx" if is_dir else "u+r"
    fix = f"Fix its permissions (`chmod {mode} {shell_quote(display)}`, as its owner)"
    return UnreadableError(
        f"'{display}' cannot be read: permission denied.",
        f"{fix} or move it out of the tracked directory, then run the command again." if inside
        else f"{fix}, then run the command again.",
        path=display if path is None else path,
    )


class PrivateFilesInGitError(PathError):
    """Git tracks what belongs to one clone (.dvx/cache, .dvx/tmp, .dvx/config.local): the
    pre-commit hook stops a commit over it, where it lets one go on past dvx's other
    failures to read the repository."""


class FormatError(DvxError):
    pass


class NewerFormatError(FormatError):
    """A file whose format number is higher than this dvx knows. Only upgrading dvx helps:
    deleting or repairing the file would lose what the newer dvx recorded in it."""

    @classmethod
    def of(cls, what: str, version: int) -> NewerFormatError:
        """`what` ("The pointer file 'a.dvx'") says it is in format `version`."""
        return cls(f"{what} was written by a newer dvx (format {version}).",
                   "Upgrade dvx to read it.")


class UnknownKeysError(FormatError):
    """A file holding keys this dvx does not know: a newer dvx may have written them, so,
    as with NewerFormatError, an upgrade may read what it records."""


class TooLargeError(FormatError):
    """A file larger than dvx reads of its kind: refused before it is parsed."""


class YamlAnchorsError(FormatError):
    """A YAML file using anchors or aliases (merge keys of them too) where dvx reads plain
    data only: written out in full, each value says what it is where it stands."""


class OtherAlgorithmError(FormatError):
    """A pointer file or dvx.lock that names its data by another hash algorithm (`recorded`)
    than dvx hashes with here (`algo`): sound as a file, but read by a dvx hashing as it
    was written. Which of the two is off, and so the fix, depends on the repository's
    algorithm: dvx/hash_setting.py words it where the repository is known."""

    def __init__(self, message: str, hint: str | None = None, *, recorded: str,
                 algo: str) -> None:
        super().__init__(message, hint)
        self.recorded = recorded
        self.algo = algo


def unknown_keys_hint(otherwise: str) -> str:
    """The hint for a file holding keys this dvx does not know: a newer dvx may have written
    them, so the way out named first is an upgrade, then `otherwise` (never a deletion that
    would drop what the newer dvx recorded)."""
    return f"It may come from a newer dvx; upgrade dvx, or {otherwise}."


def install_extra_hint(extra: str) -> str:
    """The hint for an optional part of dvx that is not installed: the packages of dvx's
    `extra`, read from dvx's own metadata. Never `pip install 'dvx[EXTRA]'`: where dvx came
    from a checkout or a Git URL, that fetches PyPI's `dvx`, which is another project."""
    from importlib import metadata

    try:
        requires = metadata.requires("dvx") or []
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        requires = []
    packages = [r.split(";")[0].strip() for r in requires
                if r.split(";")[-1].replace(" ", "") == f'extra=="{extra}"']
    if not packages:
        return f"Install dvx's '{extra}' extra: `pip install -e '.[{extra}]'` in a dvx checkout."
    quoted = " ".join(f"'{package}'" for package in packages)
    return f"Install dvx's '{extra}' extra where dvx is installed: `pip install {quoted}`."


class InvalidOidError(FormatError):
    pass


class CorruptManifestError(FormatError):
    """Damaged bytes, not a malformed manifest: a good copy may be fetched again."""


class CorruptObjectError(DvxError):
    pass


class MissingObjectError(DvxError):
    pass


class ConflictError(DvxError):
    pass


class MergeConflictError(ConflictError):
    """A pointer, dvx.lock or dvx.yaml holding Git's conflict markers. `driver_hint` tells
    of the merge driver `dvx install` sets up for `path`: the CLI adds it to the hint only
    where that driver does not merge `path` yet."""

    def __init__(self, message: str, hint: str | None = None, path: str = "",
                 driver_hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.path = path
        self.driver_hint = driver_hint

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        return type(self), (self.message, self.hint, self.path,  # type: ignore[return-value]
                            self.driver_hint)


class LockError(DvxError):
    exit_code = 3


class LockedPlaceGone(LockError):
    """The folder of another repository's lock (a worktree's) went while a command waited
    for it or took it: whatever held it has ended, and nothing there is left to keep."""


class RemoteError(DvxError):
    pass


class UnknownRemoteError(RemoteError):
    """A remote named on the command line (-r, -c, --remote) that no config level defines:
    a bad argument, with the exit status of every usage error."""

    exit_code = 2


class JobsSettingError(RemoteError):
    """A remote's `jobs` option dvx refuses, met where no -j was given: the hint gives the
    config fix alone, and a command that has -j adds it (`with_j`), which wins over it."""

    def with_j(self) -> JobsSettingError:
        fix = (self.hint or "").rstrip(".")
        return JobsSettingError(self.message, f"{fix}; a command's -j (--jobs) wins over it.")


class MissingBucketError(RemoteError):
    """The bucket (or container) a remote's URL names does not exist: a listing alone would
    show it as an empty remote. `at`: the endpoint asked, where the remote names one.
    `doubt`: for a name its kind of store creates no bucket by (backends.BucketNames), why
    the name itself may be the cause, in words; then creating it is no way out there."""

    def __init__(self, bucket: str, kind: str = "bucket", modify: str = "", at: str = "",
                 doubt: str = "") -> None:
        super().__init__(f"The {kind} '{bucket}' does not exist{self.where(at)}.",
                         self.way_out(kind, modify, at, doubt))
        self.bucket, self.kind = bucket, kind  # kind: what the store calls it
        self.modify, self.at, self.doubt = modify, at, doubt

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        # from a worker process (dvx/processes.py) with what it names, not its message
        return type(self), (self.bucket, self.kind, self.modify, self.at,  # type: ignore[return-value]
                            self.doubt)

    def of_remote(self, modify: str, at: str = "", doubt: str = "") -> MissingBucketError:
        """The same error, its hint giving the command that changes the remote's options
        (`modify`: `dvx remote modify --local NAME`, "" if unknown), the endpoint `at`,
        where the remote names one, and the `doubt` its name raises."""
        return MissingBucketError(self.bucket, self.kind, modify, at or self.at,
                                  doubt or self.doubt)

    @staticmethod
    def where(at: str) -> str:
        return f" at its endpoint {at}" if at else ""

    @staticmethod
    def way_out(kind: str, modify: str = "", at: str = "", doubt: str = "") -> str:
        endpoint = " or its endpointurl (`... endpointurl URL`)" if at else ""
        correct = f"`{modify or MODIFY_A_REMOTE} url ...`{endpoint}"
        if doubt:
            return f"Its name may be the cause: {doubt}. Correct the remote's URL with {correct}."
        return (f"Create it (dvx never creates {kind}s), or correct the remote's URL with "
                f"{correct}.")


class CredentialsError(RemoteError):
    """A remote's credentials are missing (S3) or refused (an SSH login, a web server's 401
    or 403). How to give them depends on whose remote it is: `hint` says it for the
    repository's own remote (`dvx remote modify`), `for_source` for a source's, which the
    reader cannot modify (ops/source.py)."""

    def __init__(self, message: str, hint: str | None = None, source_hint: str | None = None
                 ) -> None:
        super().__init__(message, hint)
        self.source_hint = source_hint

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        return type(self), (self.message, self.hint, self.source_hint)  # type: ignore[return-value]

    def for_source(self, source: str) -> RemoteError:
        """The same error met reading the remote of another repository (`source`: it and its
        revision, as the user named them), with the way out there."""
        return RemoteError(f"Cannot read the remote of {source}: {self.message}",
                           self.source_hint or self.hint)


class LostConnection(ConnectionError):
    """A remote's connection failed under a command: `shown` names the remote, the message
    says what was being done. A ConnectionError, not a DvxError, so that it is tried again
    as any dropped connection is (on a new connection: remote/blobs.py's SftpBlobs); when it
    ends the command the CLI says `Cannot reach the <shown>: <message>`."""

    def __init__(self, shown: str, message: str) -> None:
        super().__init__(errno.ECONNRESET, message)
        self.shown = shown

    def __reduce__(self) -> tuple[type[LostConnection], tuple[str, str]]:
        return type(self), (self.shown, self.strerror or "")


class PartialFailure(DvxError):
    """Raised after a command has done what it could; `result` carries the details."""

    def __init__(self, message: str, hint: str | None = None, result: object = None) -> None:
        super().__init__(message, hint)
        self.result = result


EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_HUNG_UP = 129  # 128 + SIGHUP


class Interrupted(DvxError):
    """Ctrl-C stopped a command; the message says what was complete by then."""

    exit_code = EXIT_INTERRUPTED
    done = 0  # objects a transfer completed before it stopped
    total: int | None = None  # of the objects it was to move, where known
    unsure: int | None = 0  # objects in flight as it ended, maybe complete (None: some)
    moving = ""  # what the transfer did to each object ("Uploading"), where one stopped
    # For a transfer stopped once every object was moved: what the command still had to do
    # after it, as running it again does it ("": nothing; None: not known where it stopped).
    left: str | None = None

    @property
    def every_object_moved(self) -> bool:
        """Was every object of the transfer moved (none failed, none left in flight)?"""
        return bool(self.total) and self.done >= (self.total or 0) and self.unsure == 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill PID`, a CI timeout), raised where Ctrl-C is (the CLI's handler), so the
    same clean-up follows: stage commands stopped, partial downloads removed, locks released."""

    exit_code = EXIT_TERMINATED


class HungUp(Terminated):
    """SIGHUP (the terminal closed, an ssh connection dropped): stopped as SIGTERM stops a
    command, reported with its own word and exit status."""

    exit_code = EXIT_HUNG_UP


# What each way of stopping a command is called in its `ERROR:` line, by its exit status.
STOPPED_BY = {EXIT_INTERRUPTED: "Interrupted", EXIT_TERMINATED: "Terminated",
              EXIT_HUNG_UP: "Hung up"}


def stop_status(by: BaseException) -> int:
    """The exit status of a command stopped by `by`: Ctrl-C's (a KeyboardInterrupt), the
    signal's (Terminated, HungUp), or that of the Interrupted made for one of them."""
    code = getattr(by, "exit_code", EXIT_INTERRUPTED)
    return code if code in STOPPED_BY else EXIT_INTERRUPTED


NOTHING_HALF_WRITTEN = "Nothing was left half-written; run the command again to finish."

# The command a hint names to change a remote's options where the remote (or the level of
# config defining it) is not known: Config.modify_command gives it for a named remote.
MODIFY_A_REMOTE = "dvx remote modify NAME"

_LEFT_HALF_DONE = "dvx_left_half_done"  # the attribute `note_left_half_done` sets


def note_left_half_done(exc: BaseException, notice: str) -> None:
    """Note on `exc`, an error that ended a command once it began writing tracked paths,
    what the command may have left half-done and how to finish it (`notice`): said in its
    hint, never that nothing was left half-written. A DvxError's hint takes it at once."""
    if isinstance(exc, DvxError):
        exc.hint = notice if not exc.hint else f"{exc.hint} {notice}"
        return
    setattr(exc, _LEFT_HALF_DONE, notice)


def left_half_done(exc: BaseException) -> str | None:
    """What `note_left_half_done` noted on `exc`, if anything."""
    notice = getattr(exc, _LEFT_HALF_DONE, None)
    return notice if isinstance(notice, str) else None


STOP_CHAIN_DEPTH = 16  # links of a chain looked along: a stop is met within a few, if at all


def stop_within(exc: BaseException | None) -> KeyboardInterrupt | Interrupted | None:
    """The Ctrl-C, SIGTERM or SIGHUP (a KeyboardInterrupt, Terminated or HungUp), or the
    Interrupted said for one, that `exc` is, or that it was raised from or while handling
    (its __cause__ and __context__), None if none is. Python wraps a stop that lands in some
    of its own machinery into another error (a class defining dataclass fields, imported
    then: a RuntimeError "Error calling __set_name__"); the command was still stopped.
    A DvxError other than Interrupted has none, whatever it was raised while handling: what
    it says is what the user is told, so every caller says it as it is."""
    if isinstance(exc, DvxError) and not isinstance(exc, Interrupted):
        return None
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < STOP_CHAIN_DEPTH:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        if isinstance(current, (KeyboardInterrupt, Interrupted)):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
    return None


def interruption(by: BaseException, detail: str, hint: str = NOTHING_HALF_WRITTEN
                 ) -> Interrupted:
    """What a Ctrl-C, a SIGTERM or a SIGHUP (`by`: a KeyboardInterrupt, Terminated or HungUp,
    or an Interrupted made for one) stopped: "Interrupted", "Terminated" or "Hung up" then
    `detail`, with that signal's exit status; `hint`: what it left, and how to finish."""
    code = stop_status(by)
    exc = Interrupted(STOPPED_BY[code] + detail, hint)
    exc.exit_code = code
    return exc


def quoted_by_libraries(*errors: BaseException) -> tuple[str, ...]:
    """The text of each error that `errors` were raised from or while handling (their
    __cause__ and __context__, kept by `raise ... from None` too) or join (`joins`), and
    that dvx's code did not raise: what a library said, which dvx's message about `errors`
    may quote."""
    texts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = list(errors)
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if not _raised_by_dvx(current):
            texts += [str(current), *(arg for arg in current.args if isinstance(arg, str))]
        pending += [current.__cause__, current.__context__, *getattr(current, "joins", ())]
    return tuple(texts)


def _raised_by_dvx(exc: BaseException) -> bool:
    """Was `exc` raised in dvx's own code (its words, a PermissionError of a refused request
    among them)? A DvxError is, raised or not (one made to be joined into another's message).
    Any other error never raised is taken for a library's."""
    if isinstance(exc, DvxError):
        return True
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    module = "" if trace is None else str(trace.tb_frame.f_globals.get("__name__", ""))
    return module == "dvx" or module.startswith("dvx.")
