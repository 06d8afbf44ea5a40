"""The package's shape: no import cycles (function-local imports included), no private names imported across
modules, the core never imports the front ends, no module grows past the size one can read, and the README's
layout names every core module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("longcat_i2v", "demo", "eval", "interop")
FRONT_ENDS = ("demo", "eval", "interop", "gradio", "hydra", "omegaconf", "wandb")
MAX_LINES = 400


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import statement of a module, anywhere in it."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, [alias.name for alias in node.names]))
    return found


def graph(package: str) -> dict[str, set[str]]:
    mods = modules(package)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target, names in imports(name, path):
            for candidate in [target] + [f"{target}.{n}" for n in names]:
                if candidate in mods and candidate != name:
                    edges[name].add(candidate)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    edges = graph(package)
    # A package's __init__ re-exporting its submodules is not a cycle of the method's modules.
    for name in edges:
        edges[name] = {t for t in edges[name] if t != package}
    assert find_cycle(edges) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_names_imported_across_modules(package):
    offenders = []
    for name, path in modules(package).items():
        for target, names in imports(name, path):
            if target.split(".")[0] in PACKAGES:
                offenders += [f"{name}: from {target} import {n}" for n in names if n.startswith("_")]
    assert offenders == []


def test_core_never_imports_front_ends():
    offenders = []
    for name, path in modules("longcat_i2v").items():
        for target, _ in imports(name, path):
            if target.split(".")[0] in FRONT_ENDS:
                offenders.append(f"{name} imports {target}")
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_readable(package):
    long = {name: n for name, path in modules(package).items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_readme_layout_names_every_core_module():
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    named = set(re.findall(r"\b(\w+)\.py\b", layout))
    missing = [p.stem for p in (ROOT / "longcat_i2v").glob("*.py") if p.stem != "__init__" and p.stem not in named]
    assert missing == [], "README's Layout section does not name these core modules"
