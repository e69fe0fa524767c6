"""The pipeline DAG: a stage depends on every stage whose output is, contains or lies inside one
of its dependencies (or params files). Cycles are refused; the order is topological, ties
broken by the order of dvx.yaml. Also draws the graph (ASCII, Graphviz dot, Mermaid)."""

from __future__ import annotations

import bisect
import functools
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dvx.errors import FormatError, UsageError
from dvx.pipeline.spec import (
    PIPELINE_FILE,
    ParamsSet,
    Pipeline,
    Stage,
    load_pipeline,
    stage_target,
)
from dvx.repo import Repo


@dataclass
class Dag:
    stages: dict[str, Stage]  # in dvx.yaml order
    upstream: dict[str, set[str]] = field(default_factory=dict)
    downstream: dict[str, set[str]] = field(default_factory=dict)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Each stage's place in dvx.yaml (the stages never change once the DAG is built)."""
        return {name: i for i, name in enumerate(self.stages)}

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """`names` (default: every stage) in dependency order."""
        wanted = set(self.stages if names is None else names)
        index = self.index
        waiting = {n: len(self.upstream[n] & wanted) for n in wanted}
        ready = [(index[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        ordered = []
        while ready:
            _, name = heapq.heappop(ready)
            ordered.append(name)
            for child in self.downstream[name] & wanted:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (index[child], child))
        return ordered

    def ancestors(self, names: Iterable[str]) -> set[str]:
        return _closure(names, self.upstream)

    def descendants(self, names: Iterable[str]) -> set[str]:
        return _closure(names, self.downstream)

    def resolve(self, targets: Iterable[str]) -> list[str]:
        """Stage names for command-line targets: a stage, a foreach/matrix group (either
        also as `dvx.yaml:NAME`), or dvx.yaml."""
        names: list[str] = []
        for target in map(stage_target, targets):
            if target in self.stages:
                names.append(target)
                continue
            group = [n for n, s in self.stages.items() if s.group == target]
            if group:
                names.extend(group)
            elif target in (PIPELINE_FILE, f"./{PIPELINE_FILE}"):
                names.extend(self.stages)
            else:
                known = ", ".join(list(self.stages)[:20]) or "none"
                raise UsageError(f"There is no stage named '{target}' in {PIPELINE_FILE} "
                                 f"(stages: {known}).",
                                 "See `dvx stage list` for the stage names.")
        return list(dict.fromkeys(names))

    def select(self, targets: Iterable[str], single: bool = False,
               downstream: bool = False) -> list[str]:
        """The stages a command works on, in order: the targets (all stages if none) with
        their upstream stages, or with `downstream` the stages that depend on them, or with
        `single` the targets alone."""
        names = self.resolve(targets)
        if not names:
            return self.order()
        chosen = set(names)
        if downstream:
            chosen |= self.descendants(names)
        elif not single:
            chosen |= self.ancestors(names)
        return self.order(chosen)


def _closure(names: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(names)
    while stack:
        for other in edges[stack.pop()]:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def build_dag(pipeline: Pipeline) -> Dag:
    dag = Dag({s.name: s for s in pipeline.stages})
    producers = {o.path: s.name for s in pipeline.stages for o in s.outs}
    out_paths = sorted(producers)
    for stage in pipeline.stages:
        ups: set[str] = set()
        for path in stage.inputs:
            ups.update(_producers_of(path, producers, out_paths))
        ups.discard(stage.name)  # a stage reading its own output is refused by spec.py
        dag.upstream[stage.name] = ups
        dag.downstream.setdefault(stage.name, set())
        for up in ups:
            dag.downstream.setdefault(up, set()).add(stage.name)
    _refuse_cycles(dag)
    return dag


def _producers_of(path: str, producers: dict[str, str], out_paths: list[str]) -> set[str]:
    found = set()
    current = path
    while current:  # an output that is the path or contains it
        if current in producers:
            found.add(producers[current])
        current = current.rpartition("/")[0]
    i = bisect.bisect_left(out_paths, path + "/")  # outputs inside the path
    while i < len(out_paths) and out_paths[i].startswith(path + "/"):
        found.add(producers[out_paths[i]])
        i += 1
    return found


def _refuse_cycles(dag: Dag) -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in dag.stages:
        if root in state:
            continue
        path = [root]
        iters = [iter(sorted(dag.downstream[root]))]
        state[root] = 1
        while iters:
            child = next(iters[-1], None)
            if child is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(child) == 1:
                cycle = [*path[path.index(child):], child]
                raise FormatError(f"{PIPELINE_FILE} has a cycle: {' -> '.join(cycle)} (each "
                                  "stage depends on an output of the one before).",
                                  "Remove one of these dependencies.")
            elif child not in state:
                state[child] = 1
                path.append(child)
                iters.append(iter(sorted(dag.downstream[child])))


def load_dag(repo: Repo, removing: str | None = None, params_set: ParamsSet | None = None
             ) -> Dag | None:
    """The validated DAG of dvx.yaml, or None without a dvx.yaml (`removing`, `params_set`:
    as in spec.parse_pipeline)."""
    pipeline = load_pipeline(repo, removing, params_set)
    return None if pipeline is None else build_dag(pipeline)


# -- drawings --------------------------------------------------------------------------------

def edges(dag: Dag, names: list[str]) -> list[tuple[str, str]]:
    wanted = set(names)
    return [(up, name) for name in names for up in dag.order(dag.upstream[name] & wanted)]


def to_dot(dag: Dag, names: list[str]) -> str:
    lines = ["strict digraph {"]
    lines += [f'  "{n}";' for n in names]
    lines += [f'  "{a}" -> "{b}";' for a, b in edges(dag, names)]
    return "\n".join([*lines, "}"]) + "\n"


def to_mermaid(dag: Dag, names: list[str]) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(names)}
    lines = ["flowchart TD"]
    lines += [f'  {ids[n]}["{n}"]' for n in names]
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in edges(dag, names)]
    return "\n".join(lines) + "\n"


GAP = 3


@dataclass
class _Node:
    key: str  # a stage name, or "" for a dummy node carrying a long edge through a layer
    width: int
    left: int = 0
    parents: list[_Node] = field(default_factory=list)

    @property
    def center(self) -> int:
        return self.left + self.width // 2


def to_ascii(dag: Dag, names: list[str]) -> str:
    """Layered top-down: every stage below the stages it depends on, in boxes, with edges."""
    if not names:
        return ""
    order = dag.order(names)
    wanted = set(order)
    layer: dict[str, int] = {}
    for name in order:
        layer[name] = 1 + max((layer[u] for u in dag.upstream[name] & wanted), default=-1)
    rows: list[list[_Node]] = [[] for _ in range(max(layer.values()) + 1)]
    nodes = {}
    for name in order:
        nodes[name] = _Node(name, len(name) + 4)
        rows[layer[name]].append(nodes[name])
    for name in order:  # long edges go through dummy nodes, one per layer they cross
        for up in dag.order(dag.upstream[name] & wanted):
            below = nodes[up]
            for level in range(layer[up] + 1, layer[name]):
                dummy = _Node("", 1, parents=[below])
                rows[level].append(dummy)
                below = dummy
            nodes[name].parents.append(below)
    _place(rows)
    lines: list[str] = []
    for i, row in enumerate(rows):
        if i:
            lines += _connectors(row)
        lines += _boxes(row)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _place(rows: list[list[_Node]]) -> None:
    _order(rows)
    for i, row in enumerate(rows):
        above = {n.center for n in rows[i - 1]} if i else set()
        cursor: int | None = None
        for node in row:
            wanted = 0 if cursor is None else cursor
            if node.parents:
                wanted = round(sum(p.center for p in node.parents) / len(node.parents)) \
                    - node.width // 2
            left = wanted if cursor is None else max(cursor, wanted)
            # never below a node it is not connected to: their lines would merge
            own = {p.center for p in node.parents}
            while left + node.width // 2 in above - own:
                left += 1
            node.left = left
            cursor = node.left + node.width + GAP
    shift = min(node.left for row in rows for node in row)
    for row in rows:
        for node in row:
            node.left -= shift


def _order(rows: list[list[_Node]], sweeps: int = 4) -> None:
    """Fewer crossings: sort each layer by the mean position of its neighbours in the layer
    above (then below), a few times (the barycenter heuristic)."""
    children: dict[int, list[_Node]] = {}
    for row in rows:
        for node in row:
            for parent in node.parents:
                children.setdefault(id(parent), []).append(node)

    def by_mean(row: list[_Node], neighbours: Callable[[_Node], list[_Node]],
                position: dict[int, int]) -> None:
        def key(item: tuple[int, _Node]) -> float:
            index, node = item
            near = neighbours(node)
            return sum(position[id(n)] for n in near) / len(near) if near else index
        row[:] = [n for _, n in sorted(enumerate(row), key=key)]

    for _ in range(sweeps):
        for i in range(1, len(rows)):
            position = {id(n): j for j, n in enumerate(rows[i - 1])}
            by_mean(rows[i], lambda n: n.parents, position)
        for i in range(len(rows) - 2, -1, -1):
            position = {id(n): j for j, n in enumerate(rows[i + 1])}
            by_mean(rows[i], lambda n: children.get(id(n), []), position)


def _boxes(row: list[_Node]) -> list[str]:
    lines = [[" "] * (row[-1].left + row[-1].width) for _ in range(3)]
    for node in row:
        if not node.key:
            for line in lines:
                line[node.center] = "|"
            continue
        border = "+" + "-" * (node.width - 2) + "+"
        for line, text in zip(lines, (border, f"| {node.key} |", border), strict=True):
            line[node.left:node.left + node.width] = list(text)
    return ["".join(line) for line in lines]


def _connectors(row: list[_Node]) -> list[str]:
    """Edges from the row above into `row`: a stub under each parent, then lanes of horizontal
    lines, then an arrow (or a line, into a dummy) above each child. The children that have
    exactly the same parents share one line (every parent on it leads to every child on it);
    lines that do not overlap share a lane."""
    buses: dict[tuple[int, ...], list[_Node]] = {}
    for node in row:
        if node.parents:
            buses.setdefault(tuple(sorted(p.center for p in node.parents)), []).append(node)
    lanes: list[int] = []  # right end of the last line in each lane
    placed: list[tuple[tuple[int, ...], list[_Node], int | None]] = []
    for parents, children in sorted(buses.items(), key=lambda kv: min(
            [*kv[0], *(c.center for c in kv[1])])):
        xs = [*parents, *(c.center for c in children)]
        lane: int | None = None
        if len(set(xs)) > 1:
            lo, hi = min(xs), max(xs)
            lane = next((k for k, end in enumerate(lanes) if end + 1 < lo), None)
            if lane is None:
                lanes.append(hi)
                lane = len(lanes) - 1
            lanes[lane] = hi
        placed.append((parents, children, lane))
    bottom = len(lanes) + 1
    width = max([n.left + n.width for n in row] + [x + 1 for p, _, _ in placed for x in p])
    canvas = [[" "] * width for _ in range(bottom + 1)]

    def put(y: int, x: int, ch: str) -> None:
        rank = {" ": 0, "-": 1, "|": 2, "+": 3, "v": 3}
        if rank[ch] >= rank[canvas[y][x]]:
            canvas[y][x] = ch

    lowest: dict[int, int] = {}  # parent column -> the lowest line it joins
    for parents, children, lane in placed:
        y = bottom if lane is None else lane + 1
        for x in parents:
            lowest[x] = max(lowest.get(x, 0), y)
        if lane is not None:
            xs = [*parents, *(c.center for c in children)]
            for x in range(min(xs), max(xs) + 1):
                put(y, x, "-")
            for x in xs:
                put(y, x, "+")
        for child in children:
            for below in range(y + 1 if lane is not None else 1, bottom):
                put(below, child.center, "|")
            put(bottom, child.center, "v" if child.key else "|")
    for x, lowest_y in lowest.items():
        for y in range(0, min(lowest_y, bottom)):
            put(y, x, "|")
    return ["".join(line) for line in canvas]
