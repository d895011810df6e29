"""PyTorch programs run unchanged but for their imports, and learn as they do under PyTorch.

Each script in ``examples/pytorch/`` is written for PyTorch (a plain MLP, the MNIST-style CNN,
a word-level LSTM language model in the style of PyTorch's example, and a small character
GPT in the style of the well-known "let's build GPT" script). Here every script is run
twice: as written, with PyTorch, and with its ``torch`` imports rewritten to tinynet
(``import torch`` -> ``import tinynet as torch``, ``torch.nn`` -> ``tinynet.nn``, ...): nothing
else in the file changes. The tinynet run must finish and reach the same quality as the
PyTorch run within a tolerance (random streams differ between the two libraries, so equal
numbers are not expected; the tolerances are a few times the seed-to-seed spread).
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
import types

import pytest

torch = pytest.importorskip("torch")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples" / "pytorch"

_IMPORT = re.compile(r"^(\s*)(import|from) torch\b(.*)$", re.M)


def tinynet_source(source: str) -> str:
    """Change only the import lines: ``torch`` -> ``tinynet`` (``torch.utils.data`` has a twin)."""
    def swap(m):
        indent, kw, rest = m.groups()
        if kw == "import" and (rest == "" or rest.startswith(" ")):
            return f"{indent}import tinynet as torch{rest}" if not rest.strip().startswith("as") else \
                f"{indent}import tinynet{rest}"
        return f"{indent}{kw} tinynet{rest}"
    return _IMPORT.sub(swap, source)


def load(name: str, with_tinynet: bool) -> types.ModuleType:
    path = EXAMPLES / f"{name}.py"
    source = path.read_text()
    if with_tinynet:
        source = tinynet_source(source)
        assert not re.search(r"^\s*(import|from) torch\b", source, re.M)
    module = types.ModuleType(f"example_{name}_{'tinynet' if with_tinynet else 'torch'}")
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def test_only_imports_change():
    src = (EXAMPLES / "cnn_digits.py").read_text()
    new = tinynet_source(src)
    changed = [(a, b) for a, b in zip(src.splitlines(), new.splitlines()) if a != b]
    assert changed and all(a.lstrip().startswith(("import torch", "from torch")) for a, _ in changed)
    assert "import tinynet as torch" in new and "import tinynet.nn as nn" in new
    assert "from tinynet.utils.data import DataLoader, TensorDataset" in new


def _polynomial(ours, theirs):
    """The custom-Function fit starts from fixed values: the same loss to float32 rounding;
    the fits from random starts: the same quality (the cubic's optimum is about 8.8)."""
    assert ours[1] == pytest.approx(theirs[1], rel=1e-3)
    for o, t in zip(ours[2:], theirs[2:]):
        assert o <= 1.5 * t + 5.0


#: (script, run kwargs, "higher" or "lower" is better (or a comparison), allowed relative gap)
PROGRAMS = [
    ("mlp_digits", {"epochs": 8}, "higher", 0.05),
    ("cnn_digits", {"epochs": 3}, "higher", 0.08),
    ("lstm_lm", {"epochs": 2}, "lower", 0.15),
    ("char_gpt", {"max_iters": 150, "eval_iters": 8}, "lower", 0.08),
    ("transformer_lm", {"epochs": 2}, "lower", 0.08),
    ("vae", {"epochs": 4}, "lower", 0.08),
    ("polynomial_fit", {"steps": 1500}, _polynomial, None),
]


@pytest.mark.parametrize("name,kwargs,better,gap", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_program_runs_and_learns_like_pytorch(name, kwargs, better, gap):
    logs = []
    ours = load(name, True).run(log=lambda *a: logs.append(a), **kwargs)
    theirs = load(name, False).run(log=lambda *a: None, **kwargs)
    assert logs, "the script ran without logging anything"
    if callable(better):
        better(ours, theirs)
    elif better == "higher":
        assert ours >= theirs * (1 - gap), (name, ours, theirs, logs[-3:])
    else:
        assert ours <= theirs * (1 + gap), (name, ours, theirs, logs[-3:])
