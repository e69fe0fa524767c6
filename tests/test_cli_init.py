from tests.conftest import git, make_git_repo


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


def test_init_in_a_git_subdirectory_points_to_the_top(tmp_path, dvx):
    root = make_git_repo(tmp_path / "r")
    (root / "sub").mkdir()
    result = dvx("init", cwd=root / "sub")
    assert result.code != 0 and str(root) in result.stderr


def test_python_dash_m_and_version(repo, dvx_proc):
    result = dvx_proc("--version", cwd=repo)
    assert result.code == 0 and "dvx" in result.stdout
