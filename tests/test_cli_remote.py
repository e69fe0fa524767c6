import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import xxhash

from dvx.config import global_config_path
from dvx.errors import RemoteError
from dvx.remote.backends import seconds_option
from dvx.repo import Repo
from tests.conftest import (
    git,
    make_git_repo,
    run_dvx,
    run_dvx_proc,
    stopped_at,
    tree_bytes,
    write,
)
from tests.remotes import clone, commit_all, configure, local_spec, pointer_oid, remote_for


def _objects(store):
    """The loose objects of a directory remote: {oid: path}."""
    return {p.parent.name + p.name: p for p in (store / "files" / "xxh128").glob("*/*")
            if not p.name.startswith(".")}


def _add_directory_remote(dvx, store, packs: bool = False) -> None:
    """A default directory remote whose objects are each stored alone (no packs), for the
    tests that damage or delete one object file; packs have their own (test_packs.py). With
    `packs`, the remote packs small objects as by default."""
    assert dvx("remote", "add", "-d", "store", str(store)).code == 0
    if not packs:
        assert dvx("remote", "modify", "store", "pack_threshold", "0").code == 0


def _dataset(repo):
    files = {f"images/{i:03d}.png": os.urandom(1000 + i) for i in range(30)}
    files["images/sub/dup.png"] = files["images/000.png"]
    files["labels.csv"] = b"a,b\n"
    for rel, content in files.items():
        write(repo / "data" / rel, content)
    write(repo / "model.bin", os.urandom(2_000_000))


def test_remote_commands(repo, dvx, tmp_path):
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "s")).code == 0
    assert dvx("remote", "add", "other", "file:///srv/x").code == 0
    dup = dvx("remote", "add", "store", "/x")
    assert dup.code != 0 and "already exists" in dup.stderr
    listed = json.loads(dvx("remote", "list", "--json").stdout)
    assert [(r["name"], r["default"]) for r in listed] == [("store", True), ("other", False)]
    assert dvx("remote", "default").stdout.strip() == "store"
    assert dvx("remote", "rename", "store", "main").code == 0
    assert dvx("remote", "default").stdout.strip() == "main"
    assert dvx("remote", "modify", "main", "jobs", "3").code == 0
    bad = dvx("remote", "modify", "main", "colour", "red")
    assert bad.code != 0 and "no option 'colour'" in bad.stderr
    assert dvx("remote", "remove", "main").code == 0
    assert dvx("remote", "default").code != 0
    assert [r["name"] for r in json.loads(dvx("remote", "list", "--json").stdout)] == ["other"]


def test_remote_default_unset_acts_on_one_level_and_names_the_one_that_sets_it(
        repo, dvx, tmp_path):
    """As in DVC, --local/--project/--global pick the level, the project config without one;
    a default left in effect at another level is never passed over in silence."""
    assert dvx("remote", "add", "--local", "-d", "mine", str(tmp_path / "s")).code == 0
    refused = dvx("remote", "default", "--unset")
    assert refused.code == 2, refused.output
    assert refused.stderr == (
        "ERROR: The default remote is not set in the project config; the local config sets it "
        "('mine'). Unset it there with `dvx remote default --unset --local`.\n")
    assert dvx("remote", "default").stdout.strip() == "mine"
    assert dvx("remote", "add", "-d", "shared", str(tmp_path / "t")).code == 0
    assert "default remote 'mine' is the one in effect" in dvx(
        "remote", "default", "shared").stderr
    unset = dvx("remote", "default", "--unset", "--local")
    assert unset.code == 0 and "default remote 'shared' is the one in effect" in unset.stderr
    assert dvx("remote", "default").stdout.strip() == "shared"
    assert dvx("remote", "default", "--unset").code == 0
    assert dvx("remote", "default").code != 0
    assert dvx("remote", "default", "--unset").code == 0  # no default anywhere: nothing to do


