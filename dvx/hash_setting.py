"""Which hash algorithm names a repository's data, and what to say when a setting disagrees.

Two notions, which the pre-commit hook keeps equal: the algorithm commands hash with and
check new data against (the core.hash the config sets at any level, else the one the tracked
data records, else the default), and the one a clone hashes with (the core.hash its
committed .dvx/config sets, else the default: `staged_algorithm` for the commit being made).

A repository's algorithm is a property of the repository, shared by every clone: the
core.hash its committed .dvx/config sets, else the one its tracked data records (the pointer
files in Git's index and dvx.lock; most of them, a tie going to the default), else the
default. A user's own settings (the global config, a clone's .dvx/config.local) may choose
the algorithm of a repository that tracks no data yet, never write pointers by another one
into a repository whose data has one: every clone hashing as the repository does could not
read them. Yet a clone hashes as its committed .dvx/config says, else with the default, so
such a choice holds for clones only once that file sets it: `dvx init` writes a global
core.hash there, and the pre-commit hook stops a commit of data recorded with another
algorithm than clones of it would hash with (`committed_switch`, `unshared_algorithm`).
Messages here name the level a setting comes from and the `dvx config` that changes it
there, since a command that writes another level changes nothing it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dvx.config import Config, ConfigFile
from dvx.errors import ConfigError, DvxError, FormatError, OtherAlgorithmError
from dvx.hashing import ALGORITHMS, DEFAULT_ALGO
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, recorded_algo
from dvx.paths import POINTER_SUFFIX, for_command
from dvx.pointer import MAX_POINTER_BYTES, parse_pointer
from dvx.scm import Git
from dvx.wording import commands_in_a_sentence, named_list

PERSONAL = ("local", "global")  # the levels no clone but this user's reads


def recorded_algorithms(git: Git | None) -> dict[str, list[str]]:
    """The algorithms the repository's tracked data records, each with the files recording
    it: the pointer files in Git's index, and its dvx.lock there. Nothing without Git: a
    project that works without Git shares no data with clones, so its settings alone
    decide."""
    if git is None:
        return {}
    recorded: dict[str, dict[str, None]] = {}  # ordered sets
    for path, algo in _recorded(git):
        recorded.setdefault(algo, {})[path] = None  # a path in conflict comes once per side
    return {algo: list(files) for algo, files in recorded.items()}


def _recorded(git: Git) -> Iterator[tuple[str, str]]:
    records = []
    for path, sha in git.staged_blobs((POINTER_SUFFIX, LOCK_FILE)):
        is_lock = path == LOCK_FILE
        if not is_lock and (not path.endswith(POINTER_SUFFIX)
                            or path.rpartition("/")[2] == POINTER_SUFFIX):
            continue  # a dvx.lock below the root, or a file named `.dvx`: no record
        records.append((path, sha, is_lock))
    # Read together: a commit's hook reads every pointer file of the index.
    contents = git.small_blobs([sha for _, sha, _ in records],
                               max(MAX_LOCK_BYTES, MAX_POINTER_BYTES))
    for path, sha, is_lock in records:
        data = contents.get(sha)
        if data is None or len(data) > (MAX_LOCK_BYTES if is_lock else MAX_POINTER_BYTES):
            continue
        algo = recorded_algo(data) if is_lock else _algo_of_pointer(data, path)
        if algo is not None:
            yield path, algo


def _algo_of_pointer(data: bytes, path: str) -> str | None:
    try:
        return parse_pointer(data, path).algo
    except DvxError:
        return None


@dataclass(frozen=True)
class RepositoryAlgorithm:
    algo: str
    why: str  # "its .dvx/config sets core.hash to xxh128", "as 'd.dvx' records"
    recorded: bool  # the repository tracks data, or commits a setting: it has an algorithm


def repository_algorithm(config: Config, recorded: dict[str, list[str]],
                         besides: str | None = None) -> RepositoryAlgorithm:
    """The algorithm that names the repository's data (see the module docstring); the files
    named as recording it leave out `besides`, the one a message is about."""
    committed = _value_at(config, "project")
    if committed is not None:
        return RepositoryAlgorithm(committed, f"its .dvx/config sets core.hash to {committed}",
                                   True)
    if not recorded:
        return RepositoryAlgorithm(DEFAULT_ALGO, "the default, as it tracks no data yet", False)
    most = max(len(files) for files in recorded.values())
    tied = [algo for algo, files in recorded.items() if len(files) == most]
    algo = DEFAULT_ALGO if DEFAULT_ALGO in tied or len(tied) > 1 else tied[0]
    files = [f for f in recorded.get(algo, []) if f != besides]
    if not files:  # `besides` alone records it
        return RepositoryAlgorithm(algo, "the default, which its .dvx/config does not change"
                                   if algo == DEFAULT_ALGO else "as its tracked data records",
                                   True)
    verb = "records" if len(files) == 1 else "record"
    return RepositoryAlgorithm(
        algo, f"as {named_list(sorted(files), most=3, name=repr)} {verb}", True)


def _value_at(config: Config, level: str) -> str | None:
    """The algorithm core.hash names at `level`; None where it names none (unset, or no
    algorithm: the command reading it says so)."""
    config_file = config.files.get(level)
    value = config_file.get("core", "hash") if config_file is not None else None
    return value if value in ALGORITHMS else None


def setting_named(config: Config, algo: str, level: str | None = None) -> str:
    """Where the core.hash in effect (`algo`) comes from, as a clause of a message; or,
    with `level`, the core.hash that level sets."""
    level = level or config.where("core", "hash")
    if level == "global":
        return f"your global config ({config.paths['global']}) sets core.hash to {algo}"
    if level == "local":
        return f"this clone's .dvx/config.local sets core.hash to {algo}"
    if level == "project":
        return f"its .dvx/config sets core.hash to {algo}"
    return f"dvx hashes with {algo} here, the default, as no config sets core.hash"


def own_setting_fixes(config: Config, wanted: str) -> list[str]:
    """The `dvx config` commands that make the user's own settings hash with `wanted`, each
    on its own: for this clone (`--local`), or, where the global config sets another and
    unsetting it is enough, for every repository of this user."""
    local, global_ = _value_at(config, "local"), _value_at(config, "global")
    below_local = _value_at(config, "project") or global_ or DEFAULT_ALGO
    if local is not None and local != wanted and below_local == wanted:
        return ["dvx config --local --unset core.hash"]
    fixes = [f"dvx config --local core.hash {wanted}"]
    below_global = _value_at(config, "project") or DEFAULT_ALGO
    if local is None and global_ is not None and global_ != wanted and below_global == wanted:
        fixes.append("dvx config --global --unset core.hash")
    return fixes


def switch_fixes(config: Config, wanted: str) -> list[str]:
    """The `dvx config` commands that make a repository that tracks no data yet hash with
    `wanted` for every clone: its committed .dvx/config, and the user's own levels that set
    another algorithm unset."""
    fixes = [f"dvx config --{level} --unset core.hash" for level in PERSONAL
             if config.files.get(level) is not None
             and config.files[level].get("core", "hash") not in (None, wanted)]
    if (_value_at(config, "project") or DEFAULT_ALGO) != wanted:
        fixes.append(f"dvx config core.hash {wanted}")
    return fixes


def own_setting_refusal(config: Config, algo: str, recorded: dict[str, list[str]]
                        ) -> ConfigError | None:
    """The refusal of a command about to record data when the user's own config (global, or
    this clone's config.local) sets core.hash to `algo` while the repository's data is named
    by another: None where the setting is the repository's (committed) or agrees."""
    if config.where("core", "hash") not in PERSONAL:
        return None
    own = repository_algorithm(config, recorded)
    if not own.recorded or own.algo == algo:
        return None
    fixes = own_setting_fixes(config, own.algo)
    setting = setting_named(config, algo)
    return ConfigError(
        f"{setting[0].upper()}{setting[1:]}, but this repository's data is named by "
        f"{own.algo} ({own.why}): data "
        f"recorded here with {algo} could not be read by any clone hashing as the repository "
        "does, so nothing was written.",
        f"Hash with the repository's algorithm: {commands_in_a_sentence(fixes, 'or')} (`dvx config "
        "core.hash` says where the value in effect comes from), then run the command again.")


