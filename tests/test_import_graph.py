"""The import graph of the project's own packages has no cycle, and ``lvsa``
never imports ``vqeval``.

The graph is read from the source with :mod:`ast` (nothing is imported):
its nodes are the modules of ``vqeval/``, ``metrics/`` (installed as
``vqeval.metrics``), ``lvsa/`` and ``generators/`` (installed as
``lvsa.generators``); an edge ``a -> b`` says module ``a`` imports project
module ``b``.

Which imports count, decided here once:

* **Every** import statement counts, wherever it stands: at module level,
  inside a function or method, under ``if TYPE_CHECKING:`` or in a
  ``try``. A function-level import is still a dependency (it runs the
  first time the function is called); moving an import into a function to
  dodge an ``ImportError`` hides a cycle without removing it, which is how
  the 125 function-level imports of issue 28 held cycles together. A
  ``TYPE_CHECKING`` import is a dependency of the code's meaning, and a
  layering that holds for the interpreter but not for the reader is not one.
* Imports of third-party packages (torch, ray, open_clip, timm, diffusers,
  ...) are no edges: those modules are not nodes of the project graph, so
  optional heavy dependencies may stay lazy, function-level imports. That
  is the only kind of import allowed to be lazy for a reason other than
  start-up time, and it needs no allowlist.
* ``from pkg import name`` is an edge to ``pkg.name`` when that is a module
  of the project, else to ``pkg`` itself (its ``__init__``: the package's
  public face). ``import pkg.sub`` is an edge to ``pkg.sub`` only: that a
  submodule's import runs its parent packages' ``__init__`` first is how
  Python works, not a dependency the importer chose, and counting it would
  make every package whose ``__init__`` re-exports a submodule a cycle.

There is no allowlist of project edges: any cycle fails, reported as the
chain of modules with the file and line of each import.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Source folder -> the name it is imported as.
ROOTS: dict[str, str] = {
    "vqeval": "vqeval",
    "metrics": "vqeval.metrics",
    "lvsa": "lvsa",
    "generators": "lvsa.generators",
}

Edge = tuple[str, int]  # (file relative to the repository, line)


def project_modules(repo: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of :data:`ROOTS`."""
    mods: dict[str, Path] = {}
    for folder, pkg in ROOTS.items():
        for f in sorted((repo / folder).rglob("*.py")):
            parts = list(f.relative_to(repo / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([pkg, *parts])] = f
    return mods


def _resolve(name: str, mods: Mapping[str, Path]) -> str | None:
    """The project module ``name`` lives in (itself, or its closest parent
    package that is a project module), ``None`` for third-party names."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imported_names(module: str, source: str, is_package: bool) -> Iterable[tuple[str, int]]:
    """(absolute dotted name, line) of every import in ``source``, at any depth."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                pkg = ".".join([*base, *([node.module] if node.module else [])])
            else:
                pkg = node.module or ""
            for a in node.names:
                # `from pkg import sub` names the submodule when there is one
                yield (f"{pkg}.{a.name}" if a.name != "*" else pkg), node.lineno
                yield pkg, -node.lineno  # the package itself, used when `sub` is no module


def import_graph(repo: Path = REPO) -> dict[str, dict[str, Edge]]:
    """Module -> {imported project module: (file, line) of the first such import}."""
    mods = project_modules(repo)
    graph: dict[str, dict[str, Edge]] = {}
    for mod, path in mods.items():
        out = graph.setdefault(mod, {})
        names = list(
            imported_names(mod, path.read_text(encoding="utf-8"), path.name == "__init__.py")
        )
        for i, (name, line) in enumerate(names):
            if line < 0:  # the package of a `from pkg import x`: only when x is no module
                sub = names[i - 1][0]
                if sub in mods:
                    continue
                line = -line
            target = _resolve(name, mods)
            if target is not None and target != mod and target not in out:
                out[target] = (str(path.relative_to(repo)), line)
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component with
    more than one module (or a module importing itself), sorted; [] = acyclic.

    Tarjan's algorithm, iterative (no recursion limit on deep graphs)."""
    nodes = set(graph) | {w for vs in graph.values() for w in vs}
    succ = {v: sorted(graph.get(v, ())) for v in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            recurse = False
            for j in range(i, len(succ[v])):
                w = succ[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in succ[v]:
                    comps.append(sorted(comp))
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return sorted(_cycle_in(c, succ) for c in comps)


def _cycle_in(comp: list[str], succ: Mapping[str, list[str]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    start, members = comp[0], set(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in succ[v]:
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def _describe(cycle: list[str], graph: Mapping[str, Mapping[str, Edge]]) -> str:
    steps = [
        f"  {a} -> {b}  ({graph[a][b][0]}:{graph[a][b][1]})" for a, b in itertools.pairwise(cycle)
    ]
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


# --------------------------------------------------------------------------- the finder


def test_cycle_finder_finds_cycles() -> None:
    g = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"], "f": ["g"], "g": ["f"]}
    assert find_cycles(g) == [["a", "b", "c", "a"], ["e", "e"], ["f", "g", "f"]]


def test_cycle_finder_passes_a_dag() -> None:
    g = {"a": ["b", "c"], "b": ["c", "d"], "c": ["d"], "d": []}
    assert find_cycles(g) == []


def test_graph_reads_function_level_and_relative_imports(tmp_path: Path) -> None:
    (tmp_path / "vqeval" / "sub").mkdir(parents=True)
    for d in ("metrics", "lvsa", "generators"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "vqeval" / "__init__.py").write_text("from vqeval.a import A\n")
    (tmp_path / "vqeval" / "a.py").write_text(
        "import numpy\nA = 1\ndef f():\n    from vqeval.sub import b\n"
    )
    (tmp_path / "vqeval" / "sub" / "__init__.py").write_text("")
    (tmp_path / "vqeval" / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n"
        "from vqeval import A\n"
    )
    (tmp_path / "lvsa" / "x.py").write_text("from vqeval.metrics import m\n")
    (tmp_path / "metrics" / "m.py").write_text("")
    g = import_graph(tmp_path)
    assert set(g["vqeval.a"]) == {"vqeval.sub.b"}  # numpy is no project module
    assert set(g["vqeval.sub.b"]) == {"vqeval.a", "vqeval"}
    assert set(g["lvsa.x"]) == {"vqeval.metrics.m"}
    assert find_cycles(g) == [["vqeval", "vqeval.a", "vqeval.sub.b", "vqeval"]]


# --------------------------------------------------------------------------- the rule


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, Edge]]:
    return import_graph()


def test_graph_covers_the_packages(graph: dict[str, dict[str, Edge]]) -> None:
    for mod in ("vqeval.pipeline", "vqeval.metrics.motion", "lvsa.api", "lvsa.generators.cli"):
        assert mod in graph
    assert "vqeval.analysis" in graph["vqeval.pipeline"]


def test_no_import_cycles(graph: dict[str, dict[str, Edge]]) -> None:
    cycles = find_cycles(graph)
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(
        _describe(c, graph) for c in cycles
    )


def test_lvsa_does_not_import_vqeval(graph: dict[str, dict[str, Edge]]) -> None:
    bad = [
        f"{a} -> {b}  ({where[0]}:{where[1]})"
        for a, out in sorted(graph.items())
        if a == "lvsa" or a.startswith("lvsa.")
        for b, where in sorted(out.items())
        if b == "vqeval" or b.startswith("vqeval.")
    ]
    assert not bad, "lvsa imports vqeval:\n" + "\n".join(bad)


#: Imports lvsa (its API, integrations and the generators' CLI) with every
#: ``vqeval`` module made unimportable; fails on the first attempt to import one.
_LVSA_ALONE = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "vqeval" or name.startswith("vqeval."):
            raise ImportError(f"lvsa must not import {name}")

sys.meta_path.insert(0, Block())
import lvsa
import lvsa.generators.cli
import lvsa.generators.runner
import lvsa.integrations
from lvsa.generators.version import package_version

assert package_version()
assert lvsa.frame_pattern is not None
print("ok", lvsa.__file__)
"""


@pytest.mark.packaging
def test_lvsa_imports_without_vqeval() -> None:
    """The cheap, honest check that lvsa stands on its own dependencies: a
    fresh interpreter imports it with ``vqeval`` unimportable (a fresh venv
    with only lvsa's dependencies would need the network)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _LVSA_ALONE],
        cwd=REPO,  # the checkout's lvsa first on sys.path
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok ") and str(REPO / "lvsa") in proc.stdout
