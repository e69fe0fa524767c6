"""The architecture, checked: dependencies point one way, and only the right modules use
click, gitpython or print (see docs/design.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dvx"

# Lower layers must not import higher ones.
LAYERS = {
    "dvx.errors": 0, "dvx.faults": 0, "dvx.threads": 0, "dvx.logs": 0, "dvx.processes": 0,
    "dvx.process_groups": 0, "dvx.guardian": 0,
    "dvx.self_command": 0,  # how dvx starts itself in hooks and queued runs
    "dvx.wording": 0,  # wording messages share: lists of names cut short
    "dvx.user_dirs": 0,  # the XDG folders of the user's config and cache
    "dvx.stop_signals": 0,  # Ctrl-C, SIGTERM and SIGHUP held back while a clean-up runs
    "dvx.fsutil": 1, "dvx.hashing": 1, "dvx.yamlio": 1, "dvx.textfile": 1,
    "dvx.paths": 2, "dvx.progress": 2, "dvx.wildmatch": 2, "dvx.ignore": 3,
    "dvx.get_scratch": 2,  # the folder `dvx get` builds in, and what a killed one left
    "dvx.generated": 4,  # files dvx writes of itself (plots pages, install's .gitattributes)
    "dvx.objects": 3,
    "dvx.remote": 4,
    "dvx.pointer": 5, "dvx.config": 5, "dvx.scm": 5, "dvx.lock": 5, "dvx.gitignore": 5,
    "dvx.syncstate": 5,
    "dvx.lockfile": 5,  # a file format, like pointers: outputs.py reads it
    "dvx.hash_setting": 5,  # the algorithm of a repository's data, and settings disagreeing
    "dvx.repo": 6,
    "dvx.overlapping": 6,  # tracked paths a merge left overlapping: outputs.py names them
    "dvx.outputs": 7, "dvx.workspace": 7, "dvx.history": 7,
    "dvx.unmerged": 7,  # pointers Git left unmerged without markers: status names them
    "dvx.own_files": 7,  # Git's and dvx's own folders, where no output may go
    "dvx.experiment_refs": 7,  # where experiments live (refs/exps): metrics reads them too
    "dvx.ops": 8, "dvx.pipeline": 8, "dvx.metrics": 8, "dvx.exps": 8,
    "dvx.api": 9,  # the Python API: the same operations as the CLI, returning values
    "dvx.fs": 9,  # the dvx:// filesystem for fsspec, on top of the API
    "dvx.cli": 10,
    "dvx.entry": 11,  # the console script: loads the command line, Ctrl-C included
}


def _layer(module: str) -> int | None:
    for prefix, rank in sorted(LAYERS.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), str(path))


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


MODULES = dict(_modules())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_dependencies_point_one_way(name):
    own = _layer(name)
    if own is None:
        return  # dvx/__init__, dvx/__main__
    for imported in _imports(MODULES[name]):
        other = _layer(imported)
        if other is not None:
            assert other <= own, f"{name} (layer {own}) imports {imported} (layer {other})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_cli_uses_click_and_prints(name):
    if name.startswith("dvx.cli"):
        return
    imports = set(_imports(MODULES[name]))
    assert "click" not in imports and not any(i.startswith("click.") for i in imports)
    calls = [n for n in ast.walk(MODULES[name]) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not calls, f"{name} calls print()"


def test_no_module_imports_gitpython():
    """Every Git process dvx starts gets the environment scm.git_environ gives it, without
    another repository's GIT_DIR: gitpython can add to its processes' environment, never
    take a variable out of it."""
    users = {name for name, tree in MODULES.items()
             if any(i == "git" or i.startswith("git.") for i in _imports(tree))}
    assert users == set()


def test_every_module_is_in_a_layer():
    unplaced = [n for n in MODULES if _layer(n) is None and n not in ("dvx", "dvx.__main__")]
    assert unplaced == []


def _own_module(imported: str) -> str | None:
    """The dvx module an import names (`from dvx.ops import add` names dvx.ops.add)."""
    while imported and imported not in MODULES:
        imported = imported.rpartition(".")[0]
    return imported or None


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, tree in MODULES.items():
        targets: set[str] = set()
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for imported in names:
                own = _own_module(imported)
                if own is not None and own != name and own not in ("dvx",):
                    targets.add(own)
        graph[name] = targets
    return graph


def test_no_two_modules_import_each_other_in_a_loop():
    """Within a layer too: a loop means two modules that cannot be understood apart (every
    import counts, including those made inside a function to defer their cost)."""
    graph = _import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    loops: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                loops.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert loops == [], "import loops: " + "; ".join(" -> ".join(loop) for loop in loops)