def own_setting_notice(config: Config, level: str, algo: str,
                       recorded: dict[str, list[str]]) -> str | None:
    """The warning for core.hash just set to `algo` at the user's own `level` (global or
    local) in a repository, `config` holding it: a level above that sets another is read
    here instead, and one in effect that is not the algorithm of the repository's data
    makes every command recording data refuse here (`own_setting_refusal`); in a repository
    that tracks no data yet, one its .dvx/config does not set is read by no clone until it
    does. None where it is in effect here and names the repository's data, or its
    .dvx/config sets it too."""
    setting = setting_named(config, algo, level)
    if level == "global" and config.where("core", "hash") != level:
        in_effect = config.hash_algo()
        if in_effect == algo:
            return None
        return (f"{setting[0].upper()}{setting[1:]} now, which this repository does not read: "
                f"{setting_named(config, in_effect)}. It chooses the algorithm of "
                "repositories that track no data yet and set none themselves.")
    own = repository_algorithm(config, recorded)
    if not own.recorded and (_value_at(config, "project") or DEFAULT_ALGO) != algo:
        return (f"{setting[0].upper()}{setting[1:]} now, which no clone of this repository "
                "reads: its .dvx/config does not. To name its data with "
                f"{algo}, share the setting before you commit data: `dvx config core.hash "
                f"{algo}`, and commit .dvx/config (the pre-commit hook of `dvx install` stops "
                "a commit of data recorded with an algorithm no clone hashes with).")
    if not own.recorded or own.algo == algo:
        return None
    fixes = own_setting_fixes(config, own.algo)
    return (f"{setting[0].upper()}{setting[1:]} now, but this repository's data is named by "
            f"{own.algo} ({own.why}): add, commit, repro and every other command recording "
            f"data here refuse while it is in effect, as data recorded with {algo} could not "
            "be read by any clone hashing as the repository does (your own core.hash chooses "
            "the algorithm of a repository that tracks no data yet). To hash with the "
            f"repository's algorithm here: {commands_in_a_sentence(fixes, 'or')}.")


