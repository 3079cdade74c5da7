"""The layers of the package, as the README's Architecture section draws them: each imports only
the layers to its left, and the domain imports neither Flask nor YAML."""

from __future__ import annotations

import ast
from pathlib import Path

import huskyvoice_sandbox
import pytest

PACKAGE = Path(huskyvoice_sandbox.__file__).parent
ORDER = ["domain", "spec", "worlds", "session", "web", "remote", "serve"]
# What each layer may import from the package: the layers to its left, and the top-level modules.
ALLOWED = {layer: set(ORDER[:i + 1]) | {"resources", "__init__"} for i, layer in enumerate(ORDER)}
FOREIGN = {"domain": {"flask", "werkzeug", "yaml", "jsonschema", "waitress"}}


def imports(path: Path) -> list[tuple[str, int]]:
    """The package modules a file imports (first segment under `sandbox`), and third-party ones."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                parts = list(path.relative_to(PACKAGE).parts[:-1])[:depth - node.level + 1]
                target = parts + (node.module.split(".") if node.module else [])
                if target:
                    found.append((target[0], node.lineno))
                else:  # `from .. import x`: a module or layer of the package, else its __init__
                    found += [(alias.name if (PACKAGE / alias.name).exists()
                               or (PACKAGE / f"{alias.name}.py").exists() else "__init__", node.lineno)
                              for alias in node.names]
            elif node.module:
                found.append((f"!{node.module.split('.')[0]}", node.lineno))
        elif isinstance(node, ast.Import):
            found += [(f"!{alias.name.split('.')[0]}", node.lineno) for alias in node.names]
    return found


@pytest.mark.parametrize("layer", ORDER)
def test_each_layer_imports_only_the_layers_to_its_left(layer: str) -> None:
    wrong = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name, line in imports(path):
            if name.startswith("!"):
                if name[1:] in FOREIGN.get(layer, set()):
                    wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {name[1:]}")
            elif name not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports sandbox.{name}")
    assert not wrong, "\n".join(wrong)


def test_every_module_is_in_a_layer() -> None:
    loose = {p.name for p in PACKAGE.glob("*.py")} - {"__init__.py", "resources.py"}
    assert not loose, f"modules outside the layers: {sorted(loose)}"


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules one file imports, at module level or inside a function (a lazy
    import is still a dependency), each resolved to the module it names."""
    here = module_of(path).split(".") if module_of(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for alias in node.names:
                named = ".".join([*base, alias.name])
                found.add(named if named in modules else ".".join(base))
    return found & modules


def test_the_package_has_no_import_cycle() -> None:
    """Each module's imports, lazy ones included, form no cycle. The package's own __init__ is
    the public facade (its names are imported on first use) and counts only as imported."""
    paths = {module_of(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    graph = {name: module_imports(path, modules) - {name, ""} for name, path in paths.items() if name}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(name):] + [name]))
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
