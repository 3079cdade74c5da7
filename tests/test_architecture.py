"""The layers of the package, as the README's Architecture section draws them: each imports only
the layers to its left, and the domain imports neither Flask nor YAML."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

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


# -- every operation of the spec has its pieces (docs/architecture.md, "Adding an operation") ----

ROOT = Path(__file__).parents[1]
SLICES = PACKAGE / "web" / "slices"


def snake(operation_id: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation_id)


def view_function(module: ast.Module, operation_id: str) -> ast.FunctionDef | None:
    """The function registered with `@view("<operation_id>")` in a slice."""
    for node in module.body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Name)
                        and decorator.func.id == "view" and decorator.args
                        and isinstance(decorator.args[0], ast.Constant) and decorator.args[0].value == operation_id):
                    return node
    return None


def domain_modules(module: ast.Module) -> set[str]:
    """The names a slice imports from the domain package (`from ...domain import calendar`)."""
    return {alias.asname or alias.name for node in module.body if isinstance(node, ast.ImportFrom)
            and node.level and node.module == "domain" for alias in node.names}


def use_cases(function: ast.FunctionDef, modules: set[str]) -> set[str]:
    """The domain functions a view calls (`calendar.create(...)`)."""
    return {f"{call.func.value.id}.{call.func.attr}" for call in ast.walk(function)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id in modules}


def scenario_requests(app: Any) -> dict[str, list[str]]:
    """Each operation's successful scenario steps (fixtures/scenarios), by the app's routing."""
    from huskyvoice_sandbox.resources import scenarios_dir
    from huskyvoice_sandbox.worlds.world import load_world_file
    adapter = app.url_map.bind("sandbox")
    found: dict[str, list[str]] = {}
    for path in sorted(scenarios_dir().glob("*.yaml")):
        scenario = load_world_file(path).scenario or {"steps": []}
        for step in scenario["steps"]:
            request, status = step["request"], step["expect"]["status"]
            try:
                endpoint, _ = adapter.match(request["path"].partition("?")[0], request["method"])
            except Exception:  # noqa: S112 - a step about an unknown path is not an operation's
                continue
            if 200 <= status < 300:
                found.setdefault(endpoint.removeprefix("api."), []).append(path.name)
    return found


def test_every_operation_of_the_spec_has_its_pieces(app: Any, contract: Any) -> None:
    """What the recipe in docs/architecture.md adds for an operation, checked for each one the
    spec has: its view in the slice its tag names, calling a use case of the domain; a scenario
    that succeeds with it; a test that names it; its description in the spec (what /docs
    shows); whether the contract kit may send it (if it writes) to a deployment. A new
    operation fails here until it has them all."""
    scenarios = scenario_requests(app)
    tests = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").glob("test_*.py"))
                      if p.name != Path(__file__).name)
    missing = []
    for operation_id, op in contract.operations.items():
        document = contract.spec["paths"][op.path][op.method.lower()]
        lacks = []
        slice_path = SLICES / f"{document['tags'][0]}.py"
        module = ast.parse(slice_path.read_text(encoding="utf-8")) if slice_path.exists() else ast.Module([], [])
        function = view_function(module, operation_id)
        if function is None:
            lacks.append(f"a @view in {slice_path.relative_to(PACKAGE)}")
        elif not use_cases(function, domain_modules(module)):
            lacks.append("a use case of sandbox/domain/ that its view calls")
        if operation_id not in scenarios:
            lacks.append("a fixtures/scenarios step that succeeds with it")
        if f'"{operation_id}"' not in tests and f".{snake(operation_id)}(" not in tests:
            lacks.append("a test in tests/ that names it (its operationId or its handle helper)")
        if len(document.get("description", "")) < 40:
            lacks.append("its description in openapi.yaml (its documentation: /docs shows it)")
        if op.method != "GET" and "x-on-a-deployment" not in document:  # a read is always safe
            lacks.append("x-on-a-deployment in openapi.yaml")
        if lacks:
            missing.append(f"{operation_id} lacks " + "; ".join(lacks))
    assert not missing, "\n".join(missing)
