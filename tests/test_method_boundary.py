"""The boundary between the methods and the rest holds both ways, read from the source:

* the evaluations (``codegan/evaluation/``: the protocols, sampling, traversals, the comparison's
  report) and the comparison command (``codegan/compare.py``) never name a method: no registered
  method name as a string literal, no branch on ``cfg.method``, no import of one method's module;
  they ask ``METHODS[cfg.method]`` through its hooks (``Method.represent`` and the rest);
* a method never writes the loop's state: no assignment to an attribute (or an item) of the
  loop, no in-place change of one of its containers, no ``setattr`` on it, in
  ``codegan/methods/``; it answers the loop's questions instead (``batches_per_iteration``,
  ``lr_factor``, ``eval_data``).
"""

import ast
import glob
import os

import pytest
import torch

from codegan.methods import METHODS

from conftest import REPO

PKG = os.path.join(REPO, "codegan")
# the modules that reach a method only through METHODS and its hooks
NEUTRAL = sorted(glob.glob(os.path.join(PKG, "evaluation", "*.py"))) + \
    [os.path.join(PKG, "compare.py")]
METHOD_MODULES = sorted(glob.glob(os.path.join(PKG, "methods", "*.py")))
# in-place changes of a container (a dict of the loop's, a list)
MUTATORS = {"setdefault", "update", "append", "extend", "insert", "pop", "popitem", "clear",
            "remove", "__setitem__", "__delitem__"}


def tree(path: str) -> ast.AST:
    with open(path) as f:
        return ast.parse(f.read(), path)


def where(path: str, node: ast.AST) -> str:
    return f"{os.path.relpath(path, REPO)}:{node.lineno}"


def names_a_method(path: str) -> list:
    """``path:line: what`` for each place the module names a method."""
    names = set(METHODS)
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value in names:
            found.append(f"{where(path, node)}: the method name {node.value!r}")
        elif isinstance(node, ast.Compare):  # cfg.method == ..., cfg.method in (...)
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "method" for s in sides):
                found.append(f"{where(path, node)}: a branch on the method setting")
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if "methods" in parts and parts.index("methods") < len(parts) - 1:
                found.append(f"{where(path, node)}: imports {node.module}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("codegan.methods."):
                    found.append(f"{where(path, node)}: imports {a.name}")
    return found


def is_loop(node: ast.AST) -> bool:
    """``self.loop`` or a local ``loop`` (the methods' alias of it)."""
    return (isinstance(node, ast.Name) and node.id == "loop") or \
        (isinstance(node, ast.Attribute) and node.attr == "loop" and
         isinstance(node.value, ast.Name) and node.value.id == "self")


def rooted_in_loop(node: ast.AST) -> bool:
    """An attribute or item of the loop, at any depth (``loop.x``, ``loop.x[k]``, ...)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if is_loop(node.value):
            return True
        node = node.value
    return False


def writes_the_loop(path: str) -> list:
    """``path:line: what`` for each write of the loop's state in a method module."""
    found = []
    for node in ast.walk(tree(path)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = getattr(node, "targets", None) or [node.target]
        for t in targets:
            elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
            found += [f"{where(path, node)}: writes {ast.unparse(e)}" for e in elts
                      if rooted_in_loop(e)]
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in MUTATORS and rooted_in_loop(f.value):
                found.append(f"{where(path, node)}: changes {ast.unparse(f.value)} in place")
            if isinstance(f, ast.Name) and f.id in ("setattr", "delattr") and node.args \
                    and is_loop(node.args[0]):
                found.append(f"{where(path, node)}: {f.id} on the loop")
    return found


def test_the_checks_cover_the_modules_they_are_about():
    rel = {os.path.relpath(p, PKG) for p in NEUTRAL}
    for module in ("e_based.py", "disentangle.py", "split_codes.py", "sampling.py",
                   "traversal.py", "compare_report.py", "evaluate.py"):
        assert os.path.join("evaluation", module) in rel, module
    assert "compare.py" in rel
    assert {os.path.basename(p) for p in METHOD_MODULES} >= {"congan.py", "mathieu16.py",
                                                             "base.py"}


def test_no_evaluation_module_names_a_method():
    found = [hit for path in NEUTRAL for hit in names_a_method(path)]
    assert not found, "evaluation that names a method; ask METHODS[cfg.method] instead:\n" + \
        "\n".join(found)


def test_no_method_writes_the_loops_state():
    found = [hit for path in METHOD_MODULES for hit in writes_the_loop(path)]
    assert not found, "a method writes the loop's state; add a hook the loop asks:\n" + \
        "\n".join(found)


def test_the_checks_catch_what_they_are_for(tmp_path):
    """Both checks find the leaks they are about (what the code held before its hooks)."""
    named = tmp_path / "named.py"
    named.write_text(
        "from ..methods.mathieu16 import PUBLISHED_PROBES\n"
        "def what(cfg):\n"
        "    return 'E_c features' if cfg.method == 'codegan' else 'other'\n")
    hits = names_a_method(str(named))
    assert len(hits) == 3 and any("mathieu16" in h for h in hits), hits
    written = tmp_path / "written.py"
    written.write_text(
        "class M:\n"
        "    def __init__(self, loop):\n"
        "        loop.iters_per_epoch = 1\n"
        "        loop.eval_data.setdefault('train_x', loop.train_x)\n"
        "        self.loop.opt['G'].param_groups[0]['lr'] = 0.1\n"
        "        setattr(self.loop, 'x', 1)\n"
        "    def fine(self):\n"
        "        loop = self.loop\n"
        "        x = loop.real(loop.train_x)\n"
        "        self.loop.opt['G'].step()\n"
        "        return x\n")
    hits = writes_the_loop(str(written))
    assert len(hits) == 4, hits


# -- the hook's contract, for every registered method -------------------------------------------
FOLDERS = {"congan": "CIFAR-10"}  # where a method's networks fit; MNIST for the others


@pytest.mark.parametrize("name", sorted(METHODS))
def test_represent_gives_what_codes_promises(name):
    """``represent`` returns exactly the keys of ``codes``, as (n, d) float tensors;
    ``class_probs`` (with a class head) are rows of K probabilities; the E-based features are
    ``eval_encoder``'s wherever a method also keeps that one (one path, not two that agree)."""
    from codegan.config import load_config
    from codegan.data.datasets import DATASETS
    from codegan.methods import build_method_nets

    folder = os.path.join(REPO, FOLDERS.get(name, "MNIST"))
    cfg = load_config(os.path.join(folder, "param.yml"), {"method": name})
    method = METHODS[name]
    torch.manual_seed(0)
    nets = build_method_nets(folder, cfg).eval()
    spec = DATASETS[cfg.dataset]
    lo, hi = spec.image_range
    x = torch.rand(6, spec.channels, spec.size, spec.size) * (hi - lo) + lo
    with torch.no_grad():
        out = method.represent(nets, cfg, x)
        assert set(out) == set(method.codes(cfg)) and "features" in out
        for key, v in out.items():
            assert v.dtype == torch.float32 and v.dim() == 2 and len(v) == len(x), key
        assert ("class_probs" in out) == (method.class_head and cfg.zc_dim > 0)
        if "class_probs" in out:
            p = out["class_probs"]
            assert p.shape[1] == cfg.zc_dim and bool((p >= 0).all())
            assert torch.allclose(p.sum(1), torch.ones(len(x)), atol=1e-5)
        module, read = method.eval_encoder(nets, cfg)
        assert torch.allclose(read(module(x)).float(), out["features"], atol=1e-6)
    assert method.describe(cfg)