def pointer_algo_mismatch(config: Config, recorded: dict[str, list[str]], where: str,
                          pointer_file: str, data_path: str, pointer_algo: str, algo: str,
                          data_here: bool = True) -> FormatError:
    """The error for the pointer file `where` (`pointer_file` and its `data_path` as a
    command typed here names them) recording `pointer_algo` while dvx here hashes with
    `algo`: the fix is the setting's where the pointer has the repository's algorithm, else
    the pointer's, added again by whoever has its data."""
    own = repository_algorithm(config, recorded, besides=where)
    level = config.where("core", "hash")
    if own.algo == pointer_algo:
        return FormatError(
            f"The pointer file '{where}' uses {pointer_algo}, as this repository's data does "
            f"({own.why}), but {setting_named(config, algo)}.", _setting_fix(config, own.algo))
    as_here = "" if level == "project" else f", and {setting_named(config, algo)}"
    if _new_committed_setting(config, recorded, pointer_algo, own):
        return FormatError(  # no tracked data has the committed algorithm: the setting is new
            f"The pointer file '{where}' uses {pointer_algo}, but its .dvx/config sets "
            f"core.hash to {own.algo}, which none of its tracked data records.",
            f"If that setting is what is off, set back the algorithm its data has: `dvx config "
            f"core.hash {pointer_algo}`. Else add that data again with {own.algo} (`rm "
            f"{pointer_file}`, which keeps the data, then `dvx add {data_path}`), and commit.")
    # `data_here`: its data is in the workspace, where it can be added again; else whoever
    # has it adds it again, as no pull here fetches data named by another algorithm
    who = (f"add it again with {own.algo} where its data is" if data_here else
           "its data is not in this workspace, so whoever has it (who added it, most likely) "
           f"adds it again with {own.algo} there")
    then = (f"commit the new {where}" if data_here else
            f"pushes the data and the commit of the new {where}, which `git pull` then brings "
            "here")
    return FormatError(
        f"The pointer file '{where}' uses {pointer_algo}, but this repository's data is named "
        f"by {own.algo} ({own.why}){as_here}.",
        f"It was added by a dvx hashing with {pointer_algo} (a core.hash of its writer's own "
        f"config, most likely): {who}, once `dvx "
        f"config core.hash` says {own.algo} there (`rm {pointer_file}`, which keeps the data, "
        f"then `dvx add {data_path}`), and {then}.")


