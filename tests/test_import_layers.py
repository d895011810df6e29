"""The import graph of tinynet: no circle, and every import points down the layers.

Every module of ``tinynet/`` and of ``kernels/`` (installed as ``tinynet.kernels``) is
parsed with ``ast``; each ``import``/``from ... import`` (at module level or inside a
function) and each ``importlib.import_module("tinynet...")`` / ``__import__`` with a
literal name is an edge, relative imports resolved. ``from pkg import name`` is an edge
to the submodule ``pkg.name`` when there is one, else to ``pkg`` itself; importing a
submodule is not counted as importing its parent package (Python runs the parent's
``__init__`` first, but that is not a dependency of the importing module's code).

The layers, lowest first (each may import only its own layer and the ones below;
the order of the design brief)::

    kernels <- backend <- autograd <- tensor <- functional <- nn, optim <- data <- models <- cli

plus the modules outside those packages: ``tinynet/backends.py`` (``tn.backends`` flags)
sits with the backend; ``tinynet/cuda.py`` (``tn.cuda``, a face of the backend that also
seeds the generator) sits with the tensor layer; ``metrics`` and ``serialization`` (used by the API and
the CLI) sit with ``data``; the package ``tinynet/__init__.py`` (the public API, which
gathers every layer except the CLI) sits between ``models`` and ``cli``, and
``tinynet/__main__.py`` on top. Only ``tinynet.backend`` imports ``tinynet.kernels``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TREES = {"tinynet": REPO / "tinynet", "tinynet.kernels": REPO / "kernels"}

#: rank of each layer (a module may import modules of equal or lower rank)
RANKS = {
    "kernels": 0,
    "backend": 1, "backends": 1,
    "cuda": 4,  # tn.cuda: a face of the backend that seeds the generator and names tn.cuda.amp (amp: 4)
    "autograd": 2,
    "tensor": 3,
    "functional": 4, "distributed": 4, "linalg": 4, "special": 4,  # tinynet/linalg.py: tn.linalg, a face of functional.linalg
    "amp": 4,  # tn.amp: autocast (its state is autograd/autocast_state.py) and GradScaler
    "_compile": 4,  # tn.compile's argument checks (stdlib only), usable by nn.Module.compile
    "nn": 5, "optim": 5, "func": 5,  # tinynet/func.py: tn.func, a face of nn.utils.stateless
    "data": 6, "metrics": 6, "serialization": 6, "utils": 6, "quantization": 6, "ao": 6, "privacy": 6,
    "onnx": 6,  # tinynet.onnx: the exporter (its hook slot is autograd/tracing.py, which never imports it)
    "models": 7,
    "<package>": 8,  # tinynet/__init__.py
    "cli": 9,
    "__main__": 10,
}

#: layers whose code must not import a tinynet module inside a function (such an import
#: usually hides an import circle); an optional heavy dependency (cupy) may still be lazy.
NO_FUNCTION_LEVEL_IMPORTS = ("backend", "cuda", "autograd", "tensor", "functional", "nn", "optim")


# --- building the graph ------------------------------------------------------------------------
def discover(trees=TREES) -> dict:
    """``{module name: (path, is_package)}`` for every .py file of the trees."""
    mods = {}
    for package, base in trees.items():
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            mods[".".join([package] + parts)] = (path, is_package)
    return mods


def _literal_prefix(node):
    """The module name an ``import_module``/``__import__`` call names: a string constant, or
    the literal start of an f-string (``f"tinynet.kernels.{kind}"`` -> ``"tinynet.kernels"``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value).rstrip(".")
    return None


