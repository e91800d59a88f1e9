"""The package's import graph has no circle, between modules or between its parts.

Every ``import`` of every module of ``codegan/`` counts, those inside functions too (a late
import is still a dependency; it only hides the circle from Python until the function runs).
Parts are the top-level modules (``codegan.config``, ...) and sub-packages (``codegan.data``,
``codegan.training``, ...): a module may import anything below its part, never above it, so the
layers stay what README's Layout table says they are.
"""

import ast
import importlib
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "codegan"


def package_modules() -> dict:
    """{dotted module name: file path} of every module under codegan/."""
    out = {}
    for root, _, files in os.walk(os.path.join(REPO, PKG)):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                name = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                out[name.removesuffix(".__init__")] = path
    return out


def imports_of(name: str, path: str, modules: dict) -> list:
    """``(target, attribute or None, line)`` for each import of ``codegan`` code in the file:
    the imported module, and the name taken from it when that name is not itself a module."""
    is_pkg = path.endswith("__init__.py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    out = []
    for node in ast.walk(tree):  # every statement, inside functions and classes too
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names
                    if a.name.split(".")[0] == PKG]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                parts = name.split(".")
                base = parts[:len(parts) - node.level + (1 if is_pkg else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            if module.split(".")[0] != PKG:
                continue
            for a in node.names:
                sub = f"{module}.{a.name}"
                out.append((sub, None, node.lineno) if sub in modules else
                           (module, a.name, node.lineno))
    return out


def graph() -> dict:
    modules = package_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(edges: dict):
    """One circle of ``edges`` ({node: set of nodes}) as a list of nodes, or None."""
    state = {}  # node -> 1 while on the DFS stack, 2 when done

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, stack)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def part_of(module: str) -> str:
    """``codegan.data.augment`` -> ``codegan.data``; ``codegan.config`` -> itself."""
    return ".".join(module.split(".")[:2])


def test_every_import_names_something_that_exists():
    """A moved module leaves no stale import behind, not even inside a function."""
    modules = package_modules()
    stale = []
    for name, targets in graph().items():
        for target, attr, line in targets:
            if target not in modules:
                stale.append(f"{name}:{line} imports {target}")
            elif attr is not None and attr != "*" and \
                    not hasattr(importlib.import_module(target), attr):
                stale.append(f"{name}:{line} imports {attr} from {target}")
    assert not stale, "\n".join(stale)


def test_no_import_circle_between_modules():
    edges = {name: {t for t, _, _ in targets if t != name} for name, targets in graph().items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_no_import_circle_between_parts_of_the_package():
    edges = {}
    for name, targets in graph().items():
        if name == PKG:
            continue
        edges.setdefault(part_of(name), set()).update(
            part_of(t) for t, _, _ in targets if part_of(t) not in (part_of(name), PKG))
    cycle = find_cycle(edges)
    assert cycle is None, "import circle between parts: " + " -> ".join(cycle)


def test_the_checker_sees_circles_and_late_imports(tmp_path, monkeypatch):
    """The walker counts an import inside a function, and a circle through it is reported."""
    pkg = tmp_path / PKG
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n    from . import c\n")
    (pkg / "sub" / "c.py").write_text("import codegan.a\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", str(tmp_path))
    g = graph()
    assert [t[:2] for t in g["codegan.sub.b"]] == [("codegan.a", "g"), ("codegan.sub.c", None)]
    edges = {n: {t for t, _, _ in ts} for n, ts in g.items()}
    assert find_cycle(edges) == ["codegan.a", "codegan.sub.b", "codegan.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_reading_settings_imports_no_torch():
    """codegan.config (and so settings_doc, the settings checks of every command) loads without
    torch: the command-line checks answer in a fraction of a second, and the settings' names
    that the networks also need (sn_power_order's choices) live in config, read by nets."""
    import subprocess

    code = ("import sys, codegan.config, codegan.settings_doc; "
            "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
