"""
crisis/ knows nothing of the packages above it at the ORM level either: no lookup through
a relation their models point at crisis models (`Mention.wave_link`, `Brand.incidents`),
no model of theirs named as a string. (Imports: tests/test_import_rule.py.)
"""

import ast
from pathlib import Path

import pytest
from django.apps import apps

import crisis

ABOVE = ("playbooks", "incidents", "integrations")
SOURCES = sorted(Path(crisis.__file__).parent.rglob("*.py"))


def relations_from_above() -> set[str]:
    """The names crisis models answer to for the relations that models above crisis/ point at them."""
    names = set()
    for label in ABOVE:
        if label not in apps.app_configs:
            continue
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.get_fields():
                target = getattr(field, "related_model", None)
                if field.concrete and field.is_relation and target and target._meta.app_label == "crisis":
                    names.add(field.related_query_name())
                    names.add(field.remote_field.get_accessor_name())
    return names - {None, "+"}


def docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def names_used(tree):
    """Identifiers, keyword arguments and ORM lookups written as strings, with their line."""
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.lineno, node.arg
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_crisis_names_no_model_of_the_desk(path):
    """Not even at run time: apps.get_model("incidents", …), a string foreign key "incidents.…"."""
    tree = ast.parse(path.read_text(), filename=str(path))
    prefixes = tuple(f"{label}." for label in ABOVE)
    found = [(line, n) for line, n in names_used(tree) if n in ABOVE or n.startswith(prefixes)]
    assert found == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_crisis_names_no_relation_of_the_desk(path):
    relations = relations_from_above()
    assert "wave_link" in relations  # the one detection used to exclude counted mentions through
    tree = ast.parse(path.read_text(), filename=str(path))
    # `wave_link`, `wave_link__isnull`, `Count("wave_link__…")`: the first part of a lookup.
    found = [(line, name) for line, name in names_used(tree) if name.split("__")[0] in relations]
    assert found == []