def lock_algo_mismatch(config: Config, recorded: dict[str, list[str]], root: str,
                       lock_algo: str, algo: str) -> OtherAlgorithmError:
    """The error for the dvx.lock of the workspace at `root` recording `lock_algo` while dvx
    here hashes with `algo`: the fix is the setting's where dvx.lock has the repository's
    algorithm; else every stage recorded again with the repository's in a new dvx.lock, as
    every run, `repro --force` too, reads the old one's entries first, which this dvx
    cannot. The commands name it from the current directory, where the user pastes them."""
    own = repository_algorithm(config, recorded, besides=LOCK_FILE)
    lock = for_command(root, LOCK_FILE)
    if own.algo == lock_algo:
        return OtherAlgorithmError(
            f"{LOCK_FILE} uses {lock_algo}, as this repository's data does ({own.why}), but "
            f"{setting_named(config, algo)}.", _setting_fix(config, own.algo),
            recorded=lock_algo, algo=algo)
    again = (f"record every stage again with {own.algo}: `rm {lock}` (the outputs stay in "
             "the workspace, and what it named stays in the cache), then `dvx repro`, and "
             f"commit the new {lock}")
    if _new_committed_setting(config, recorded, lock_algo, own):
        return OtherAlgorithmError(
            f"{LOCK_FILE} uses {lock_algo}, but its .dvx/config sets core.hash to {own.algo}, "
            "which none of its tracked data records.",
            "If that setting is what is off, set back the algorithm its data has: `dvx config "
            f"core.hash {lock_algo}`. Else {again}.", recorded=lock_algo, algo=algo)
    return OtherAlgorithmError(
        f"{LOCK_FILE} uses {lock_algo}, but this repository's data is named by {own.algo} "
        f"({own.why}){_as_here(config, own, algo)}.", f"{again[0].upper()}{again[1:]}.",
        recorded=lock_algo, algo=algo)


def revision_algo_mismatch(config: Config, recorded: dict[str, list[str]], what: str,
                           recorded_algo: str, algo: str) -> OtherAlgorithmError:
    """The error for `what` ("The pointer file '3f2a1b0c9d:a.dvx'", "'3f2a1b0c9d:dvx.lock'"),
    a file of a revision recording `recorded_algo` while dvx here hashes with `algo`: the
    fix is the setting's where that is the repository's algorithm. Else the revision
    recorded its data with another (before the repository's algorithm changed, or by a dvx
    hashing otherwise), which no later commit mends: this clone reads it while it hashes
    with that one, and records data again once it hashes as the repository does."""
    own = repository_algorithm(config, recorded)
    if own.algo == recorded_algo:
        return OtherAlgorithmError(
            f"{what} uses {recorded_algo}, as this repository's data does ({own.why}), but "
            f"{setting_named(config, algo)}.", _setting_fix(config, own.algo),
            recorded=recorded_algo, algo=algo)
    local = _value_at(config, "local")
    back = (f"dvx config --local core.hash {local}" if local is not None
            else "dvx config --local --unset core.hash")
    read = (f"This clone reads it while it hashes with {recorded_algo}: `dvx config --local "
            f"core.hash {recorded_algo}`, then `{back}` (add, commit and repro refuse to record "
            "data until then).")
    if _new_committed_setting(config, recorded, recorded_algo, own):
        return OtherAlgorithmError(
            f"{what} uses {recorded_algo}, but its .dvx/config sets core.hash to {own.algo}, "
            "which none of its tracked data records.",
            "If that setting is what is off, set back the algorithm its data has: `dvx config "
            f"core.hash {recorded_algo}`. {read}", recorded=recorded_algo, algo=algo)
    return OtherAlgorithmError(
        f"{what} uses {recorded_algo}, but this repository's data is named by {own.algo} "
        f"({own.why}){_as_here(config, own, algo)}: that revision recorded its data with "
        f"{recorded_algo}, before the repository's algorithm changed or by a dvx hashing "
        "otherwise.", read, recorded=recorded_algo, algo=algo)


