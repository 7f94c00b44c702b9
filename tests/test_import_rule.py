"""
The import rule of DESIGN.md ("Layout"), checked over every module of every package,
imports inside functions included: each package imports only the packages below it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each of our packages may import of ours (config/ wires everything).
MAY_IMPORT = {
    "api": set(),
    "crisis": {"api"},
    "playbooks": {"api", "crisis"},
    "incidents": {"api", "crisis", "playbooks"},
    "integrations": {"api", "crisis", "playbooks", "incidents"},
}
OURS = {*MAY_IMPORT, "config", "bench", "tests"}


def imported_packages(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, top-level package of ours) for every import in the module, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside its own package.
            names = [package] if node.level else [node.module or ""]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in OURS]
    return found


def modules():
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


@pytest.mark.parametrize(("package", "path"), list(modules()), ids=lambda v: str(v).replace(str(ROOT), ""))
def test_a_module_imports_only_packages_below_its_own(package, path):
    allowed = MAY_IMPORT[package] | {package}
    wrong = [f"line {line}: {name}" for line, name in imported_packages(path, package) if name not in allowed]
    assert wrong == []


def test_the_rule_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from incidents import clock\n    import crisis.models\n")
    assert imported_packages(module, "api") == [(2, "incidents"), (3, "crisis")]


def test_every_package_of_ours_is_under_the_rule():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"config", "bench", "tests"} == set(MAY_IMPORT) & packages
