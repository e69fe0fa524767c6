"""dvx's Python API: the same operations as the commands, returning plain data.

    import dvx.api
    dvx.api.metrics_show()                        # the workspace's metrics
    dvx.api.metrics_show(revs=["main", "v1.0"])   # those revisions (and not the workspace)
    dvx.api.params_show(repo="path/to/project")

Each function takes `repo`, a path inside a dvx repository (default: the current
directory), and raises `dvx.errors.DvxError` subclasses on failure.
"""

from __future__ import annotations

from typing import Any

__all__ = ["metrics_show", "params_show"]


def params_show(repo: str | None = None, revs: list[str] | None = None) -> dict[str, Any]:
    """The params of the workspace, or of each revision in `revs` (branches, tags, commits,
    or "workspace"): exactly what `dvx params show --json` prints, a mapping of each
    revision's name to {"data": {path: {"data": {...}} or {"error": {...}}}}."""
    return _show("params", repo, revs)


def metrics_show(repo: str | None = None, revs: list[str] | None = None) -> dict[str, Any]:
    """The metrics of the workspace, or of each revision in `revs`: exactly what
    `dvx metrics show --json` prints (see `params_show`)."""
    return _show("metrics", repo, revs)


def _show(kind: str, repo: str | None, revs: list[str] | None) -> dict[str, Any]:
    from dvx.history import Scope
    from dvx.metrics.values import show
    from dvx.repo import Repo

    names = list(revs or [])
    scope = Scope(workspace=not names or "workspace" in names,
                  revs=tuple(r for r in names if r != "workspace"))
    return show(Repo.find(repo), kind, scope).to_json()