def _dynamic_target(call):
    """The literal module name of ``importlib.import_module(...)`` or ``__import__(...)``, else None."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in ("import_module", "__import__") or not call.args:
        return None
    return _literal_prefix(call.args[0])


def imports_of(module: str, path: Path, is_package: bool, mods: dict):
    """``(target module, line, in a function)`` for every tinynet import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []

    def nearest(name):
        while name not in mods and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in mods else None

    def visit(node, in_function):
        """Record the imports among ``node``'s children (``in_function``: node is inside a function)."""
        for child in ast.iter_child_nodes(node):
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = ".".join(here[: len(here) - (child.level - 1)] + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in child.names]
            elif isinstance(child, ast.Call):
                target = _dynamic_target(child)
                if target:
                    targets = [target]
            for target in targets:
                if target == "tinynet" or target.startswith("tinynet."):
                    resolved = nearest(target)
                    if resolved and resolved != module:
                        found.append((resolved, child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def build_graph(mods: dict) -> dict:
    """``{module: {target: (line, in_function)}}`` (the first import of each pair)."""
    graph = {m: {} for m in mods}
    for module, (path, is_package) in mods.items():
        for target, line, in_function in imports_of(module, path, is_package, mods):
            graph[module].setdefault(target, (line, in_function))
    return graph


def find_cycle(graph: dict):
    """One import circle as a list of modules ``[a, b, ..., a]``, or None (iterative DFS)."""
    color = {m: 0 for m in graph}  # 0 new, 1 on the current path, 2 done
    for root in sorted(graph):
        if color[root]:
            continue
        path, stack = [], [(root, iter(sorted(graph[root])))]
        color[root] = 1
        path.append(root)
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in color:
                    continue
                if color[child] == 1:
                    return path[path.index(child):] + [child]
                if color[child] == 0:
                    color[child] = 1
                    path.append(child)
                    stack.append((child, iter(sorted(graph[child]))))
                    break
            else:
                color[node] = 2
                path.pop()
                stack.pop()
    return None


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "<package>"
    return parts[1]


def layer_violations(graph: dict, mods: dict) -> list:
    """Edges that point up the layers, or into kernels from outside the backend."""
    bad = []
    for module, targets in sorted(graph.items()):
        src = layer_of(module)
        for target, (line, _) in sorted(targets.items()):
            dst = layer_of(target)
            where = f"{mods[module][0].relative_to(REPO)}:{line}"
            if src not in RANKS or dst not in RANKS:
                bad.append(f"{where}: {module} -> {target}: layer {src if src not in RANKS else dst!r} has no rank "
                           "(add it to RANKS in tests/test_import_layers.py)")
            elif RANKS[dst] > RANKS[src]:
                bad.append(f"{where}: {module} ({src}) imports {target} ({dst}), a higher layer")
            elif dst == "kernels" and src not in ("kernels", "backend"):
                bad.append(f"{where}: {module} ({src}) imports {target}: only tinynet.backend imports kernels")
    return bad


@pytest.fixture(scope="module")
def graph():
    mods = discover()
    return mods, build_graph(mods)


# --- the checks -----------------------------------------------------------------------------------
def test_the_graph_sees_the_whole_package(graph):
    mods, edges = graph
    assert "tinynet.functional.methods" in mods and "tinynet.kernels.cpu" in mods
    assert "tinynet.functional.elementwise" in edges["tinynet.functional.methods"]
    assert sum(len(t) for t in edges.values()) > 300


def test_no_import_circle(graph):
    mods, edges = graph
    cycle = find_cycle(edges)
    if cycle:
        steps = [f"{a} -> {b} ({mods[a][0].relative_to(REPO)}:{edges[a][b][0]})" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import circle:\n  " + "\n  ".join(steps))


def test_imports_point_down_the_layers(graph):
    mods, edges = graph
    bad = layer_violations(edges, mods)
    assert not bad, "imports against the layer order:\n  " + "\n  ".join(bad)


def test_core_layers_import_tinynet_at_module_level_only(graph):
    """An import of a tinynet module inside a function of the core layers usually dodges a
    circle; with methods bound once (functional/methods.py) none is needed."""
    mods, edges = graph
    hidden = [f"{mods[m][0].relative_to(REPO)}:{line}: {m} imports {t} inside a function"
              for m, targets in sorted(edges.items()) if layer_of(m) in NO_FUNCTION_LEVEL_IMPORTS
              for t, (line, in_function) in sorted(targets.items()) if in_function]
    assert not hidden, "\n  ".join(["function-level imports:"] + hidden)


def test_tensor_methods_are_bound_in_one_place():
    """Only functional/methods.py installs Tensor methods; op modules do not import it."""
    mods = discover()
    edges = build_graph(mods)
    importers = sorted(m for m, targets in edges.items() if "tinynet.functional.methods" in targets)
    assert importers == ["tinynet.functional"], importers
    import tinynet as tn

    assert tn.Tensor.__getitem__ is tn.functional.methods.METHODS["__getitem__"]
    assert tn.Tensor.relu is tn.functional.relu


def test_tn_cuda_is_the_module_and_x_cuda_the_method():
    import types

    import tinynet as tn

    assert isinstance(tn.cuda, types.ModuleType) and tn.cuda.__name__ == "tinynet.cuda"
    assert callable(tn.cuda.is_available)
    assert not hasattr(tn.functional, "cuda")  # the Tensor method's function is functional.to_cuda
    assert tn.Tensor.cuda is tn.functional.to_cuda and tn.Tensor.cpu is tn.functional.to_cpu
    x = tn.ones(2)
    assert x.cpu() is x


# --- the checker itself ---------------------------------------------------------------------------
def test_checker_finds_a_circle_and_an_upward_edge(tmp_path):
    pkg = tmp_path / "tinynet"
    (pkg / "functional").mkdir(parents=True)
    (pkg / "nn").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "functional" / "__init__.py").write_text("from . import a\n")
    (pkg / "functional" / "a.py").write_text("from .b import f\n")
    (pkg / "functional" / "b.py").write_text("def f():\n    from .a import g\n")
    (pkg / "nn" / "__init__.py").write_text("")
    (pkg / "functional" / "c.py").write_text("import importlib\nm = importlib.import_module('tinynet.nn')\n")
    mods = discover({"tinynet": pkg})
    edges = build_graph(mods)
    cycle = find_cycle(edges)
    assert cycle is not None and set(cycle) == {"tinynet.functional.a", "tinynet.functional.b"}
    assert edges["tinynet.functional.b"]["tinynet.functional.a"][1] is True  # found inside the function
    global REPO
    saved, REPO = REPO, tmp_path
    try:
        bad = layer_violations(edges, mods)
    finally:
        REPO = saved
    assert any("tinynet.functional.c (functional) imports tinynet.nn (nn)" in b for b in bad), bad


def test_every_package_is_installed():
    """pyproject.toml lists packages explicitly: a new subpackage left out of the list would be
    missing from a regular (non-editable) install. Every folder with an ``__init__.py`` counts."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {name for name, (_, is_package) in discover().items() if is_package}
    assert found - listed == set(), f"add these to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