def _setting_fix(config: Config, wanted: str) -> str:
    """The hint where the setting in effect is what is off, `wanted` being the repository's
    algorithm: the `dvx config` at the level that sets it (the user's own levels, or the
    committed config, then to be committed for every clone)."""
    if config.where("core", "hash") in PERSONAL:
        fixes, commit = own_setting_fixes(config, wanted), ""
    else:
        fixes = switch_fixes(config, wanted)
        commit = ", and commit .dvx/config so every clone does"
    return f"Hash with the repository's algorithm: {commands_in_a_sentence(fixes, 'or')}{commit}."


def _new_committed_setting(config: Config, recorded: dict[str, list[str]], found: str,
                           own: RepositoryAlgorithm) -> bool:
    """Does the committed config set core.hash to an algorithm (`own`) that none of the
    tracked data records, while some records `found`? Then that setting is new, and may be
    what is off."""
    return (config.where("core", "hash") == "project" and bool(recorded.get(found))
            and not recorded.get(own.algo))


def _as_here(config: Config, own: RepositoryAlgorithm, algo: str) -> str:
    """', and SETTING' where dvx here hashes with another `algo` than the repository's."""
    if algo == own.algo:
        return ", as dvx hashes here"
    return f", and {setting_named(config, algo)}"


def staged_otherwise(config: Config, recorded: dict[str, list[str]], staged: set[str]
                     ) -> tuple[RepositoryAlgorithm, list[str]]:
    """The pointer files among `staged` (the commit being made adds or changes them) that
    record another algorithm than the repository's data has without them, and that
    algorithm; none where it has no other data (the commit chooses the algorithm then)."""
    before = {algo: kept for algo, files in recorded.items()
              if (kept := [f for f in files if f not in staged])}
    own = repository_algorithm(config, before)
    if not own.recorded:
        return own, []
    return own, sorted(f for algo, files in recorded.items() if algo != own.algo
                       for f in files if f in staged and f != LOCK_FILE)


COMMITTED_CONFIG = ".dvx/config"
_MAX_CONFIG_BYTES = 1 << 20  # a tracked .dvx/config larger than this is no config


@dataclass(frozen=True)
class ClonesAlgorithm:
    """The algorithm every clone of a commit hashes with: the core.hash its .dvx/config sets,
    else the default, as a clone reads no one's own config."""
    algo: str
    setting: str | None  # the core.hash its .dvx/config sets; None: none, the default
    has_config: bool  # the commit has a .dvx/config

    @property
    def why(self) -> str:
        """Why, as a clause: "its .dvx/config sets core.hash to sha256"."""
        if self.setting is not None:
            return f"its {COMMITTED_CONFIG} sets core.hash to {self.setting}"
        if self.has_config:
            return f"its {COMMITTED_CONFIG} sets no core.hash, leaving the default, " \
                f"{self.algo}"
        return f"it has no {COMMITTED_CONFIG}, leaving the default, {self.algo}"


