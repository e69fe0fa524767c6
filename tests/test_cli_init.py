import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import dvx_unprivileged, git, make_git_repo, write


def test_init_creates_layout_and_ignores_private_parts(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    result = dvx("init", cwd=root)
    assert result.code == 0, result.output
    assert (root / ".dvx" / "config").is_file()
    assert (root / ".dvx" / "cache").is_dir() and (root / ".dvx" / "tmp").is_dir()
    (root / ".dvx" / "config.local").write_text("[core]\n")
    (root / ".dvx" / "tmp" / "x").write_text("x")
    (root / ".dvx" / "cache" / "x").write_text("x")
    untracked = git(root, "status", "--porcelain", "--untracked-files=all")
    assert ".dvx/config\n" in untracked and ".dvx/.gitignore" in untracked
    assert "config.local" not in untracked and "tmp/" not in untracked
    assert "cache/" not in untracked


def test_a_commit_from_before_dvx_init_keeps_dvx_s_private_files_out_of_git(tmp_path, dvx):
    """`git checkout` of a commit from before `dvx init` (a `git bisect` step) takes
    .dvx/.gitignore away: the cache, .dvx/tmp and config.local stay ignored all the same."""
    root = make_git_repo(tmp_path / "r")
    write(root / "code.py", "code\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "before dvx")
    assert dvx("init", cwd=root).code == 0
    assert dvx("remote", "add", "--local", "-d", "s", str(tmp_path / "store"),
               cwd=root).code == 0  # this clone's own setting, in config.local
    assert dvx("install", cwd=root).code == 0  # post-checkout takes model.bin away
    write(root / "model.bin", os.urandom(1000))
    assert dvx("add", "model.bin", cwd=root).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")
    git(root, "checkout", "-q", "HEAD~1")
    git(root, "add", "-A")
    assert git(root, "diff", "--cached", "--name-only") == ""
    assert (root / ".dvx/cache/files").is_dir() and (root / ".dvx/config.local").is_file()
    git(root, "checkout", "-q", "-")
    for private in ("cache", "tmp"):  # as an older dvx left them: made again on first use
        os.unlink(root / ".dvx" / private / ".gitignore")
    assert dvx("add", "model.bin", cwd=root).code == 0
    assert (root / ".dvx/cache/.gitignore").read_text().endswith("\n*\n")
    assert (root / ".dvx/tmp/.gitignore").read_text().endswith("\n*\n")


def test_the_cache_and_tmp_ignore_files_hold_the_bytes_formats_md_shows(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    assert dvx("init", cwd=root).code == 0
    formats = Path(__file__).resolve().parent.parent / "docs" / "formats.md"
    shown = re.search(r'\.gitignore +exactly "([^"]*)"', formats.read_text(encoding="utf-8"))
    assert shown is not None
    for private in ("cache", "tmp"):
        ignore = root / ".dvx" / private / ".gitignore"
        assert ignore.read_bytes() == shown.group(1).replace("\\n", "\n").encode()


def test_init_twice_changes_nothing(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    dvx("init", cwd=root)
    (root / ".dvx" / "config").write_text("[cache]\ntype = copy\n")
    result = dvx("init", cwd=root)
    assert result.code == 0 and "already initialized" in result.stdout
    assert (root / ".dvx" / "config").read_text() == "[cache]\ntype = copy\n"


def test_init_outside_git_refuses_unless_no_scm(tmp_path, dvx):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = dvx("init", cwd=plain)
    assert result.code != 0 and "not inside a Git repository" in result.stderr
    assert not (plain / ".dvx").exists()
    result = dvx("init", "--no-scm", cwd=plain)
    assert result.code == 0
    (plain / "f").write_text("data")
    assert dvx("add", "f", cwd=plain).code == 0
    assert dvx("status", "-q", cwd=plain).code == 0


def test_a_repository_without_git_moves_and_removes_and_never_advises_git_add(tmp_path, dvx):
    """Nothing to stage nor to record in Git there: never a `git add` hint, nor a Git command
    run for one (which failed the command after its work was done)."""
    plain = tmp_path / "plain"
    plain.mkdir()
    assert dvx("init", "--no-scm", cwd=plain).code == 0
    write(plain / "a", "data")
    for args in (["add", "a"], ["move", "a", "b"], ["remove", "b.dvx"],
                 ["stage", "add", "-n", "s", "-o", "out", "echo x > out"], ["repro"],
                 ["stage", "remove", "s"]):
        result = dvx(*args, cwd=plain)
        assert result.code == 0, (args, result.output)
        assert "git add" not in result.output and "Git" not in result.output, result.output
    assert not (plain / "b.dvx").exists() and (plain / "b").read_text() == "data"
    assert " s:" not in (plain / "dvx.yaml").read_text()


def test_without_git_a_folder_dvx_may_not_list_is_named_never_taken_for_one_without_pointers(
        tmp_path, dvx):
    """With no Git to list pointer files, dvx finds them by walking the workspace: a folder
    this user may not list could hold some, so status and push refuse naming its chmod,
    rather than saying everything is up to date and pushing without its data; a folder
    .dvxignore leaves out is not listed."""
    plain = tmp_path / "plain"
    write(plain / "models" / "v2" / "model.bin", "weights\n")
    assert dvx("init", "--no-scm", cwd=plain).code == 0
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store"), cwd=plain).code == 0
    assert dvx("add", "models/v2/model.bin", cwd=plain).code == 0
    (plain / "models").chmod(0)
    try:
        told = {args: dvx_unprivileged(plain, *args)
                for args in (("status",), ("push",), ("push", "models/v2/model.bin"))}
    finally:
        (plain / "models").chmod(0o755)
    for args, result in told.items():
        said = " ".join(result.stderr.split())
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert said.startswith("ERROR: 'models' cannot be read: permission denied. Without "
                               "Git, dvx finds pointer files by listing every folder"), said
        assert "(`chmod u+rx models`, as its owner), or, if it holds no data dvx tracks, leave " \
            "it out with a .dvxignore line `/models/`" in said, said
    assert not any(p.is_file() for p in (tmp_path / "store").rglob("*"))  # nothing pushed
    assert dvx("push", cwd=plain).code == 0
    write(plain / "private" / "notes.txt", "not data\n")  # another user's folder, say
    write(plain / ".dvxignore", "/private/\n")  # the other way out
    (plain / "private").chmod(0)
    try:
        status = dvx_unprivileged(plain, "status")
    finally:
        (plain / "private").chmod(0o755)
    assert status.returncode == 0, status.stderr


def test_init_in_a_git_subdirectory_points_to_the_top(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    (root / "sub").mkdir()
    result = dvx("init", cwd=root / "sub")
    assert result.code != 0 and str(root) in result.stderr


def test_init_below_the_top_of_a_set_up_repository_says_it_is_set_up_already(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    assert dvx("init", cwd=root).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "dvx")
    (root / "sub").mkdir()
    for folder in ("sub", ".git", ".dvx"):
        result = dvx("init", cwd=root / folder)
        assert result.code == 2, result.output
        assert "is set up already" in result.stderr and "git restore" not in result.stderr
    assert sorted(os.listdir(root / "sub")) == []


def _project_moved_below_the_top(tmp_path, dvx):
    """A dvx project committed in its own Git repository, then copied into a folder of
    another one and committed there (as `git subtree add` does)."""
    import shutil

    project = make_git_repo(tmp_path / "A")
    assert dvx("init", cwd=project).code == 0
    write(project / "a.bin", "v1\n")
    assert dvx("add", "a.bin", cwd=project).code == 0
    mono = make_git_repo(tmp_path / "mono")
    shutil.copytree(project, mono / "projA", ignore=shutil.ignore_patterns(".git", "cache", "tmp"))
    write(mono / "projA" / "t.csv", "code\n")
    git(mono, "add", "-A")
    git(mono, "commit", "-qm", "projA moved in")
    return mono


def test_a_project_below_the_top_of_its_git_repository_is_refused_unless_it_works_without_git(
        tmp_path, dvx):
    """Not used without Git in silence: what Git tracks would not be refused, nothing staged,
    and `git add -A` would commit the data."""
    mono = _project_moved_below_the_top(tmp_path, dvx)
    sub = mono / "projA"
    write(sub / "n.bin", "new\n")
    for args in (["add", "t.csv"], ["add", "n.bin"], ["status"], ["install"]):
        refused = dvx(*args, cwd=sub)
        assert refused.code == 2, refused.output
        message = " ".join(refused.stderr.split())
        assert (f"The dvx project '{sub}' is inside the Git repository '{mono}' but not at its "
                "top") in message
        assert "dvx config core.no_scm true" in message
    assert not (sub / "t.csv.dvx").exists() and not (sub / "n.bin.dvx").exists()
    report = dvx("doctor", cwd=sub)
    assert report.code == 0 and "not at its top" in report.stdout
    assert dvx("config", "core.no_scm", "true", cwd=sub).code == 0
    assert dvx("add", "n.bin", cwd=sub).code == 0
    assert dvx("status", cwd=sub).code == 0


def test_init_at_the_top_of_a_git_repository_holding_a_dvx_project_names_it(tmp_path, dvx):
    mono = _project_moved_below_the_top(tmp_path, dvx)
    refused = dvx("init", cwd=mono)
    assert refused.code == 2, refused.output
    assert "holds the dvx project 'projA'" in refused.stderr
    assert not (mono / ".dvx").exists()
    git(mono, "rm", "-q", "-r", "--cached", "projA/.dvx")  # not committed: refused all the same
    assert dvx("init", cwd=mono).code == 2 and not (mono / ".dvx").exists()


def test_python_dash_m_and_version(repo, dvx_proc):
    result = dvx_proc("--version", cwd=repo)
    assert result.code == 0 and "dvx" in result.stdout


def test_the_older_unmarked_pattern_in_git_s_exclude_file_is_replaced(tmp_path, dvx):
    """A clone where an older dvx wrote the pattern of its unmarked temporary names: the next
    command that makes sure of the pattern puts the new one in its place, so Git sees a user's
    own `.NAME.<12 hex>.tmp` again."""
    from dvx.gitignore import (
        GET_SCRATCH_COMMENT,
        GET_SCRATCH_PATTERN,
        OLD_TEMPORARIES_PATTERN,
        PRIVATE_SETTINGS_PATTERN,
        TEMPORARIES_COMMENT,
        TEMPORARIES_PATTERN,
    )

    root = make_git_repo(tmp_path / "r")
    assert dvx("init", cwd=root).code == 0
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_text(f"*.swp\n{TEMPORARIES_COMMENT}\n{OLD_TEMPORARIES_PATTERN}\n# mine\n"
                       f"{PRIVATE_SETTINGS_PATTERN}\n")
    write(root / ".notes.0123456789ab.tmp", "my own notes")
    write(root / "data.csv", "x")
    assert dvx("add", "data.csv", cwd=root).code == 0
    assert exclude.read_text() == (f"*.swp\n{TEMPORARIES_COMMENT}\n{TEMPORARIES_PATTERN}\n"
                                   f"# mine\n{PRIVATE_SETTINGS_PATTERN}\n"
                                   f"{GET_SCRATCH_COMMENT}\n{GET_SCRATCH_PATTERN}\n")
    untracked = git(root, "status", "--porcelain", "--untracked-files=all")
    assert "?? .notes.0123456789ab.tmp" in untracked.splitlines(), untracked


def test_git_ignores_exactly_dvx_s_temporary_names_in_every_worktree(tmp_path, dvx):
    from dvx import fsutil
    from dvx.gitignore import TEMPORARIES_PATTERN

    root = make_git_repo(tmp_path / "r")
    exclude = root / ".git" / "info" / "exclude"
    exclude.write_bytes(b"# the user's own\n*.swp")  # no final newline: kept byte for byte
    assert dvx("init", cwd=root).code == 0
    assert dvx("install", cwd=root).code == 0  # finds the pattern there: not added twice
    content = exclude.read_text()
    assert content.startswith("# the user's own\n*.swp\n# dvx")
    assert content.count(TEMPORARIES_PATTERN) == 1
    long_name = "x" * 300
    names = [os.path.basename(fsutil.temp_name_for(str(root / n)))
             for n in ("data.csv", ".hidden", long_name[:250])]
    assert "~" in names[-1] and all(fsutil.temp_target(n) for n in names)
    others = ["data.csv", ".data.csv.0123456789a.tmp", "data.csv.0123456789ab.tmp",
              ".data.csv.0123456789ab.tmp",  # as dvx before the mark named them: a user's
              "..0123456789ab.tmp", ".data.csv.0123456789AB.tmp", ".data.csv.0123456789ab.tmp2"]
    assert not any(fsutil.temp_target(n) for n in others)
    git(root, "commit", "-q", "--allow-empty", "-m", "base")
    git(root, "worktree", "add", "-q", str(tmp_path / "wt"))
    for where in (root, tmp_path / "wt"):
        for name in names + others:
            (where / name).write_text("x")
        untracked = git(where, "status", "--porcelain", "--untracked-files=all").split("\n")
        assert not any(name in line for name in names for line in untracked), untracked
        assert all(any(line.endswith(name) for line in untracked) for name in others)


def test_a_sparse_checkout_without_the_tracked_dvx_folder_says_so_and_init_refuses(tmp_path,
                                                                                    dvx):
    from tests.team import Team

    team = Team(tmp_path)
    team.founder()
    sparse = tmp_path / "sparse"
    git(tmp_path, "clone", "-q", "--sparse", f"file://{team.origin}", str(sparse))
    git(sparse, "sparse-checkout", "set", "code")
    (sparse / "code").mkdir()
    for args in (("status",), ("init",)):
        result = dvx(*args, cwd=sparse / "code")
        assert result.code == 2, result.output
        assert "has dvx set up (Git tracks .dvx/config" in result.stderr
        assert "`git sparse-checkout add .dvx`" in result.stderr
        assert "Run `dvx init`" not in result.stderr
    assert not (sparse / ".dvx").exists()  # init wrote nothing over the team's config
    git(sparse, "sparse-checkout", "add", ".dvx")
    assert dvx("status", cwd=sparse).code == 0


def test_a_sparse_set_leaving_out_dvx_is_named_with_what_git_deleted_or_kept(tmp_path, dvx):
    """Cone mode deletes .dvx whole, the cache in it included: the refusal says that only
    pushed data comes back. A non-cone pattern keeps the ignored cache but removes the team's
    config: every command refuses rather than running on defaults. `set code .dvx` keeps it."""
    root = make_git_repo(tmp_path / "repo")
    assert dvx("init", cwd=root).code == 0
    (root / "code").mkdir()
    (root / "code" / "x.py").write_text("code\n")
    (root / "data.csv").write_text("never pushed\n")
    assert dvx("add", "data.csv", cwd=root).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")

    git(root, "sparse-checkout", "set", "code", ".dvx")
    assert (root / ".dvx" / "cache").is_dir() and dvx("status", cwd=root).code == 0
    git(root, "sparse-checkout", "set", "--no-cone", "/*", "!/.dvx/")
    assert (root / ".dvx" / "cache").is_dir() and not (root / ".dvx" / "config").exists()
    kept = dvx("status", cwd=root)
    assert kept.code == 2 and "leaves it out of the workspace" in kept.stderr, kept.output
    assert "The cache in it is still there" in kept.stderr

    git(root, "sparse-checkout", "set", "--cone", "code")
    assert not (root / ".dvx").exists()
    gone = dvx("status", cwd=root / "code")
    assert gone.code == 2 and "`git sparse-checkout add .dvx`" in gone.stderr, gone.output
    assert "Git deleted it with the folder" in gone.stderr and "`dvx pull`" in gone.stderr


@pytest.mark.parametrize("dvx_is", ["missing", "a file"])
def test_a_git_repository_nested_in_a_dvx_project_is_never_taken_for_that_project(
        tmp_path, dvx, dvx_is):
    """A clone (or submodule) inside a dvx project is a repository of its own: the search
    for the project stops at the top of its work tree, so no command works in the project
    around it; one whose committed .dvx is a file says so, and `dvx init` does not write
    over that file."""
    outer = make_git_repo(tmp_path / "outer")
    assert dvx("init", cwd=outer).code == 0
    write(outer / "o.txt", "outer data\n")
    assert dvx("add", "o.txt", cwd=outer).code == 0
    inner = make_git_repo(outer / "b")
    write(inner / "f.txt", "inner\n")
    if dvx_is == "a file":
        write(inner / ".dvx", "not a folder\n")
        git(inner, "add", "-A")
        git(inner, "commit", "-qm", "a .dvx file")
    (inner / "sub").mkdir()
    before = sorted(p.relative_to(outer) for p in outer.rglob("*") if ".git" not in p.parts)
    for cwd in (inner, inner / "sub"):
        for command in (("status",), ("pull",), ("add", str(inner / "f.txt")), ("gc", "-w", "-f")):
            refused = dvx(*command, cwd=cwd)
            assert refused.code == 2, (command, refused.output)
            if dvx_is == "a file":
                assert f"'{inner / '.dvx'}' is not a folder, and Git tracks it" in refused.stderr
                assert "`git rm --cached .dvx`" in refused.stderr
            else:
                assert f"the Git repository '{inner}', which has no dvx set up" \
                    in refused.stderr and f"the dvx repository '{outer}'" in refused.stderr
                assert f"Run `dvx init` in '{inner}'" in refused.stderr
    assert sorted(p.relative_to(outer) for p in outer.rglob("*") if ".git" not in p.parts) \
        == before
    init = dvx("init", cwd=inner)
    if dvx_is == "a file":
        assert init.code == 2 and "is not a folder" in init.stderr, init.output
        assert (inner / ".dvx").read_text() == "not a folder\n"
        assert not [p for p in inner.iterdir() if p.name.startswith(".dvx.")]
    else:
        assert init.code == 0, init.output
        assert dvx("add", "f.txt", cwd=inner).code == 0
        assert (inner / "f.txt.dvx").is_file() and (inner / ".gitignore").is_file()
    assert dvx("status", "-q", cwd=outer).code == 0  # the project around is as it was


@pytest.mark.parametrize("dot_git", ["an empty folder", "a folder of other files"])
def test_a_dot_git_that_is_no_git_repository_is_looked_past_as_git_does(tmp_path, dvx, dot_git):
    """A dataset unpacked with an empty `.git` is a folder of the project for Git (it works
    in the repository around it from there, and commits its files), so dvx works in the
    project around it too, and `dvx init` there is refused: a second project in one Git
    repository."""
    root = make_git_repo(tmp_path / "p")
    assert dvx("init", cwd=root).code == 0
    data = root / "data"
    if dot_git == "an empty folder":
        (data / ".git").mkdir(parents=True)
    else:
        write(data / ".git" / "HEAD", "not a ref\n")
        (data / ".git" / "objects").mkdir()
        (data / ".git" / "refs").mkdir()
    write(data / "f.txt", "data\n")
    write(data / "g.txt", "more\n")
    assert git(data, "rev-parse", "--show-toplevel").strip() == str(root)
    added = dvx("add", "f.txt", cwd=data)
    assert added.code == 0, added.output
    assert dvx("add", "data/g.txt", cwd=root).code == 0
    assert (data / "f.txt.dvx").is_file() and (data / "g.txt.dvx").is_file()
    assert not (data / ".dvx").exists()
    init = dvx("init", cwd=data)
    assert init.code == 2, init.output
    assert f"inside the dvx repository {root}, which is set up already" in " ".join(
        init.stderr.split())
    assert not (data / ".dvx").exists()
    status = dvx("status", cwd=data)
    assert status.code == 0 and "up to date" in status.stdout, status.output


def test_a_dot_git_file_naming_a_git_directory_that_is_gone_is_refused_as_git_refuses(
        tmp_path, dvx):
    """A `.git` file (`gitdir: PATH`) naming a Git directory that is gone (a submodule's
    .git/modules/NAME moved away) is where Git stops and refuses to run ("not a git
    repository"), never looking past it to the superproject: dvx refuses there too, naming
    the file and the missing directory, never taking the project for one inside the
    superproject nor advising core.no_scm; it works again once the directory is back."""
    sub = make_git_repo(tmp_path / "sub")
    assert dvx("init", cwd=sub).code == 0
    write(sub / "s.bin", "s\n")
    assert dvx("add", "s.bin", cwd=sub).code == 0
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "sub")
    top = make_git_repo(tmp_path / "super")
    assert dvx("init", cwd=top).code == 0
    git(top, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sub")
    git(top, "commit", "-qm", "with a submodule")
    checkout = top / "sub"
    config = (checkout / ".dvx" / "config").read_bytes()
    modules = top / ".git" / "modules" / "sub"
    os.rename(modules, tmp_path / "moved-away")
    write(checkout / "data" / "f.txt", "f\n")
    write(top / "plain" / ".git", f"gitdir: {tmp_path / 'nowhere'}\n")  # in no project
    for args, cwd, gitfile, missing in (
            (("status",), checkout, checkout / ".git", modules),
            (("add", "f.txt"), checkout / "data", checkout / ".git", modules),
            (("status",), top / "plain", top / "plain" / ".git", tmp_path / "nowhere"),
            (("init",), top / "plain", top / "plain" / ".git", tmp_path / "nowhere")):
        assert subprocess.run(["git", "status"], cwd=cwd, capture_output=True).returncode != 0
        refused = dvx(*args, cwd=cwd)
        assert refused.code == 2, (args, cwd, refused.output)
        message = " ".join(refused.stderr.split())
        assert (f"'{gitfile}' names the Git directory '{missing}', which does not exist: Git "
                f"refuses to work in '{gitfile.parent}' (\"not a git repository\"), and so "
                "does dvx.") in message, message
        assert "no_scm" not in message and str(top / ".dvx") not in message, message
    assert (checkout / ".dvx" / "config").read_bytes() == config
    assert not (checkout / "data" / "f.txt.dvx").exists() and not (top / "plain" / ".dvx").exists()
    os.rename(tmp_path / "moved-away", modules)
    assert dvx("add", "f.txt", cwd=checkout / "data").code == 0
    assert (checkout / "data" / "f.txt.dvx").is_file()


def test_a_folder_whose_dot_git_file_names_a_gone_git_directory_is_tracked_from_the_project_around(
        tmp_path, dvx):
    """A folder holding a stale `.git` file (`gitdir: PATH` naming a Git directory that is
    gone: copied out of a submodule's checkout) is a plain folder for the repository around,
    whose `git add` takes its files: dvx run at the top tracks them too, never calling it a
    Git repository of its own, while run inside it dvx still refuses, as Git does."""
    root = make_git_repo(tmp_path / "p")
    assert dvx("init", cwd=root).code == 0
    data = root / "ds"
    write(data / ".git", "gitdir: ../../gone/modules/ds\n")
    write(data / "f1", "1\n")
    write(data / "f2", "2\n")
    assert "add 'ds/f1'" in git(root, "add", "-n", "ds")
    for args in (("add", "ds/f1"), ("add", str(data / "f2"))):
        added = dvx(*args, cwd=root)
        assert added.code == 0, added.output
    assert (data / "f1.dvx").is_file() and (data / "f2.dvx").is_file()
    git(root, "add", "-A")
    assert "ds/f1.dvx" in git(root, "ls-files", "ds")
    status = dvx("status", cwd=root)
    assert status.code == 0 and "up to date" in status.stdout, status.output
    inside = dvx("status", cwd=data)
    assert inside.code == 2 and "names the Git directory" in inside.stderr, inside.output


def test_init_no_scm_is_refused_where_plain_init_is(tmp_path, dvx):
    """`--no-scm` means without Git, not anywhere: never in a folder of a dvx project (which
    would take the outer project's pointer files for its own, and whose `git add -A` would
    commit the new config), nor in a Git directory."""
    root = make_git_repo(tmp_path / "r")
    assert dvx("init", cwd=root).code == 0
    write(root / "data" / "x", "1\n")
    assert dvx("add", "data/x", cwd=root).code == 0
    for folder in ("data", ".dvx/cache", ".git/hooks"):
        refused = dvx("init", "--no-scm", cwd=root / folder)
        assert refused.code == 2, (folder, refused.output)
        said = " ".join(refused.stderr.split())
        assert f"inside the dvx repository {root}, which is set up already" in said
        assert ("Run dvx commands in its work tree" in said) == (folder == ".git/hooks")
        assert not (root / folder / ".dvx").exists()
    other = make_git_repo(tmp_path / "other")
    for args in (["init"], ["init", "--no-scm"]):
        refused = dvx(*args, cwd=other / ".git" / "hooks")
        assert refused.code == 2, refused.output
        assert f"is in the Git directory {other / '.git'}" in " ".join(refused.stderr.split())
        assert not (other / ".git" / "hooks" / ".dvx").exists()


def test_init_in_a_bare_repository_says_so_and_points_to_a_clone(tmp_path, dvx):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    for args in (["init"], ["init", "--no-scm"]):
        for where in (bare, bare / "hooks"):
            refused = dvx(*args, cwd=where)
            assert refused.code == 2, refused.output
            message = " ".join(refused.stderr.split())
            assert f"is in the bare Git repository {bare}" in message, message
            assert "git clone" in message and "--no-scm" not in message
            assert not (where / ".dvx").exists()
