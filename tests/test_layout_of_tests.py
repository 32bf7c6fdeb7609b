"""The layout of the test suite: what tests share lives in tests/support, and no test module
imports another (an AST scan, no test is run)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUPPORT = TESTS / "support"
MOVE = "move the shared code to tests/support and import it from tests.support"


def _modules() -> list[Path]:
    return sorted([*TESTS.glob("*.py"), *SUPPORT.glob("*.py")])


def _imports(tree: ast.Module) -> list[tuple[int, list[str]]]:
    """Each import statement or ``pytest_plugins`` line, with the module names it may name."""
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.append((node.lineno, [node.module, *names]))
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            plugins = ast.walk(node.value)
            strings = [c.value for c in plugins if isinstance(c, ast.Constant)]
            found += [(node.lineno, [name]) for name in strings if isinstance(name, str)]
    return found


def _forbidden(name: str) -> bool:
    """A test module or conftest (under any name), or tests/support under another name than
    ``tests.support`` (pytest also puts tests/ on ``sys.path``: it would be imported twice)."""
    top, _, rest = name.partition(".")
    if top == "tests":
        return rest != "" and rest.split(".")[0] != "support"
    return top == "support" or top in {path.stem for path in TESTS.glob("*.py")}


def test_no_test_module_imports_another() -> None:
    found = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {bad[0]}"
        for path in _modules()
        for line, names in _imports(ast.parse(path.read_text(), str(path)))
        if (bad := [name for name in names if _forbidden(name)])
    ]
    assert found == [], f"{MOVE}:\n" + "\n".join(found)


def test_only_test_modules_and_conftest_sit_beside_support() -> None:
    helpers = [
        path.name
        for path in TESTS.glob("*.py")
        if not path.name.startswith("test_") and path.name != "conftest.py"
    ]
    assert helpers == [], f"{MOVE}: {helpers}"


def test_each_world_is_defined_once_in_support() -> None:
    worlds = Counter[str]()
    outside: list[str] = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and node.name.endswith("World"):
                worlds[node.name] += 1
                if path.parent != SUPPORT:
                    outside.append(f"{path.name}: {node.name}")
    assert outside == [], f"{MOVE}: {outside}"
    assert [name for name, n in worlds.items() if n > 1] == []
    assert "World" not in worlds, "name each world after what it builds (ApiWorld, ...)"