def _clones_algorithm(data: bytes | None, named: str) -> ClonesAlgorithm:
    setting = _committed_hash(data, named)
    return ClonesAlgorithm(setting or DEFAULT_ALGO, setting, data is not None)


def staged_algorithm(git: Git) -> ClonesAlgorithm | None:
    """What every clone of the commit being made hashes with, as Git's index holds its
    .dvx/config; None where a merge left that file in conflict (the commit cannot be made
    until it is resolved)."""
    entry = git.index_entries([COMMITTED_CONFIG]).get(COMMITTED_CONFIG)
    if entry is None and git.ls_files("--unmerged", "--", COMMITTED_CONFIG):
        return None
    data = None if entry is None else git.small_blob(entry[1], _MAX_CONFIG_BYTES)
    return _clones_algorithm(data, f"'{COMMITTED_CONFIG}' of Git's index")


@dataclass(frozen=True)
class CommittedSwitch:
    """A commit after which clones hash with `now.algo` where HEAD's hashed with `before`
    (its .dvx/config sets another core.hash, or none, or is gone), while tracked data
    records another algorithm: every clone would skip `files`, whose data none could pull
    or check out any more."""
    now: ClonesAlgorithm
    before: ClonesAlgorithm
    files: list[str]  # pointer files and dvx.lock of the index, recording another algorithm


def committed_switch(git: Git, now: ClonesAlgorithm | None, recorded: dict[str, list[str]]
                     ) -> CommittedSwitch | None:
    """The switch of algorithm the commit being made would share with every clone (`now`,
    its `staged_algorithm`: they would hash with another than HEAD's clones do) while the
    tracked data (`recorded`, as the index holds it too) records another: a switch takes
    adding all that data again. None where the commit changes no algorithm clones hash
    with, or all the data records the one they would."""
    head = git.head()
    if now is None or head is None:  # a first commit switches nothing
        return None
    before = _clones_algorithm(git.blob_at(head, COMMITTED_CONFIG, _MAX_CONFIG_BYTES),
                               f"'{COMMITTED_CONFIG}' of HEAD")
    if now.algo == before.algo:
        return None
    files = sorted(f for other, found in recorded.items() if other != now.algo for f in found)
    return CommittedSwitch(now, before, files) if files else None


@dataclass(frozen=True)
class UnsharedAlgorithm:
    """A commit adding data recorded with `algo` (by a dvx whose own config chose it), the
    algorithm the rest of the repository's data has too, or its first data, while every
    clone hashes with another (`clones`): the choice is the user's alone until the
    repository's .dvx/config sets it, and every clone would skip `files`."""
    algo: str
    clones: ClonesAlgorithm
    files: list[str]  # the pointer files and dvx.lock the commit adds or changes


def unshared_algorithm(clones: ClonesAlgorithm | None, recorded: dict[str, list[str]],
                       staged: set[str]) -> UnsharedAlgorithm | None:
    """The data among `staged` (files the commit being made adds or changes) recording
    another algorithm than every clone of the commit would hash with; None where there is
    none. The caller has named first the staged pointers of another algorithm than the rest
    of the data (`staged_otherwise`): what is left records the data's own algorithm, which
    the commit should share. `clones`: the commit's `staged_algorithm`."""
    if clones is None:
        return None
    others = {algo: found for algo, files in recorded.items() if algo != clones.algo
              if (found := [f for f in files if f in staged])}
    if not others:
        return None
    algo = max(others, key=lambda a: len(others[a]))
    return UnsharedAlgorithm(algo, clones, sorted(f for found in others.values() for f in found))


def _committed_hash(data: bytes | None, named: str) -> str | None:
    """The algorithm core.hash names in a committed .dvx/config's content; None where it
    names none (a value naming no algorithm is refused by every command reading it)."""
    if data is None:
        return None
    config_file = ConfigFile.parse(data, named, f"Fix {named}, then commit again.")
    value = config_file.get("core", "hash")
    return value if value in ALGORITHMS else None