def test_remote_default_with_a_level_shows_that_level_s_own_default(repo, dvx, tmp_path):
    """As `dvx config --LEVEL core.remote` does: with a level, the default that level's config
    sets, not the one in effect from another level; none set there is said so."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "s")).code == 0
    assert dvx("remote", "add", "--local", "-d", "mine", str(tmp_path / "m")).code == 0
    assert dvx("remote", "default").stdout == "mine\n"
    assert dvx("remote", "default", "--local").stdout == "mine\n"
    assert dvx("remote", "default", "--project").stdout == "storage\n"
    none = dvx("remote", "default", "--global")
    assert (none.code, none.stdout) == (2, "")
    assert none.stderr == ("ERROR: No default remote is set in the global config. Set one with "
                           "`dvx remote default --global NAME`.\n")


def test_remote_modify_refuses_a_level_that_does_not_define_the_remote(repo, dvx, tmp_path):
    """An option alone in the tracked config would give every teammate a remote without a
    URL; a secret still goes to config.local, beside the remote it belongs to."""
    assert dvx("remote", "add", "--local", "near", str(tmp_path / "s")).code == 0
    tracked = (repo / ".dvx" / "config").read_text()
    refused = dvx("remote", "modify", "near", "jobs", "8")
    assert refused.code == 2, refused.output
    assert refused.stderr == (
        "ERROR: Remote 'near' is defined in the local config, not in the project config. "
        "Change it there with `dvx remote modify --local near jobs VALUE`.\n")
    assert (repo / ".dvx" / "config").read_text() == tracked
    assert dvx("remote", "modify", "--local", "near", "jobs", "8").code == 0
    assert dvx("remote", "add", "--local", "web", "http://127.0.0.1:9/store").code == 0
    assert dvx("remote", "modify", "web", "password", "pw").code == 0
    assert dvx("remote", "add", "shared", str(tmp_path / "t")).code == 0
    assert dvx("remote", "modify", "--local", "shared", "jobs", "2").code == 0  # overrides
    assert (repo / ".dvx" / "config").read_text().count("[remote") == 1
    assert dvx("remote", "modify", "--local", "near", "--unset", "jobs").code == 0


_LEVEL_FILES = {"global": None, "project": ".dvx/config", "local": ".dvx/config.local"}


def _config_files(repo) -> dict[str, Path]:
    return {level: Path(global_config_path()) if rel is None else repo / rel
            for level, rel in _LEVEL_FILES.items()}


# Every combination of the levels setting an option of a remote that the global config and
# the project config both define (your credentials beside the team's remote of that name).
@pytest.mark.parametrize("key", ["profile", "secret_access_key"])
@pytest.mark.parametrize("holders", [
    ("global",), ("project",), ("local",), ("global", "project"), ("global", "local"),
    ("project", "local"), ("global", "project", "local")])
def test_remote_modify_unset_acts_on_one_level_and_names_the_ones_that_set_it(
        repo, dvx, key, holders):
    """As `dvx config --unset` and DVC: --unset removes the option at the level given or,
    without one, where `remote modify` writes it (config.local for a secret), and nowhere
    else: your global config's credentials, which every repository uses, stay. Where that
    level lacks it, the refusal names the levels that set it and the flag to use."""
    files = _config_files(repo)

    def write_levels() -> dict[str, str]:
        for level, path in files.items():
            url = "" if level == "local" else "url = s3://bucket/data\n"
            option = f"{key} = {level}-value\n" if level in holders else ""
            write(path, f'[remote "storage"]\n{url}{option}')
        return {level: path.read_text() for level, path in files.items()}

    default = "local" if key == "secret_access_key" else "project"
    for level in (None, "global", "project", "local"):
        before = write_levels()
        flag = [] if level is None else [f"--{level}"]
        unset = dvx("remote", "modify", *flag, "storage", key, "--unset")
        chosen = level or default
        after = {lv: path.read_text() for lv, path in files.items()}
        if chosen in holders:
            assert unset.code == 0, (level, unset.output)
            assert f"{key} = {chosen}-value" not in after[chosen]
            assert {lv: text for lv, text in after.items() if lv != chosen} == {
                lv: text for lv, text in before.items() if lv != chosen}, level
            continue
        assert unset.code == 2, (level, unset.output)
        assert after == before, level
        setting = [lv for lv in ("local", "project", "global") if lv in holders]
        configs = " and ".join(setting) + (" configs set" if len(setting) > 1
                                            else " config sets")
        others = "".join(f" (or --{lv})" for lv in setting[1:])
        assert unset.stderr == (
            f"ERROR: Remote 'storage' has no option '{key}' in the {chosen} config; the "
            f"{configs} it. Unset it there with `dvx remote modify --{setting[0]} storage "
            f"{key} --unset`{others}.\n"), level


def test_remote_modify_unset_of_a_trust_setting_goes_where_modify_wrote_it(repo, dvx):
    """`ssl_verify false` went to config.local and `ssl_verify true` to the tracked config:
    --unset without a level takes the first back, then the second; `dvx config --unset
    remote.NAME.KEY` acts on one level alike."""
    assert dvx("remote", "add", "--global", "storage", "s3://bucket/data").code == 0
    assert dvx("remote", "modify", "--global", "storage", "ssl_verify", "false").code == 0
    assert dvx("remote", "add", "storage", "s3://bucket/data").code == 0
    assert dvx("remote", "modify", "--project", "storage", "ssl_verify", "true").code == 0
    assert dvx("remote", "modify", "storage", "ssl_verify", "false").code == 0
    files = _config_files(repo)
    assert "ssl_verify = false" in files["local"].read_text()
    assert dvx("remote", "modify", "storage", "ssl_verify", "--unset").code == 0
    assert "ssl_verify" not in files["local"].read_text()
    assert "ssl_verify = true" in files["project"].read_text()
    assert dvx("config", "--unset", "remote.storage.ssl_verify").code == 0
    assert "ssl_verify" not in files["project"].read_text()
    refused = dvx("remote", "modify", "storage", "ssl_verify", "--unset")
    assert refused.code == 2 and "`dvx remote modify --global storage ssl_verify --unset`" in (
        refused.stderr), refused.output
    assert "ssl_verify = false" in files["global"].read_text()


def test_remote_modify_takes_u_anywhere_for_unset_and_refuses_other_options_as_values(
        repo, dvx, tmp_path):
    """-u is --unset, as in DVC, wherever it is given; an option the command lacks is refused
    by name, never stored as the VALUE; a negative number is still a VALUE."""
    assert dvx("remote", "add", "-d", "s3r", "s3://bucket/path").code == 0
    for key in ("region", "profile", "jobs"):
        assert dvx("remote", "modify", "s3r", key, "1").code == 0
    assert dvx("remote", "modify", "s3r", "region", "-u").code == 0
    assert dvx("remote", "modify", "-u", "s3r", "profile").code == 0
    config = (repo / ".dvx" / "config").read_text()
    assert "region" not in config and "profile" not in config and "jobs = 1" in config
    for word in ("--system", "-x"):
        refused = dvx("remote", "modify", "s3r", "jobs", word)
        assert refused.code == 2 and f"No such option '{word}'" in refused.stderr, refused.output
    negative = dvx("remote", "modify", "s3r", "jobs", "-5")
    assert negative.code == 2 and "Invalid value '-5'" in negative.stderr, negative.output
    assert (repo / ".dvx" / "config").read_text() == config
    assert dvx("remote", "default", "-u").code == 0
    assert "remote = s3r" not in (repo / ".dvx" / "config").read_text()


def test_remote_modify_refuses_a_value_with_unset_as_dvx_config_does(repo, dvx):
    """`remote modify NAME KEY VALUE -u` would remove KEY and drop VALUE: refused with the
    words `dvx config KEY VALUE -u` refuses it with, nothing changed."""
    assert dvx("remote", "add", "-d", "storage", "ssh://host.example/data").code == 0
    assert dvx("remote", "modify", "storage", "user", "alice").code == 0
    assert dvx("remote", "modify", "--local", "storage", "password", "old-pw").code == 0
    files = {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")}
    for args, sets in ((("storage", "user", "-u", "bob"),
                        "`dvx remote modify storage user VALUE` sets it instead."),
                       (("--local", "storage", "password", "new-pw", "--unset"),
                        "`dvx remote modify --local storage password VALUE` sets it instead.")):
        refused = dvx("remote", "modify", *args)
        assert refused.code == 2, (args, refused.output)
        assert refused.stderr == f"ERROR: -u (--unset) removes KEY: give it no VALUE. {sets}\n"
    config = dvx("config", "remote.storage.user", "bob", "-u")
    assert config.code == 2 and "-u (--unset) removes KEY: give it no VALUE." in config.stderr
    assert {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")} == files


def test_unsetting_a_remote_s_url_never_leaves_the_tracked_config_or_any_level_without_one(
        repo, dvx, tmp_path):
    """`remote modify NAME url --unset` would leave the tracked config a remote without a URL
    (or, url its only option, a default naming no remote): refused, pointing to `remote
    remove`; at another level, refused where no level would still give a URL, and allowed
    where it only drops an override."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "one", str(store)).code == 0
    assert dvx("remote", "modify", "one", "jobs", "4").code == 0
    assert dvx("remote", "add", "-d", "--local", "mine", str(store)).code == 0
    files = {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")}
    tracked = dvx("remote", "modify", "one", "url", "--unset")
    assert tracked.code == 2, tracked.output
    assert tracked.stderr == (
        "ERROR: Without 'url', the tracked config (.dvx/config) would no longer say where "
        "remote 'one' is, and every clone reads it from there. Remove the remote with `dvx "
        "remote remove one`, or give it another URL with `dvx remote modify one url URL`.\n")
    assert dvx("config", "--unset", "remote.one.url").code == 2
    local = dvx("remote", "modify", "--local", "mine", "url", "-u")
    assert local.code == 2 and "`dvx remote remove --local mine`" in local.stderr, local.output
    assert {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")} == files
    assert dvx("remote", "modify", "--local", "one", "url", str(tmp_path / "near")).code == 0
    assert dvx("remote", "modify", "--local", "one", "url", "--unset").code == 0
    assert dvx("config", "remote.one.url").stdout.strip() == str(store)


def test_a_refused_unset_leaves_the_config_in_memory_as_it_was(repo, dvx, tmp_path):
    """The Python API's caller keeps its Repo after `modify_remote` refuses an unset: its
    config still gives the remote the URL and the options the files give."""
    from dvx.errors import ConfigError
    from dvx.ops.remote import modify_remote

    assert dvx("remote", "add", "-d", "one", str(tmp_path / "store")).code == 0
    assert dvx("remote", "modify", "one", "pack_size", str(64 << 20)).code == 0
    assert dvx("remote", "modify", "one", "pack_threshold", str(32 << 20)).code == 0
    api = Repo(str(repo))
    before = api.config.remote_options("one")
    for key in ("url", "pack_size"):
        with pytest.raises(ConfigError):
            modify_remote(api, "one", key, None, None)
        assert api.config.remote_options("one") == before, key
    assert Repo(str(repo)).config.remote_options("one") == before


def test_remote_remove_and_rename_act_on_one_level_and_name_the_ones_that_define_it(
        repo, dvx, tmp_path):
    """As in DVC: the level given (the project config without one), refused where it does
    not define the remote; its default there follows, and so do the options another level
    only overrides."""
    assert dvx("remote", "add", "-d", "shared", str(tmp_path / "s")).code == 0
    assert dvx("remote", "modify", "--local", "shared", "jobs", "2").code == 0  # overrides
    assert dvx("remote", "add", "--local", "near", str(tmp_path / "n")).code == 0
    local = (repo / ".dvx" / "config.local").read_text()
    refused = dvx("remote", "remove", "near")
    assert refused.code == 2, refused.output
    assert refused.stderr == (
        "ERROR: Remote 'near' is defined in the local config, not in the project config. "
        "Remove it there with `dvx remote remove --local near`.\n")
    refused = dvx("remote", "rename", "near", "far")
    assert refused.code == 2 and "`dvx remote rename --local near far`" in refused.stderr
    assert (repo / ".dvx" / "config.local").read_text() == local
    renamed = dvx("remote", "rename", "shared", "main")
    assert renamed.code == 0 and renamed.stderr == "", renamed.output
    listed = {r["name"]: r for r in json.loads(dvx("remote", "list", "--json").stdout)}
    assert sorted(listed) == ["main", "near"] and listed["main"]["default"]
    assert "jobs = 2" in (repo / ".dvx" / "config.local").read_text().split('"main"]')[1]
    assert dvx("remote", "rename", "--local", "near", "far").code == 0
    removed = dvx("remote", "remove", "--local", "far")
    assert removed.code == 0 and "from the local config" in removed.stdout
    # The same name at two levels: the project's goes, with the default there; the local one
    # stays, and so does the local default naming it.
    assert dvx("remote", "add", "--local", "mine", str(tmp_path / "m")).code == 0
    with open(repo / ".dvx" / "config", "a", encoding="utf-8") as f:
        f.write(f'[remote "mine"]\nurl = {tmp_path / "p"}\n')
    assert dvx("remote", "default", "mine").code == 0
    assert dvx("remote", "default", "--local", "mine").code == 0
    removed = dvx("remote", "remove", "mine")
    assert removed.code == 0, removed.output
    assert "The local config still defines a remote 'mine'" in removed.stderr
    project = (repo / ".dvx" / "config").read_text()
    assert "mine" not in project and '[remote "main"]' in project
    assert dvx("remote", "default").stdout.strip() == "mine"
    # The user's own config, named with --global.
    assert dvx("remote", "add", "--global", "g", str(tmp_path / "g")).code == 0
    assert dvx("remote", "default", "--global", "g").code == 0
    refused = dvx("remote", "remove", "g")
    assert refused.code == 2 and "defined in the global config" in refused.stderr
    assert dvx("remote", "rename", "--global", "g", "home").code == 0
    assert "remote = home" in Path(global_config_path()).read_text()
    assert dvx("remote", "remove", "--global", "home").code == 0
    assert "home" not in Path(global_config_path()).read_text()  # default too
    assert "home" not in [r["name"] for r in json.loads(dvx("remote", "list", "--json").stdout)]


def test_local_options_and_default_a_teammate_s_rename_left_behind_are_named_with_the_fix(
        repo, dvx, tmp_path):
    """A teammate renamed 'cloud' to 'archive' in the tracked config (this clone's `git pull`
    brought it): this clone's config.local override of 'cloud' (jobs) and its local default
    'cloud' name no remote. Listed at the local level, they are named, with the way out
    (the hint the error gave before, `dvx remote modify cloud url`, was refused)."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "cloud", str(store)).code == 0
    assert dvx("remote", "modify", "--local", "cloud", "jobs", "3").code == 0
    assert dvx("remote", "default", "--local", "cloud").code == 0
    config = repo / ".dvx" / "config"
    config.write_text(config.read_text().replace('"cloud"', '"archive"')
                      .replace("remote = cloud", "remote = archive"))

    listed = json.loads(dvx("remote", "list", "--json").stdout)
    assert {"name": "cloud", "url": "", "default": True, "level": "local"} in listed
    shown = dvx("remote", "list")
    assert "cloud\t(no URL)\t(default)" in shown.stdout, shown.stdout
    assert ("Remote 'cloud' has no URL: only the local config (.dvx/config.local) sets "
            "options of it (jobs)") in shown.stderr, shown.stderr
    named = dvx("push", "-r", "cloud")
    assert named.code == 1 and "`dvx remote remove --local cloud`" in named.stderr
    assert "`dvx remote modify cloud url" not in named.stderr  # refused at that level
    assert dvx("remote", "remove", "--local", "cloud").code == 0  # the fix it names

    assert dvx("remote", "default", "--local", "archive").code == 0
    config.write_text(config.read_text().replace('"archive"', '"fast"')
                      .replace("remote = archive", "remote = fast"))  # a second rename
    gone = dvx("push")
    assert gone.code == 1, gone.output
    assert ("There is no remote named 'archive', the default remote that the local config "
            "(.dvx/config.local) sets") in gone.stderr, gone.stderr
    assert ("`dvx remote default --unset --local` (the project config's default, 'fast', "
            "then applies)") in gone.stderr
    assert "the default remote that the local config" in dvx("remote", "default").stderr
    assert dvx("remote", "default", "--unset", "--local").code == 0
    assert dvx("push").code == 0


def test_relative_remote_path_is_stored_relative_to_repo_root(repo, dvx):
    (repo / "sub").mkdir()
    assert dvx("remote", "add", "s", "../../store", cwd=repo / "sub").code == 0
    assert "url = ../store" in (repo / ".dvx" / "config").read_text()


def test_a_relative_path_for_the_global_config_is_stored_absolute_for_every_repository(
        repo, dvx, tmp_path):
    """Every repository reads the global config: a relative path stored there would be taken
    from each one's root, and each project would push to another folder. It is the folder
    typed, from the current directory, wherever it is used."""
    assert dvx("remote", "add", "--global", "-d", "backup", "../backup-store").code == 0
    assert f"url = {tmp_path / 'backup-store'}\n" in Path(global_config_path()).read_text()
    other = make_git_repo(tmp_path / "team" / "other")
    assert dvx("init", cwd=other).code == 0
    write(other / "b.txt", "b")
    assert dvx("add", "b.txt", cwd=other).code == 0
    pushed = dvx("push", cwd=other)
    assert pushed.code == 0, pushed.output
    assert any((tmp_path / "backup-store").iterdir())
    assert not (tmp_path / "team" / "backup-store").exists()
    assert dvx("remote", "modify", "--global", "backup", "url", "../b2", cwd=other).code == 0
    assert f"url = {tmp_path / 'team' / 'b2'}\n" in Path(global_config_path()).read_text()
    outside = tmp_path / "plain"
    outside.mkdir()
    assert dvx("remote", "add", "--global", "mine", "store", cwd=outside).code == 0
    assert f"url = {outside / 'store'}\n" in Path(global_config_path()).read_text()


def test_a_relative_path_already_in_the_global_config_is_refused_with_the_fix(
        repo, dvx, tmp_path):
    """Written by hand, or by a dvx that stored it as typed: no repository pushes to a folder
    of its own under it; each says so, and `remote list` warns."""
    write(Path(global_config_path()), '[remote "backup"]\nurl = ../backup-store\n'
          "[core]\nremote = backup\n")
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    refused = dvx("push")
    message = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert ("Remote 'backup' has the relative path '../backup-store' as its URL in the global "
            "config") in message
    assert f"(from this repository: '{tmp_path / 'backup-store'}')" in message
    assert "`dvx remote modify --global backup url PATH`" in message
    assert not (tmp_path / "backup-store").exists()
    listed = dvx("remote", "list")
    assert listed.code == 0 and "WARNING: Remote 'backup' has the relative path" in listed.stderr
    assert dvx("remote", "modify", "--global", "backup", "url", "../backup-store").code == 0
    assert dvx("push").code == 0
    assert any((tmp_path / "backup-store").iterdir())


def test_remote_add_refuses_a_name_only_at_the_level_written_and_notes_the_other(
        repo, dvx, tmp_path):
    """As in DVC: your global remote of a project remote's name (for your credentials) is
    added, and so is a project's remote named as your global one; a note says which URL is
    in effect. --force replaces only at the level written, and so the refusal says."""
    assert dvx("remote", "add", "-d", "storage", "s3://team/proj").code == 0
    tracked = (repo / ".dvx" / "config").read_text()
    added = dvx("remote", "add", "--global", "storage", "s3://team/proj")
    assert added.code == 0, added.output
    assert ("Note: the project config (s3://team/proj) also defines a remote 'storage'; its "
            "URL is the one in effect in this repository") in " ".join(added.stderr.split())
    assert (repo / ".dvx" / "config").read_text() == tracked
    assert '[remote "storage"]' in Path(global_config_path()).read_text()
    again = dvx("remote", "add", "--global", "storage", "s3://team/other")
    assert again.code == 2 and again.stderr == (
        "ERROR: A remote named 'storage' already exists in the global config. Use --force to "
        "replace it there, or `dvx remote modify --global storage KEY VALUE` to change it.\n")
    assert dvx("remote", "add", "--global", "--force", "storage", "s3://team/other").code == 0
    assert "s3://team/other" in Path(global_config_path()).read_text()

    new = make_git_repo(tmp_path / "new")
    assert dvx("init", cwd=new).code == 0
    quickstart = dvx("remote", "add", "-d", "storage", str(tmp_path / "store"), cwd=new)
    assert quickstart.code == 0, quickstart.output
    assert ("Note: the global config (s3://team/other) also defines a remote 'storage'; this "
            "one's URL is the one in effect") in " ".join(quickstart.stderr.split())
    listed = json.loads(dvx("remote", "list", "--json", cwd=new).stdout)
    assert listed == [{"name": "storage", "url": str(tmp_path / "store"), "default": True,
                       "level": "project"}]


@pytest.mark.parametrize("command", [["remote", "add", "x"],
                                     ["remote", "modify", "x", "url"]])
def test_a_file_url_naming_a_host_is_a_configuration_error(repo, dvx, tmp_path, command):
    assert dvx("remote", "add", "-d", "x", str(tmp_path / "ok")).code == 0
    if command[1] == "add":
        assert dvx("remote", "remove", "x").code == 0
    refused = dvx(*command, "file://server/share/store")
    assert refused.code == 2, refused.output
    assert "names a host; file:// URLs must be local" in refused.stderr
    assert "server" not in (repo / ".dvx" / "config").read_text()


def test_a_file_url_naming_a_host_written_by_hand_is_refused_where_it_is_used(repo, dvx):
    write(repo / ".dvx" / "config", '[remote "x"]\nurl = file://server/share/store\n'
          "[core]\nremote = x\n")
    refused = dvx("push")
    assert refused.code == 1, refused.output
    assert "Remote 'x': The URL 'file://server/share/store' names a host" in refused.stderr
    assert "Fix it with `dvx remote modify x url URL`." in refused.stderr


# What a level between says of options a more specific level sets without a URL: they stay
# with a remote that level still defines, and follow one that goes.
@pytest.mark.parametrize("verb", ["remove", "rename"])
@pytest.mark.parametrize(("chosen", "setup", "local_follows"), [
    ("global", {"global": "url", "project": "url"}, False),
    ("global", {"global": "url", "project": "options"}, True),
    ("global", {"global": "url"}, True),
    ("project", {"global": "url", "project": "url"}, True),
    ("project", {"project": "url"}, True),
])
def test_remote_remove_and_rename_leave_config_local_options_of_a_remote_still_defined(
        repo, dvx, verb, chosen, setup, local_follows):
    """`remote remove --global storage` in a clone whose project defines `storage` too, with
    its secret in config.local: the secret is the project remote's, and stays."""
    if "global" in setup:
        assert dvx("remote", "add", "--global", "storage", "s3://mine/old").code == 0
    if setup.get("project") == "url":
        assert dvx("remote", "add", "-d", "storage", "s3://team/proj").code == 0
    elif setup.get("project") == "options":
        assert dvx("remote", "modify", "storage", "jobs", "3").code == 0
    assert dvx("remote", "modify", "--local", "storage", "secret_access_key", "s3cr3t").code == 0
    local = repo / ".dvx" / "config.local"
    before = local.read_text()
    args = ["remote", verb, f"--{chosen}", "storage"] + (["old"] if verb == "rename" else [])
    done = dvx(*args)
    assert done.code == 0, done.output
    if not local_follows:
        assert local.read_text() == before
        assert "The local config's options of it stay with it." in done.stderr
        assert dvx("config", "remote.storage.secret_access_key").code == 0
        return
    assert '[remote "storage"]' not in local.read_text()
    assert ('[remote "old"]' in local.read_text()) == (verb == "rename")
    if setup.get("project") == "options":  # the project's options went along too
        assert ('[remote "storage"]' in (repo / ".dvx" / "config").read_text()) is False


def test_a_directory_remote_where_a_git_work_tree_sees_it_is_refused(repo, dvx, tmp_path):
    """In this repository's work tree or another's, `git add -A` would commit every object
    pushed: refused when added and (a cloned or hand-written config) when opened, unless Git
    ignores that folder there."""
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    for url in ("storage", str(other / "store")):
        refused = dvx("remote", "add", "-d", "store", url)
        assert refused.code == 2 and "where Git would see every object" in refused.stderr
        assert "store" not in (repo / ".dvx" / "config").read_text()
    assert "a line `/storage/` in" in refused.stderr or "`/store/`" in refused.stderr
    write(repo / "x.bin", "x")
    assert dvx("add", "x.bin").code == 0
    with open(repo / ".dvx" / "config", "a") as f:
        f.write('[remote "cloned"]\nurl = storage\n')
    opened = dvx("push", "-r", "cloned")
    assert opened.code == 2 and "dvx remote modify cloned url DIR" in opened.stderr
    assert not (repo / "storage").exists()

    write(repo / ".gitignore", "/storage/\n")
    assert dvx("remote", "add", "-d", "store", "storage").code == 0
    assert dvx("push").code == 0 and any((repo / "storage").rglob("*"))
    assert git(repo, "status", "--porcelain", "--untracked-files=all", "storage") == ""


def test_a_directory_remote_inside_data_dvx_tracks_or_a_stage_output_is_refused(repo, dvx):
    """Git ignores what dvx tracks, so the check above lets such a folder by: a push would
    write into the data, status call the remote changes of it, and `checkout --force` (or the
    stage, which deletes its outputs first) delete it. Refused when added and when opened."""
    write(repo / "d" / "f1", "f1\n")
    assert dvx("add", "d").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p out && echo x > out/x\n"
                             "    outs: [out]\n")
    assert dvx("repro").code == 0
    for url, what in (("d/store", "data dvx tracks (d.dvx)"), ("d", "data dvx tracks"),
                      ("out/store", "an output of the pipeline stage 's'")):
        refused = dvx("remote", "add", "-d", "store", url)
        assert refused.code == 2 and what in refused.stderr, refused.output
        assert "store" not in (repo / ".dvx" / "config").read_text()
    with open(repo / ".dvx" / "config", "a") as f:  # by hand, or cloned
        f.write('[remote "cloned"]\nurl = d/store\n')
    for command in (("push", "-r", "cloned"), ("gc", "-w", "-c", "cloned", "-f")):
        opened = dvx(*command)
        assert opened.code == 2 and "data dvx tracks (d.dvx)" in opened.stderr, opened.output
        assert "dvx remote modify cloned url DIR" in opened.stderr
    assert not (repo / "d" / "store").exists()
    assert dvx("status", "-q").code == 0


def test_data_or_a_stage_output_holding_a_directory_remote_is_refused(repo, dvx):
    """The other side of the check above: a remote added while its folder was not tracked,
    which `dvx add`, `dvx stage add` or a dvx.yaml output then takes in. Refused before
    anything changes: the stage would delete every object pushed, and add record them."""
    write(repo / ".gitignore", "/build/\n")
    write(repo / "d" / "f1", "f1\n")
    assert dvx("add", "d").code == 0
    assert dvx("remote", "add", "-d", "store", "build/store").code == 0
    assert dvx("push").code == 0
    pushed = sorted((repo / "build" / "store").rglob("*"))
    assert pushed
    for target in ("build", "build/store"):
        refused = dvx("add", target)
        assert refused.code == 2, refused.output
        assert "remote 'store' (build/store)" in refused.stderr
        assert "dvx remote modify store url DIR" in refused.stderr
        assert not (repo / f"{target}.dvx").exists()
    refused = dvx("stage", "add", "-n", "b", "-o", "build", "touch build/o")
    assert refused.code == 2 and "an output of the pipeline stage 'b'" in refused.stderr
    assert not (repo / "dvx.yaml").exists()
    write(repo / "dvx.yaml", "stages:\n  b:\n    cmd: mkdir -p build && echo o > build/o\n"
                             "    outs: [build]\n")
    refused = dvx("repro")
    assert refused.code == 2, refused.output
    assert "remote 'store' (build/store)" in refused.stderr and "nothing was" in refused.stderr
    assert sorted((repo / "build" / "store").rglob("*")) == pushed
    assert not (repo / "dvx.lock").exists() and not (repo / "build" / "o").exists()


def test_a_local_directory_remote_in_data_to_add_is_named_with_the_flag_that_moves_it(
        repo, dvx, tmp_path):
    """A remote only .dvx/config.local defines is changed with --local: the hint says so,
    as `remote modify` without it refuses that remote."""
    write(repo / ".gitignore", "/build/\n")
    assert dvx("remote", "add", "--local", "store", "build/store").code == 0
    write(repo / "build" / "f", "f\n")
    refused = dvx("add", "build")
    assert refused.code == 2, refused.output
    assert "(`dvx remote modify --local store url DIR`)" in refused.stderr
    assert dvx("remote", "modify", "--local", "store", "url", str(tmp_path / "s")).code == 0
    assert dvx("add", "build").code == 0


def test_a_remote_in_a_work_tree_git_will_not_read_names_why_with_git_s_advice(
        repo, dvx_proc, tmp_path):
    """Another user's repository that Git does not trust: Git refuses to say whether it
    ignores the folder, and the refusal says that (with Git's safe.directory advice), not
    that the folder is not ignored."""
    shared = tmp_path / "shared"
    git(tmp_path, "init", "-q", str(shared))
    write(shared / ".gitignore", "/store/\n")
    refused = dvx_proc("remote", "add", "r", str(shared / "store"), cwd=repo,
                       env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert refused.code == 2 and "cannot tell whether Git ignores" in refused.stderr
    assert "safe.directory" in refused.stderr and "would see every object" not in refused.stderr


def test_push_and_pull_name_commit_for_data_the_cache_lost_and_the_workspace_holds(repo, dvx,
                                                                                  tmp_path):
    """v2 committed, never pushed, then `rm -rf .dvx/cache`: no teammate is to blame, and
    `dvx commit PATH` (not a pull) gets the data back into the cache for the push."""
    _add_directory_remote(dvx, tmp_path / "store")
    write(repo / "data.csv", "a,b\n1,2\n")
    assert dvx("add", "data.csv").code == 0 and dvx("push").code == 0
    write(repo / "data.csv", "a,b\n1,2\n3,4\n")
    assert dvx("add", "data.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    shutil.rmtree(repo / ".dvx" / "cache")
    for verb in ("push", "pull"):
        result = dvx(verb)
        assert result.code == 1
        assert "the workspace still holds it unchanged: `dvx commit data.csv` stores it in " \
            "the cache again" in result.stderr, result.output
        assert "without running `dvx push`" not in result.stderr
    pushed = dvx("push", "--json")
    assert json.loads(pushed.stdout)["never_pushed"][0]["only_in_workspace"] is True
    assert dvx("commit", "data.csv").code == 0 and dvx("push").code == 0


def test_the_commit_advised_for_more_lost_files_than_named_stores_them_all(repo, dvx, tmp_path):
    """Five files the cache lost and the workspace holds, three named: naming just those
    three would leave a failing push, so the advice is a `dvx commit` of everything."""
    _add_directory_remote(dvx, tmp_path / "store")
    names = [f"f{i}" for i in range(1, 6)]
    for name in names:
        write(repo / name, name * 2)
    assert dvx("add", *names).code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    pushed = dvx("push")
    assert pushed.code == 1
    assert "the workspace still holds it unchanged: `dvx commit`, with no path, stores it " \
        "in the cache again, with all else the workspace holds that the cache lost (2 more " \
        "files than named here record data the remote does not have)" in pushed.stderr, \
        pushed.output
    assert dvx("commit").code == 0  # as advised
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output


def test_push_clone_pull_gives_identical_bytes(repo, dvx, tmp_path):
    _dataset(repo)
    store = tmp_path / "store"
    dvx("add", "data", "model.bin")
    dvx("remote", "add", "-d", "store", str(store))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    pushed = dvx("push", "--json")
    assert pushed.code == 0, pushed.output
    summary = json.loads(pushed.stdout)
    # 31 distinct files of data/, its manifest, and model.bin
    assert summary["failed"] == [] and summary["transferred"] == 33
    again = json.loads(dvx("push", "--json").stdout)
    assert again["transferred"] == 0 and again["already_there"] == 33
    stored = local_spec(store, str(store), {})
    assert len(stored.oids()) == 33
    for oid in stored.oids():
        assert xxhash.xxh3_128_hexdigest(stored.read_raw(oid)) == oid

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    result = dvx("pull", cwd=clone)
    assert result.code == 0, result.output
    assert tree_bytes(clone / "data") == tree_bytes(repo / "data")
    assert (clone / "model.bin").read_bytes() == (repo / "model.bin").read_bytes()
    assert dvx("status", "-q", cwd=clone).code == 0


def test_directory_remote_is_served_without_fsspec(repo, dvx, dvx_proc, tmp_path):
    """A directory remote is read and written with plain os calls: a push, and a fresh
    clone's pull (whose manifest comes without a known size), never import fsspec, whose
    import (asyncio, ssl) costs more than a no-change status."""
    _dataset(repo)
    dvx("add", "data", "model.bin")
    dvx("remote", "add", "-d", "store", str(tmp_path / "store"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    imports = {"PYTHONPROFILEIMPORTTIME": "1"}
    pushed = dvx_proc("push", cwd=repo, env=imports)
    assert pushed.code == 0 and "Pushed 33 objects" in pushed.stdout, pushed.output
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = dvx_proc("pull", cwd=clone, env=imports)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(clone / "data") == tree_bytes(repo / "data")
    assert (clone / "model.bin").read_bytes() == (repo / "model.bin").read_bytes()
    for result in (pushed, pulled):
        assert "| dvx.ops.sync" in result.stderr  # the import report is there to inspect
        assert "fsspec" not in result.stderr


def test_granular_pull_of_one_file_in_a_directory(repo, dvx, tmp_path):
    _dataset(repo)
    dvx("add", "data")
    dvx("remote", "add", "-d", "store", str(tmp_path / "store"))
    dvx("push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    result = dvx("pull", "data/images/007.png", cwd=clone)
    assert result.code == 0, result.output
    assert (clone / "data/images/007.png").read_bytes() == (
        repo / "data/images/007.png").read_bytes()
    assert not (clone / "data/images/008.png").exists()
    cached = [p for p in (clone / ".dvx/cache/files").rglob("*") if p.is_file()]
    assert len(cached) == 2  # the manifest and the one file


def _damage_clone_and_pull(repo, dvx, tmp_path, store, bad_oid, lost_oid):
    """Flip the first byte of one object on the remote (same size), delete another, then pull
    into a fresh clone: both are reported, by oid and reason. Returns the clone."""
    objects = _objects(store)
    os.chmod(objects[bad_oid], 0o644)
    data = objects[bad_oid].read_bytes()
    objects[bad_oid].write_bytes(bytes([data[0] ^ 1]) + data[1:])
    os.chmod(objects[lost_oid], 0o644)
    objects[lost_oid].unlink()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    result = dvx("pull", cwd=clone)
    assert result.code == 1
    assert bad_oid in result.stderr and "corrupt" in result.stderr
    assert lost_oid in result.stderr and "not on the remote" in result.stderr
    return clone


def test_corrupt_and_missing_remote_objects_never_enter_the_cache(repo, dvx, tmp_path):
    write(repo / "good", "good content")
    write(repo / "bad", "bad content")
    write(repo / "lost", "lost content")
    store = tmp_path / "store"
    dvx("add", "good", "bad", "lost")
    _add_directory_remote(dvx, store)
    dvx("push")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    bad_oid = xxhash.xxh3_128_hexdigest(b"bad content")
    lost_oid = xxhash.xxh3_128_hexdigest(b"lost content")
    clone = _damage_clone_and_pull(repo, dvx, tmp_path, store, bad_oid, lost_oid)
    assert (clone / "good").read_text() == "good content"
    assert not (clone / "bad").exists() and not (clone / "lost").exists()
    cached = {p.parent.name + p.name for p in (clone / ".dvx/cache/files").rglob("*")
              if p.is_file()}
    assert bad_oid not in cached and lost_oid not in cached
    assert not list((clone / ".dvx/cache/tmp").glob("*"))  # no temp files left behind


def test_pull_downloads_again_a_directory_manifest_damaged_in_the_cache(repo, dvx, tmp_path):
    """A manifest damaged in the cache (one a CI job restored, say) is moved aside and
    downloaded again, not found already there and failed on at every fetch and pull."""
    write(repo / "d" / "a", "1")
    write(repo / "d" / "b", "2")
    assert dvx("add", "d").code == 0
    _add_directory_remote(dvx, tmp_path / "store")
    assert dvx("push").code == 0
    oid = next(line.split(": ")[1] for line in (repo / "d.dvx").read_text().splitlines()
               if line.startswith("oid: "))
    manifest = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    os.chmod(manifest, 0o644)
    with open(manifest, "r+b") as f:
        f.truncate(20)
    shutil.rmtree(repo / "d")
    result = dvx("pull")
    assert result.code == 0, result.output
    assert result.stdout.startswith("Fetched 1 object (")
    assert "; 2 already there; 0 failed" in result.stdout
    assert f"The directory manifest {oid} is corrupt" in result.stderr
    assert "downloading it again" in result.stderr
    assert (repo / "d" / "a").read_text() == "1" and (repo / "d" / "b").read_text() == "2"
    assert xxhash.xxh3_128_hexdigest(manifest.read_bytes()) == oid
    assert len(list((repo / ".dvx/cache/quarantine").iterdir())) == 1  # moved aside, kept
    again = dvx("fetch")
    assert again.code == 0 and "Fetched 0 objects" in again.stdout, again.output


def test_a_directory_manifest_damaged_before_any_push_is_stored_again_from_the_workspace(
        repo, dvx, tmp_path):
    """No remote has a copy of a manifest never pushed, so fetching it cannot help: `add`
    and `commit` move the damaged one aside and store a good one from the directory the
    workspace holds, as the refusals of the other commands advise."""
    write(repo / "d" / "a", "1")
    write(repo / "d" / "b", "2")
    assert dvx("add", "d").code == 0
    _add_directory_remote(dvx, tmp_path / "store")

    def damage() -> tuple[str, Path]:
        oid = next(line.split(": ")[1] for line in (repo / "d.dvx").read_text().splitlines()
                   if line.startswith("oid: "))
        manifest = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
        os.chmod(manifest, 0o644)
        manifest.write_bytes(manifest.read_bytes().replace(b'"a"', b'"z"'))
        return oid, manifest

    oid, manifest = damage()
    refused = dvx("push")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and f"The directory manifest {oid} is corrupt" in said, said
    assert "`dvx commit DIR` stores it again" in said and "`dvx fsck`" in said
    added = dvx("add", "d")
    assert added.code == 0, added.output
    assert "Moved it to" in added.stderr and "storing it again from the workspace" in added.stderr
    assert xxhash.xxh3_128_hexdigest(manifest.read_bytes()) == oid
    assert len(list((repo / ".dvx/cache/quarantine").iterdir())) == 1  # moved aside, kept
    assert dvx("push").code == 0

    oid, manifest = damage()  # and the directory changed since: compared with no manifest
    write(repo / "d" / "c", "3")
    committed = dvx("commit", "d")
    assert committed.code == 0, committed.output
    assert "storing it again from the workspace" in committed.stderr
    assert "nfiles: 3" in (repo / "d.dvx").read_text()
    pushed = dvx("push")
    assert pushed.code == 0 and "0 failed" in pushed.stdout, pushed.output


def test_a_damaged_manifest_of_a_directory_checked_out_in_part_is_not_said_to_be_stored_again(
        repo, dvx, tmp_path):
    """A directory checked out in part lacks files its manifest names, so `add` cannot store
    a good manifest from the workspace: moving the damaged one aside, it says so and names
    `dvx fetch`, never "storing it again from the workspace"; once fetched, the add works."""
    write(repo / "d" / "a", "1")
    write(repo / "d" / "b", "2")
    assert dvx("add", "d").code == 0
    _add_directory_remote(dvx, tmp_path / "store")
    assert dvx("push").code == 0
    commit_all(repo)
    other = clone(repo, tmp_path, "other")
    assert dvx("pull", "d/a", cwd=other).code == 0
    oid = pointer_oid(other / "d.dvx")
    manifest = other / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    os.chmod(manifest, 0o644)
    manifest.write_bytes(manifest.read_bytes().replace(b'"a"', b'"z"'))
    write(other / "d" / "a", "3")
    refused = dvx("add", "d", cwd=other)
    said = " ".join(refused.stderr.split())
    assert refused.code != 0 and "Traceback" not in refused.output, refused.output
    assert "Moved it to" in said and "storing it again" not in said, said
    assert ("it cannot be stored again from the workspace, which does not hold all of 'd' as "
            "it records (it was checked out in part, say): `dvx fetch` downloads it again if "
            "a remote has it.") in said, said
    assert "was checked out only in part" in said, said
    assert dvx("fetch", "d/a", cwd=other).code == 0
    assert dvx("add", "d", cwd=other).code == 0
    assert "nfiles: 2" in (other / "d.dvx").read_text()


def _pushed_and_made_writable(repo, dvx, tmp_path):
    """The cache object of a file `f` pushed to a directory remote, made writable."""
    write(repo / "f", "recorded content\n")
    assert dvx("add", "f").code == 0
    _add_directory_remote(dvx, tmp_path / "store")
    assert dvx("push").code == 0
    obj = repo / ".dvx/cache/files/xxh128" / OID_F[:2] / OID_F[2:]
    os.chmod(obj, 0o644)
    return obj


def _damaged_in_the_cache(repo, dvx, tmp_path, damage):
    """A file pushed, its object then damaged in the cache by `damage` (as in a cache a CI
    job restored) and the file gone from the workspace: what a pull then says."""
    damage(_pushed_and_made_writable(repo, dvx, tmp_path))
    (repo / "f").unlink()
    return dvx("pull")


OID_F = xxhash.xxh3_128_hexdigest(b"recorded content\n")


def test_pull_downloads_again_an_object_rewritten_in_place_with_its_size_and_times(
        repo, dvx, tmp_path):
    """As through a link to it by `cp -p`: only its ctime tells, and one pull mends it."""
    def rewritten(obj):
        before = os.stat(obj)
        with open(obj, "r+b") as f:
            f.write(b"RECORDED")
        os.utime(obj, ns=(before.st_atime_ns, before.st_mtime_ns))

    result = _damaged_in_the_cache(repo, dvx, tmp_path, rewritten)
    assert result.code == 0, result.output
    assert result.stdout.startswith("Fetched 1 object (17 B); 0 already there; 0 failed")
    assert f"The cached object {OID_F} was damaged (its 17 bytes no longer hash" in \
        result.stderr
    assert (repo / "f").read_text() == "recorded content\n"


def test_pull_downloads_again_an_object_cut_short_in_the_cache(repo, dvx, tmp_path):
    def cut_short(obj):
        with open(obj, "r+b") as f:
            f.truncate(5)

    result = _damaged_in_the_cache(repo, dvx, tmp_path, cut_short)
    assert result.code == 0, result.output
    assert result.stdout.startswith("Fetched 1 object (17 B); 0 already there; 0 failed")
    assert f"The cached object {OID_F} was damaged (its 5 bytes no longer hash to its oid" in \
        result.stderr
    assert "Checkout: 1 restored" in result.stdout
    assert (repo / "f").read_text() == "recorded content\n"
    assert len(list((repo / ".dvx/cache/quarantine").iterdir())) == 1  # moved aside, kept


def test_a_pull_that_sets_aside_an_object_changed_through_a_link_says_so(repo, dvx, tmp_path):
    """An object changed through a symlink to it (same size: its ctime tells) is moved aside
    by the fetch, named as changed, and downloaded again: one `pull --force` puts back the
    recorded bytes, and the edit stays in the quarantine."""
    assert dvx("config", "cache.type", "symlink").code == 0
    _pushed_and_made_writable(repo, dvx, tmp_path)
    with open(repo / "f", "r+b") as f:
        f.write(b"RECORDED")
    result = dvx("pull", "--force")
    assert result.code == 0, result.output
    assert f"The cached object {OID_F} was damaged (its 17 bytes no longer hash" in result.stderr
    assert "not on the remote" not in result.output
    assert (repo / "f").read_text() == "recorded content\n"
    [kept] = (repo / ".dvx/cache/quarantine").iterdir()
    assert kept.read_text() == "RECORDED content\n"


def test_pull_force_over_an_edit_made_through_a_link_says_it_discarded_the_edit(repo, dvx,
                                                                                tmp_path):
    """An edit appended through a symlink into the cache changes the object, which the fetch
    of `pull --force` sets aside: the linked file is placed again with the recorded bytes in
    the same run, so the message says the edit was discarded and names where its bytes are
    kept, never that the file holds them, for `dvx add` to record."""
    assert dvx("config", "cache.type", "symlink").code == 0
    _pushed_and_made_writable(repo, dvx, tmp_path)
    with open(repo / "f", "ab") as f:
        f.write(b"my edit\n")
    result = dvx("pull", "--force")
    assert result.code == 0, result.output
    message = " ".join(result.stderr.split())
    assert "now holds its bytes" not in message and "`dvx add` records" not in message, message
    [kept] = (repo / ".dvx/cache/quarantine").iterdir()
    assert kept.read_text() == "recorded content\nmy edit\n"
    assert "'f' linked to the cached object" in message, message
    assert f"--force places the recorded version there again, discarding the edit, whose " \
        f"bytes are kept in {kept}." in message, message
    assert (repo / "f").read_text() == "recorded content\n"


def test_push_never_uploads_a_manifest_whose_files_are_missing(repo, dvx, tmp_path):
    write(repo / "d" / "a", "a")
    write(repo / "d" / "b", "b")
    dvx("add", "d")
    b_oid = xxhash.xxh3_128_hexdigest(b"b")
    obj = repo / ".dvx/cache/files/xxh128" / b_oid[:2] / b_oid[2:]
    os.chmod(obj, 0o644)
    obj.unlink()
    store = tmp_path / "store"
    dvx("remote", "add", "-d", "store", str(store))
    result = dvx("push")
    assert result.code == 1 and "not in the local cache" in result.stderr
    pointer_oid = next(line.split(": ")[1] for line in (repo / "d.dvx").read_text().splitlines()
                       if line.startswith("oid: "))
    stored = local_spec(store, str(store), {}).oids()
    assert pointer_oid not in stored and xxhash.xxh3_128_hexdigest(b"a") in stored


def _cached_object(repo, data: bytes) -> Path:
    oid = xxhash.xxh3_128_hexdigest(data)
    return repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]


def test_fetch_of_data_the_cache_lacks_without_remote_or_with_missing_directory(
        repo, dvx, tmp_path):
    write(repo / "f", "x")
    dvx("add", "f")
    shutil.rmtree(repo / ".dvx/cache")
    none = dvx("fetch")
    assert none.code != 0 and "No remote" in none.stderr
    dvx("remote", "add", "-d", "s", str(tmp_path / "nowhere"))
    missing = dvx("fetch")
    assert missing.code != 0 and "does not exist" in missing.stderr


def test_pull_of_data_the_cache_holds_needs_no_remote(repo, dvx, tmp_path):
    """No remote configured, or one out of reach (a folder not there: an offline share):
    pull of data all in the cache checks it out without asking any remote. What the cache
    lacks (a file of a directory whose manifest it holds) still needs the remote."""
    write(repo / "f", "one\n")
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "f", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    shutil.rmtree(repo / "d")
    (repo / "f").unlink()
    one = dvx("pull", "f")
    assert one.code == 0, one.output
    assert one.stdout.startswith("Fetched 0 objects: the cache already holds the 1 object "
                                 "needed, so no remote was asked.")
    assert (repo / "f").read_text() == "one\n" and not (repo / "d").exists()
    doc = json.loads(dvx("pull", "--json").stdout)
    assert (doc["transferred"], doc["already_there"], doc["failed"]) == (0, 4, [])
    assert (doc["remote"], doc["remotes"]) == (None, [])
    assert (repo / "d" / "b").read_text() == "b\n"
    unknown = dvx("pull", "-r", "nosuch", "f")  # a name typed is still checked
    assert unknown.code == 2 and "There is no remote named 'nosuch'" in unknown.stderr

    nowhere = tmp_path / "offline-share"
    assert dvx("remote", "add", "-d", "store", str(nowhere)).code == 0
    shutil.rmtree(repo / "d")
    for command in (("pull", "d/a"), ("fetch",), ("pull",)):
        done = dvx(*command)
        assert done.code == 0 and "no remote was asked" in done.stdout, (command, done.output)
    assert (repo / "d" / "a").read_text() == "a\n" and not nowhere.exists()

    lost = _cached_object(repo, b"b\n")
    lost.unlink()
    assert dvx("pull", "d/a").code == 0  # d/b is not in its scope
    needed = dvx("pull", "d")
    assert needed.code == 1 and "The remote directory " in needed.stderr, needed.output
    assert "does not exist" in needed.stderr


def _three_versions_of_d_then_back_one(repo, dvx, tmp_path) -> None:
    """d added and committed three times (v3 synced whole here), v1's manifest then gone from
    the cache as `dvx gc` takes it, and `git checkout HEAD~1` (v2, all cached)."""
    for version in ("v1", "v2", "v3"):
        write(repo / "d" / "a", f"a {version}\n")
        write(repo / "d" / version, f"{version}\n")
        assert dvx("add", "d").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", version)
        if version == "v1":
            first = pointer_oid(repo / "d.dvx")
    _cached_manifest(repo, first).unlink()
    git(repo, "checkout", "-q", "HEAD~1")


def _cached_manifest(repo, oid: str) -> Path:
    found = [p for p in (repo / ".dvx/cache").rglob(oid[2:] + "*") if p.parent.name == oid[:2]]
    assert len(found) == 1, found
    return found[0]


def _counting_remote_opens(monkeypatch) -> list[str | None]:
    """The names of the remotes a pull opens, in order."""
    import dvx.ops.sync as sync

    opened: list[str | None] = []
    real = sync.open_remote

    def counted(repo, name, *args, **kwargs):
        opened.append(name)
        return real(repo, name, *args, **kwargs)

    monkeypatch.setattr(sync, "open_remote", counted)
    return opened


def test_pull_of_an_older_version_all_cached_opens_no_remote(repo, dvx, tmp_path, monkeypatch):
    """The workspace synced whole to a version whose manifest the cache holds: its sync
    record tells each file placed there from one of the user's, so the manifests of older
    versions gc took are not needed, and a pull of data all cached asks no remote, as it
    says (offline, a remote out of reach would only cost a connect timeout)."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "offline-share")).code == 0
    _three_versions_of_d_then_back_one(repo, dvx, tmp_path)
    opened = _counting_remote_opens(monkeypatch)
    pulled = dvx("pull")
    assert pulled.code == 0, pulled.output
    assert "no remote was asked" in pulled.stdout, pulled.output
    assert opened == []
    assert (repo / "d" / "a").read_text() == "a v2\n" and not (repo / "d" / "v3").exists()


def test_pull_asks_a_remote_that_failed_in_its_fetch_no_more(repo, dvx, tmp_path, monkeypatch):
    """A remote the fetch could not use (kept, as `repro --pull` keeps it) is not opened
    again for the manifests of older versions: the pull goes on to its checkout at once."""
    from dvx.ops.sync import pull
    from dvx.outputs import resolve_targets

    assert dvx("remote", "add", "-d", "store", str(tmp_path / "offline-share")).code == 0
    _three_versions_of_d_then_back_one(repo, dvx, tmp_path)
    (repo / ".dvx/tmp/synced.json").unlink()  # no record: older versions would be asked for
    _cached_object(repo, b"v2\n").unlink()
    opened = _counting_remote_opens(monkeypatch)
    opening = Repo(str(repo))
    result = pull(opening, resolve_targets(opening, []), keep_remote_errors=True)
    assert [name for name, _ in result.remote_errors] == ["store"]
    assert opened == ["store"]


def test_push_to_named_remote_with_jobs(repo, dvx, tmp_path):
    write(repo / "f", "x")
    dvx("add", "f")
    dvx("remote", "add", "a", str(tmp_path / "a"))
    dvx("remote", "add", "b", str(tmp_path / "b"))
    assert dvx("push", "-r", "b", "-j", "1").code == 0
    assert len(local_spec(tmp_path / "b", "", {}).oids()) == 1 and not (tmp_path / "a").exists()
    shutil.rmtree(tmp_path / "b")


def test_many_objects_go_through_worker_processes_and_failures_come_back(repo, dvx, tmp_path):
    """Above processes.MIN_ITEMS objects, push, fetch and checkout fork workers; a corrupt and
    a lost object on the remote are still reported one by one, and everything else arrives."""
    from dvx.processes import MIN_ITEMS

    files = {f"data/{i % 13}/f{i}": os.urandom(32 + i % 300) for i in range(MIN_ITEMS + 50)}
    for rel, content in files.items():
        write(repo / rel, content)
    store = tmp_path / "store"
    dvx("add", "data")
    _add_directory_remote(dvx, store)
    pushed = json.loads(dvx("push", "--json").stdout)
    assert pushed["failed"] == [] and pushed["transferred"] == len(files) + 1
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    bad_oid, lost_oid = (xxhash.xxh3_128_hexdigest(files[f"data/{i % 13}/f{i}"]) for i in (5, 6))
    clone = _damage_clone_and_pull(repo, dvx, tmp_path, store, bad_oid, lost_oid)
    pulled = tree_bytes(clone / "data")
    expected = {rel[len("data/"):]: content for rel, content in files.items()
                if rel not in ("data/5/f5", "data/6/f6")}
    assert pulled == expected
    assert not list((clone / ".dvx/cache/tmp").glob("*"))


def test_fetch_remembers_which_directories_are_complete_in_the_cache(repo, dvx, tmp_path):
    """After a fetch, a directory whose files all arrived is recorded as complete, so the
    checkout of `pull` does not look for each file again; one with a file missing is not."""
    from dvx.pointer import parse_pointer
    from dvx.repo import Repo

    _dataset(repo)
    store = tmp_path / "store"
    dvx("add", "data")
    _add_directory_remote(dvx, store)
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    tree_oid = parse_pointer((repo / "data.dvx").read_bytes(), "data.dvx").oid

    def complete_after_fetch(name):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(repo), str(clone))
        dvx("fetch", cwd=clone)
        clone_repo = Repo(str(clone))
        return clone_repo.statcache.is_complete_tree(tree_oid, clone_repo.cache.generation())

    assert complete_after_fetch("clone")
    lost = _objects(store)[xxhash.xxh3_128_hexdigest((repo / "data/labels.csv").read_bytes())]
    os.chmod(lost, 0o644)
    lost.unlink()
    assert not complete_after_fetch("clone-missing-a-file")


def test_a_fetch_of_data_the_cache_holds_remembers_its_directories_complete(
        repo, dvx, tmp_path):
    """A clone sharing a cache that holds all of the data fetches it without a remote, and
    records its directory as complete as a download does, so the checkout of `pull` does
    not look for each file in the cache again."""
    from dvx.pointer import parse_pointer
    from dvx.repo import Repo

    _dataset(repo)
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    tree_oid = parse_pointer((repo / "data.dvx").read_bytes(), "data.dvx").oid
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("config", "--local", "cache.dir", str(repo / ".dvx" / "cache"),
               cwd=clone).code == 0
    fetched = dvx("fetch", cwd=clone)
    assert fetched.code == 0 and "no remote was asked" in fetched.stdout, fetched.output
    clone_repo = Repo(str(clone))
    assert clone_repo.statcache.is_complete_tree(tree_oid, clone_repo.cache.generation())


def test_remote_numbers_that_are_not_whole_finite_bytes_are_clear_errors(repo, dvx, tmp_path):
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    store = str(tmp_path / "store")
    for key, value in (("pack_threshold", "inf"), ("pack_size", "nan"), ("pack_threshold", "0.5"),
                       ("pack_threshold", "1e3"), ("pack_size", "1048576.9")):
        (repo / ".dvx" / "config").write_text(  # by hand: never checked on the way in
            f'[remote "store"]\nurl = {store}\n{key} = {value}\n[core]\nremote = store\n')
        result = dvx("push")
        assert result.code != 0 and f"{key}='{value}'" in result.stderr, result.output
    for value in ("nan", "inf", "0", "x"):  # timeouts of remotes on the network
        with pytest.raises(RemoteError, match=f"connect_timeout='{value}'"):
            seconds_option({"connect_timeout": value}, "connect_timeout", 1.0)
    assert seconds_option({"timeout": "2.5"}, "timeout", 1.0) == 2.5


def test_a_remote_timeout_is_refused_by_one_rule_with_one_message(repo, dvx, tmp_path):
    """More than 0 seconds, finite: `remote modify`, `dvx config` and a push reading a config
    written by hand refuse -3 and 0 alike, in the same words (never "0 or more" first)."""
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    store = str(tmp_path / "store")
    assert dvx("remote", "add", "-d", "s", store).code == 0
    rule = "expected a number of seconds, more than 0."
    for value in ("-3", "0", "nan", "inf", "x"):
        for command in (("remote", "modify", "s", "timeout", "--", value),
                        ("config", "remote.s.timeout", "--", value)):
            refused = dvx(*command)
            assert refused.code == 2, (command, refused.output)
            assert f"""Invalid value '{value}' for remote "s".timeout: {rule}""" \
                in refused.stderr, (command, refused.stderr)
        (repo / ".dvx" / "config").write_text(  # by hand: never checked on the way in
            f'[core]\nremote = s\n[remote "s"]\nurl = {store}\ntimeout = {value}\n')
        pushed = dvx("push")
        assert pushed.code == 1 and rule in pushed.stderr, (value, pushed.output)
        assert "`dvx remote modify s timeout " in pushed.stderr
    (repo / ".dvx" / "config").write_text(f'[core]\nremote = s\n[remote "s"]\nurl = {store}\n')
    assert dvx("remote", "modify", "s", "timeout", "0.5").code == 0
    assert dvx("push").code == 0


def test_remote_modify_refuses_what_every_push_would_refuse(repo, dvx, tmp_path):
    """One rule (check_settings) at `remote modify` and at use; the hints name the remote."""
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "store")).code == 0
    config = (repo / ".dvx" / "config").read_text()
    for key, value, why in (("pack_size", "10", "must be a number of bytes from 1048576"),
                            ("pack_threshold", str(32 << 20), "must be a number of bytes from 1 ")):
        refused = dvx("remote", "modify", "r", key, value)
        assert refused.code == 2, (key, refused.output)
        assert f"The remote option {key}='{value}' {why}" in refused.stderr, refused.stderr
        assert f"`dvx remote modify r {key} " in refused.stderr
    assert (repo / ".dvx" / "config").read_text() == config
    assert dvx("remote", "modify", "r", "pack_size", str(64 << 20)).code == 0
    assert dvx("remote", "modify", "r", "pack_threshold", str(32 << 20)).code == 0
    kept = (repo / ".dvx" / "config").read_text()
    refused = dvx("remote", "modify", "r", "--unset", "pack_size")  # back to the default 16 MiB
    assert refused.code == 2, refused.output
    assert "Without 'pack_size', remote 'r' would be refused by every use: the remote option " \
           f"pack_threshold='{32 << 20}'" in refused.stderr, refused.stderr
    assert (repo / ".dvx" / "config").read_text() == kept
    assert dvx("push").code == 0
    assert dvx("remote", "modify", "r", "--unset", "pack_threshold").code == 0
    assert dvx("remote", "modify", "r", "pack_size", str(2 << 20)).code == 0
    (repo / ".dvx" / "config").write_text(  # by hand
        f'[remote "r"]\nurl = {tmp_path / "store"}\ntimeout = 0\n[core]\nremote = r\n')
    pushed = dvx("push")
    assert pushed.code == 1 and "Fix it with `dvx remote modify r timeout VALUE`." in (
        pushed.stderr), pushed.output


def test_a_hint_to_fix_an_option_names_the_level_that_sets_it(repo, dvx, tmp_path):
    """A bad value in .dvx/config.local: the hint's command writes it there, since the same
    command without --local would write the tracked config, which the local value overrides."""
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "store")).code == 0
    (repo / ".dvx" / "config.local").write_text('[remote "r"]\njobs = -1\n')
    pushed = dvx("push")
    assert pushed.code == 1 and "`dvx remote modify --local r jobs VALUE`" in pushed.stderr, (
        pushed.output)
    (repo / ".dvx" / "config.local").write_text('[remote "r"]\npack_threshold = 99999999\n')
    for result in (dvx("push"), dvx("remote", "modify", "r", "pack_threshold", "1000")):
        assert result.code != 0, result.output
        assert "Fix it with `dvx remote modify --local r pack_threshold BYTES`." in result.stderr
    fixed = dvx("remote", "modify", "--local", "r", "pack_threshold", "1000")
    assert fixed.code == 0, fixed.output
    assert dvx("push").code == 0
    tracked = (repo / ".dvx" / "config").read_text()
    assert "pack_threshold" not in tracked and "jobs" not in tracked


def test_remote_options_written_by_hand_are_checked_before_use(repo, dvx, tmp_path):
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    (repo / ".dvx" / "config").write_text(
        f'[remote "store"]\nurl = {tmp_path / "store"}\njobs = -1\n[core]\nremote = store\n')
    result = dvx("push")
    assert result.code != 0 and "Invalid value '-1' for remote \"store\".jobs" in result.stderr
    assert "dvx remote modify store jobs VALUE" in result.stderr


@pytest.mark.parametrize("url, key, value", [
    ("ssh://root@127.0.0.1/tmp/store", "port", "99999"),
    ("ssh://root@127.0.0.1/tmp/store", "port", "abc"),
    ("ssh://root@127.0.0.1/tmp/store", "connect_timeout", "0"),
    ("s3://bkt/p", "endpointurl", "not a url"),
    ("s3://bkt/p", "endpointurl", "http://host:99999"),
    ("gs://bkt/p", "endpointurl", "ftp://host"),
    # the store would take the path for the bucket, and find none
    ("s3://bkt/p", "endpointurl", "http://127.0.0.1:9000/proxy"),
    ("s3://bkt/p", "endpointurl", "https://minio.lan/?versioning"),
    ("gs://bkt/p", "endpointurl", "https://storage.lan/gcs#v1"),
    ("s3://bkt/p", "chunksize", str((5 << 20) - 1)),  # below S3's smallest multipart part
    ("s3://bkt/p", "chunksize", "8MiB"),
    ("s3://bkt/p", "chunksize", str((5 << 30) + 1)),  # above S3's largest part and single PUT
    ("s3://bkt/p", "chunksize", str(100 << 30)),
    ("s3://bkt/p", "ssl_verify", "ts"),  # neither a boolean nor a file: never "no check"
    ("s3://bkt/p", "ssl_verify", "/etc/ssl/no-such-ca.pem"),
    ("https://127.0.0.1/store", "ssl_verify", "ture"),
    ("gs://bkt/p", "credentialpath", "keys/sa.json"),  # no such file: never taken for a token
])
def test_backend_option_values_are_checked_when_set_and_before_use(repo, dvx, url, key, value):
    write(repo / "f", "f")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "r", url).code == 0
    refused = dvx("remote", "modify", "r", key, value)
    assert refused.code == 2, refused.output
    assert refused.stderr.startswith(f"ERROR: Invalid value '{value}' for remote \"r\".{key}: ")
    assert key not in (repo / ".dvx" / "config").read_text()
    (repo / ".dvx" / "config").write_text(  # by hand: never checked on the way in
        f'[remote "r"]\nurl = {url}\n{key} = {value}\n[core]\nremote = r\n')
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"Invalid value '{value}' for remote \"r\".{key}: " in result.stderr
    assert f"dvx remote modify r {key} VALUE" in result.stderr


def test_an_endpoint_with_a_login_is_refused_without_showing_it(repo, dvx):
    assert dvx("remote", "add", "-d", "r", "s3://bkt/p").code == 0
    refused = dvx("remote", "modify", "r", "endpointurl", "https://admin:pw@minio.lan")
    assert refused.code == 2, refused.output
    assert refused.stderr.startswith("ERROR: Invalid value 'https://***@minio.lan' for remote "
                                     "\"r\".endpointurl: an endpoint is https://HOST[:PORT] "
                                     "alone, without a login"), refused.stderr
    assert "endpointurl" not in (repo / ".dvx" / "config").read_text()


def test_a_refused_secret_value_is_never_shown(repo, dvx):
    assert dvx("remote", "add", "--local", "s3r", "s3://bkt/p").code == 0
    refused = dvx("remote", "modify", "--local", "s3r", "secret_access_key", " SUPERSECRET")
    assert refused.code == 2 and refused.stderr.startswith(
        "ERROR: Invalid value *** for remote \"s3r\".secret_access_key: "), refused.output
    assert "SUPERSECRET" not in refused.output


def test_good_backend_option_values_are_kept(repo, dvx):
    assert dvx("remote", "add", "s", "ssh://root@127.0.0.1/tmp/store").code == 0
    assert dvx("remote", "modify", "s", "port", "2222").code == 0
    assert dvx("remote", "add", "b", "s3://bkt/p").code == 0
    assert dvx("remote", "modify", "b", "endpointurl", "https://minio.lan:9000").code == 0
    assert dvx("remote", "modify", "b", "chunksize", str(5 << 20)).code == 0
    assert dvx("remote", "add", "c", "s3://bkt/q").code == 0
    assert dvx("remote", "modify", "c", "chunksize", str(5 << 30)).code == 0
    assert dvx("remote", "modify", "c", "endpointurl", "http://127.0.0.1:9000/").code == 0
    config = (repo / ".dvx" / "config").read_text()
    assert "port = 2222" in config and "endpointurl = https://minio.lan:9000" in config
    assert "endpointurl = http://127.0.0.1:9000/" in config  # a slash alone is no path
    assert f"chunksize = {5 << 20}" in config and f"chunksize = {5 << 30}" in config


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
@pytest.mark.parametrize("packs", [True, False])
def test_push_refuses_an_object_changed_through_a_link_and_pushes_the_rest(
        repo, dvx, tmp_path, packs, link):
    """The edit stays in the workspace: a symlink to the object set aside becomes a file."""
    dvx("config", "cache.type", link)
    write(repo / "data.csv", "v1 rows\n")
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "data.csv", "d").code == 0
    store = tmp_path / "store"
    _add_directory_remote(dvx, store, packs)
    os.chmod(repo / "data.csv", 0o644)  # what a write as root gets through
    with open(repo / "data.csv", "a") as f:
        f.write("appended\n")  # into the cache object: the same inode
    old = xxhash.xxh3_128_hexdigest(b"v1 rows\n")
    result = dvx("push")
    assert result.code == 1
    assert f"Failed data.csv ({old}): its object in the cache changed" in result.stderr
    if link == "symlink":  # one sentence each: what push did, what became of the link
        assert "(`dvx pull`). 'data.csv' linked to it and now holds" in result.stderr
    stored = local_spec(store, str(store), {}).oids()
    assert old not in stored  # never under an oid its bytes do not hash to
    assert {xxhash.xxh3_128_hexdigest(b"a\n"), xxhash.xxh3_128_hexdigest(b"b\n")} <= stored
    d_oid = next(line.split(": ")[1] for line in (repo / "d.dvx").read_text().splitlines()
                 if line.startswith("oid: "))
    assert d_oid in stored
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())  # moved aside, not lost
    assert not (repo / "data.csv").is_symlink()
    assert (repo / "data.csv").read_text() == "v1 rows\nappended\n"
    assert "data.csv: modified, not in cache" in dvx("status").stdout
    assert dvx("add", "data.csv").code == 0
    assert dvx("push").code == 0
    assert xxhash.xxh3_128_hexdigest(b"v1 rows\nappended\n") in local_spec(
        store, str(store), {}).oids()


@pytest.mark.parametrize("packs", [True, False])
@pytest.mark.parametrize("cache_type", ["copy", "symlink", "hardlink"])
def test_objects_dvx_stores_are_known_intact_so_push_trusts_them_unread(repo, dvx, tmp_path,
                                                                         packs, cache_type):
    """Push hashes again an object whose stat is not the one the cache knows it intact with
    (below); every way dvx stores one (add, add again, pull, loose or from a pack, and the
    checkout that links it) leaves it known intact, so a push trusts it on one stat."""
    dvx("config", "cache.type", cache_type)
    write(repo / "big.bin", os.urandom(3 << 20))  # stored through a temporary file
    write(repo / "small.csv", "a,b\n1,2\n")  # written unnamed, then named
    write(repo / "data" / "x.txt", "x\n")
    assert dvx("add", "big.bin", "small.csv", "data").code == 0
    assert dvx("add", "big.bin", "small.csv", "data").code == 0  # marks the objects used
    objects = repo / ".dvx" / "cache" / "files"

    def not_known_intact() -> list[str]:  # of 3 files and data's manifest
        cache = Repo(str(repo)).cache
        found = [p for p in objects.rglob("*") if p.is_file()]
        assert len(found) == 4
        return [p.name for p in found
                if not cache.known_intact(p.parent.name + p.name, os.stat(p))]

    assert not_known_intact() == []
    _add_directory_remote(dvx, tmp_path / "store", packs)
    assert dvx("push").code == 0
    shutil.rmtree(objects)
    for path in ("big.bin", "small.csv", "data"):
        shutil.rmtree(repo / path) if path == "data" else os.unlink(repo / path)
    assert dvx("pull").code == 0
    assert not_known_intact() == []


@pytest.mark.parametrize("packs", [True, False])
@pytest.mark.parametrize("cache_type", ["hardlink", "symlink"])
def test_push_refuses_an_object_rewritten_in_place_through_a_link(repo, dvx, tmp_path, packs,
                                                                   cache_type):
    """Same size, so only the stat (its ctime) says it changed since it was stored: as by a
    process that held the file open while dvx linked it into the cache, or a user who made the
    link writable (`chmod u+w`) and wrote through it."""
    dvx("config", "cache.type", cache_type)
    write(repo / "model.bin", b"\1" * 70000)
    write(repo / "other", "other\n")
    assert dvx("add", "model.bin", "other").code == 0
    store = tmp_path / "store"
    _add_directory_remote(dvx, store, packs)
    os.chmod(repo / "model.bin", 0o644)  # what an open descriptor or root gets through
    fd = os.open(repo / "model.bin", os.O_WRONLY)  # a symlink: into the object it names
    try:
        os.pwrite(fd, b"\2" * 1000, 5000)  # into the cache object: the same inode
    finally:
        os.close(fd)
    old = xxhash.xxh3_128_hexdigest(b"\1" * 70000)
    result = dvx("push")
    assert result.code == 1
    assert f"Failed model.bin ({old}): its object in the cache changed" in result.stderr
    stored = local_spec(store, str(store), {}).oids()
    assert old not in stored  # never under an oid its bytes do not hash to
    assert xxhash.xxh3_128_hexdigest(b"other\n") in stored
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())  # moved aside, not lost


def _copied_over_with_its_times_kept(path: Path, data: bytes) -> None:
    """A new version of the same size copied over the file by `cp -p` (as `rsync -t
    --inplace` copies it): written in place, then given the new file's older mtime."""
    new = path.parent.parent / "new-version"
    new.write_bytes(data)
    os.utime(new, (1_704_067_200, 1_704_067_200))  # 2024-01-01: an older file than it
    os.chmod(path, 0o644)  # the user's `chmod u+w`, or root: a link is the object
    subprocess.run(["cp", "-p", str(new), str(path)], check=True)


@pytest.mark.parametrize("packs", [True, False])
@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_push_refuses_an_object_copied_over_through_a_link_and_a_teammate_s_copy_goes_up(
        repo, tmp_path, packs, link):
    """`cp -p` of a new model over the tracked one writes into the cache object and sets its
    mtime back, before its ctime: only the ctime, which moved since the object was stored,
    says so. The push refuses it, never puts the other bytes under the old oid, and a
    teammate's push of the good copy is not then found already there."""
    store = tmp_path / "store"
    _add_directory_remote(run_dvx, store, packs)
    assert run_dvx("config", "cache.type", link).code == 0
    write(repo / "model.bin", "weights-v1\n")
    assert run_dvx("add", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    teammate = tmp_path / "teammate"
    git(tmp_path, "clone", "-q", str(repo), str(teammate))
    shutil.copytree(repo / ".dvx" / "cache", teammate / ".dvx" / "cache")
    assert run_dvx_proc("checkout", cwd=teammate).code == 0
    old = xxhash.xxh3_128_hexdigest(b"weights-v1\n")

    _copied_over_with_its_times_kept(repo / "model.bin", b"WEIGHTS-v2\n")
    pushed = run_dvx_proc("push", cwd=repo)
    assert pushed.code == 1, pushed.output
    assert f"Failed model.bin ({old}): its object in the cache changed" in pushed.stderr
    assert old not in local_spec(store, str(store), {}).oids()
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())  # moved aside, not lost
    assert (repo / "model.bin").read_text() == "WEIGHTS-v2\n"  # the new model stays

    assert run_dvx_proc("push", cwd=teammate).code == 0
    assert local_spec(store, str(store), {}).read_raw(old) == b"weights-v1\n"
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(repo), str(fresh))
    assert run_dvx_proc("pull", cwd=fresh).code == 0
    assert (fresh / "model.bin").read_text() == "weights-v1\n"


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_push_sends_an_object_whose_inode_alone_changed_after_hashing_it(repo, tmp_path, link):
    """A new hard link to an object, or a chmod, moves its ctime as a write does: the push
    hashes it, finds it intact, and sends it."""
    store = tmp_path / "store"
    _add_directory_remote(run_dvx, store)
    assert run_dvx("config", "cache.type", link).code == 0
    write(repo / "model.bin", os.urandom(70_000))
    assert run_dvx("add", "model.bin").code == 0
    os.link(os.path.realpath(repo / "model.bin"), tmp_path / "elsewhere")
    os.chmod(os.path.realpath(repo / "model.bin"), 0o400)
    pushed = run_dvx_proc("push", cwd=repo)
    assert pushed.code == 0, pushed.output
    oid = xxhash.xxh3_128_hexdigest((repo / "model.bin").read_bytes())
    assert oid in local_spec(store, str(store), {}).oids()
    assert not (repo / ".dvx" / "cache" / "quarantine").exists()


@pytest.mark.parametrize(("kind", "size", "point"), [
    ("dir", 70_000, "odb.put.before_rename"),  # copied whole, then named
    ("dir", 3 << 20, "odb.put.before_rename"),  # copied by the kernel, then linked
    ("ssh", 70_000, "put_file.before_check"),  # written to a temporary name, then renamed
    ("gs", 70_000, "put_file.before_check"),  # published as it is written: deleted again
    ("azure", 70_000, "put_file.before_check"),  # read whole, checked, then sent
    ("azure", 9 << 20, "put_file.before_check"),  # its blocks staged, checked, then committed
    ("moto", 3 << 20, "s3.put.after_digests"),  # one PUT: its checksum read, then its body
    ("moto", 11 << 20, "s3.put.after_digests"),  # multipart: each part read twice too
    ("seaweedfs", 3 << 20, "s3.put.after_digests"),
])
@pytest.mark.parametrize("rewrite", ["same size", "cut short"])
def test_an_object_written_to_while_push_sends_it_is_never_stored_under_its_oid(
        repo, dvx, tmp_path, request, kind, size, point, rewrite):
    """Written through its link between the reads a push makes of it (for its checksum and as
    it sends it), or between its upload and its publication: the object fails, is moved aside,
    and no retry sends the new bytes under the old oid."""
    spec = remote_for(kind, request, tmp_path)
    spec.options["pack_threshold"] = "1000"  # `other` goes in a pack, sent after `big`
    if kind in ("moto", "seaweedfs"):
        spec.options["chunksize"] = str(5 << 20)  # S3's smallest part
    configure(dvx, repo, spec)
    dvx("config", "cache.type", "hardlink")
    data = os.urandom(size)
    write(repo / "big", data)
    write(repo / "other", "other\n")
    assert dvx("add", "big", "other").code == 0
    old = xxhash.xxh3_128_hexdigest(data)
    push = stopped_at(point, "push", repo)
    try:
        os.chmod(repo / "big", 0o644)  # the workspace's link is the cache's object
        with open(repo / "big", "r+b") as f:  # in place: the same inode
            if rewrite == "same size":
                f.write(b"X" * size)
            else:
                f.truncate(size // 2)
    finally:
        os.kill(push.pid, signal.SIGCONT)
    _, stderr = push.communicate(timeout=120)
    assert push.returncode == 1, stderr
    assert f"Failed big ({old}): its object in the cache changed" in stderr
    assert old not in spec.oids()  # nothing stored under it, however many attempts
    assert xxhash.xxh3_128_hexdigest(b"other\n") in spec.oids()
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())  # moved aside, not lost
    assert (repo / "big").read_bytes() != data  # the edit stays in the workspace


@pytest.mark.parametrize(("kind", "point"), [
    ("dir", "odb.put.before_rename"),  # copied by the kernel, then checked and named
    ("moto", "s3.put.after_digests"),  # its checksum read, then its body
])
def test_an_object_marked_used_while_push_sends_it_is_pushed(repo, dvx, tmp_path, request,
                                                             kind, point):
    """Adding content already cached (here, or in a repository sharing the cache) marks its
    object used for gc's grace period: its mtime moves, and no byte. A push sending the
    object meanwhile stores it, instead of failing it as written to."""
    spec = remote_for(kind, request, tmp_path)
    configure(dvx, repo, spec)
    data = os.urandom(3 << 20)
    write(repo / "big", data)
    assert dvx("add", "big").code == 0
    push = stopped_at(point, "push", repo)
    try:
        added = run_dvx_proc("add", "big", cwd=repo)  # already cached: marked used
        assert added.code == 0, added.output
    finally:
        os.kill(push.pid, signal.SIGCONT)
    out, err = push.communicate(timeout=120)
    assert push.returncode == 0, out + err
    assert xxhash.xxh3_128_hexdigest(data) in spec.oids()
    assert not (repo / ".dvx" / "cache" / "quarantine").exists()


@pytest.mark.parametrize(("url", "says"), [
    # fsspec's (s3a) and Hadoop's (s3n) other names for S3: the one spelling dvx reads
    ("s3a://bucket/prefix", "is another name for 's3://'"),
    ("s3n://bucket/prefix", "is another name for 's3://'"),
    # a protocol fsspec knows, but no store dvx opens: said plainly, with those it does
    ("hf://datasets/x", "'hf://' (fsspec knows it) is not among the stores dvx opens"),
    ("oci://bucket/p", "'oci://' (fsspec knows it) is not among the stores dvx opens"),
])
def test_a_url_scheme_dvx_does_not_open_is_refused_with_the_one_to_use(repo, dvx, url, says):
    result = dvx("remote", "add", "storage", url)
    message = " ".join(result.output.split())
    assert result.code != 0 and says in message, message
    assert "caching" not in message
    if url.startswith("s3"):
        assert "Use s3://bucket/prefix." in message
    else:
        assert "s3://, sftp://" in message


@pytest.mark.parametrize("url, instead", [
    ("s3://bkt//proj", "s3://bkt/proj"), ("gs://bkt//proj/", "gs://bkt/proj"),
    ("azure://box//proj", "azure://box/proj"), ("https://host//store", "https://host/store"),
    ("s3://bkt///team//proj", "s3://bkt/team/proj"),
])
@pytest.mark.parametrize("command", [["remote", "add", "x"],
                                     ["remote", "modify", "x", "url"]])
def test_an_empty_folder_right_after_the_bucket_or_host_is_refused_naming_the_url_without_it(
        repo, dvx, tmp_path, command, url, instead):
    """SeaweedFS drops an empty folder name there as it does further down the path: a push
    would put the objects where status -c, fsck and pull under this URL never look."""
    assert dvx("remote", "add", "x", str(tmp_path / "ok")).code == 0
    if command[1] == "add":
        assert dvx("remote", "remove", "x").code == 0
    refused = dvx(*command, url)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and f"empty folder name ('//'); write {instead}" in said, said
    assert url not in (repo / ".dvx" / "config").read_text()
    assert "Traceback" not in refused.output


@pytest.mark.parametrize("url", ["ssh://host//srv/store", "sftp://host//srv/store/",
                                 "file:////srv/store"])
def test_an_empty_first_folder_of_an_ssh_or_directory_url_is_accepted_as_the_path_it_names(
        repo, dvx, url):
    """A path on a file system (SSH, a directory) reads '//' right after the host as '/':
    only an object store keeps it in its keys, so only its URL is refused for it."""
    assert dvx("remote", "add", "x", url).code == 0
    assert url in (repo / ".dvx" / "config").read_text()
    assert dvx("remote", "modify", "x", "url", url).code == 0


def test_a_directory_url_with_an_empty_first_folder_written_by_hand_pushes(repo, dvx, tmp_path):
    url = f"file:///{tmp_path / 'store'}"  # file:////tmp/...
    write(repo / ".dvx" / "config", f'[remote "x"]\nurl = {url}\n[core]\nremote = x\n')
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    pushed = dvx("push")
    assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output
    assert any((tmp_path / "store").rglob("*"))


def test_a_url_with_an_empty_first_folder_written_by_hand_is_refused_where_it_is_used(repo, dvx):
    write(repo / ".dvx" / "config", '[remote "x"]\nurl = s3://bkt//proj\n[core]\nremote = x\n')
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    refused = dvx("push")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "empty folder name ('//'); write s3://bkt/proj" in said, said
    assert "Fix it with `dvx remote modify x url VALUE`." in said


@pytest.mark.parametrize("url", ["s3://b1/proj", "s3://ab", "s3://my%20bucket/proj",
                                 f"s3://{'a' * 256}/proj"])
@pytest.mark.parametrize("command", [["remote", "add", "x"],
                                     ["remote", "modify", "x", "url"]])
def test_an_s3_url_naming_a_bucket_no_s3_store_can_have_is_refused_naming_the_rules(
        repo, dvx, tmp_path, command, url):
    """A bucket of under 3 characters, over 255 or of other characters than letters, digits,
    '.', '-' and '_' exists nowhere: each command would say it does not exist, and to
    create it, which every store refuses."""
    assert dvx("remote", "add", "x", str(tmp_path / "ok")).code == 0
    if command[1] == "add":
        assert dvx("remote", "remove", "x").code == 0
    refused = dvx(*command, url)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "which no S3 store can have: S3's naming rules" in said, said
    assert "3 to 63 lowercase letters" in said and "Give the name of a bucket" in said
    assert url not in (repo / ".dvx" / "config").read_text()
    assert "Traceback" not in refused.output


@pytest.mark.parametrize(("url", "following"), [("s3://BadName/proj", "s3://badname/proj"),
                                              ("s3://team_data/proj", "s3://team-data/proj"),
                                              ("s3://a..b/proj", "s3://a.b/proj"),
                                              ("s3://192.168.5.4/proj", None),
                                              (f"s3://{'Long_' * 14}/proj", None)])
def test_an_s3_bucket_only_an_older_or_laxer_store_has_is_taken_with_a_warning(repo, dvx, url,
                                                                                following):
    """An AWS bucket from before 2018 (us-east-1) or a Ceph gateway with relaxed names may
    have it: kept, and said to break S3's rules, which current stores create none by, with
    the URL of a name near it that follows them (none near an IP address)."""
    added = dvx("remote", "add", "x", url)
    said = " ".join(added.stderr.split())
    assert added.code == 0 and "breaks S3's naming rules" in said, said
    assert "create no bucket of that name" in said and "relaxed" in said
    assert url in (repo / ".dvx" / "config").read_text()
    if following is None:
        assert "follows them" not in said, said
    else:
        assert said.endswith(f"The URL with a bucket name that follows them: {following}"), said
        assert dvx("remote", "add", "y", following).stderr == ""


@pytest.mark.parametrize("url", ["s3://bkt/proj", "s3://my.team-2/proj",
                                 "s3://myap-abcdefgh1234-s3alias/proj"])
def test_an_s3_bucket_of_s3_s_rules_is_taken_without_a_word(repo, dvx, url):
    added = dvx("remote", "add", "x", url)
    assert added.code == 0 and added.stderr == "", added.output


def test_a_url_naming_an_impossible_bucket_written_by_hand_is_refused_where_it_is_used(
        repo, dvx):
    write(repo / ".dvx" / "config", '[remote "x"]\nurl = s3://b1/proj\n[core]\nremote = x\n')
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    refused = dvx("push")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "which no S3 store can have" in said, said
    assert "Fix it with `dvx remote modify x url URL`." in said


@pytest.mark.parametrize("url, resolved", [
    ("s3://bkt/x/../proj", "s3://bkt/proj"), ("s3://bkt/./y", "s3://bkt/y"),
    ("gs://bkt/team/./data/..", "gs://bkt/team"), ("azure://box/a/../b", "azure://box/b"),
    ("https://host/a/../store", "https://host/store"),
])
@pytest.mark.parametrize("command", [["remote", "add", "x"],
                                     ["remote", "modify", "x", "url"]])
def test_a_url_whose_path_has_dot_folders_is_refused_naming_the_resolved_one(
        repo, dvx, tmp_path, command, url, resolved):
    """An object store keeps '.' and '..' in a key where a client or server may resolve them
    (SeaweedFS does), so what is pushed would not be found again: refused as '//' is,
    naming the URL written without them; nothing is configured."""
    assert dvx("remote", "add", "x", str(tmp_path / "ok")).code == 0
    if command[1] == "add":
        assert dvx("remote", "remove", "x").code == 0
    refused = dvx(*command, url)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and f"'.' or '..' folder name; write {resolved}" in said, said
    assert url not in (repo / ".dvx" / "config").read_text()
    assert "Traceback" not in refused.output


def test_a_directory_remote_with_dot_folders_is_the_directory_they_resolve_to(
        repo, dvx, tmp_path):
    """A directory's path with '..' in it is an ordinary path: kept, and the store is the
    directory it resolves to; so is an SSH URL's, which the server resolves."""
    (tmp_path / "sub").mkdir()
    assert dvx("remote", "add", "-d", "d", str(tmp_path / "sub" / ".." / "store")).code == 0
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert (tmp_path / "store").is_dir() and not (tmp_path / "sub" / "store").exists()
    assert dvx("remote", "add", "s", "ssh://host/srv/../store").code == 0  # the server resolves
    (repo / "f.txt").unlink()
    shutil.rmtree(repo / ".dvx" / "cache")
    pulled = dvx("pull")
    assert pulled.code == 0 and (repo / "f.txt").read_text() == "x", pulled.output


def test_a_url_with_dot_folders_written_by_hand_is_refused_where_it_is_used(repo, dvx):
    write(repo / ".dvx" / "config", '[remote "x"]\nurl = s3://bkt/x/../proj\n'
          "[core]\nremote = x\n")
    refused = dvx("push")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "'.' or '..' folder name; write s3://bkt/proj" in said, said
    assert "Fix it with `dvx remote modify x url VALUE`." in said
