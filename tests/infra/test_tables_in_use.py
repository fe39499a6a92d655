"""No dead tables: every table the schema declares is read or written by some module of the program
(issue 15 found three that nothing used). A table nobody uses is either removed by a migration or used."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlmodel import SQLModel

import program.infra.models
import program.privacy.tables

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = {Path(program.infra.models.__file__).resolve(), Path(program.privacy.tables.__file__).resolve()}


def _table_classes() -> dict[str, str]:
    """Table name -> class name, for every SQLModel table class in the two modules that declare them."""
    found = {}
    for module in (program.infra.models, program.privacy.tables):
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, SQLModel) and hasattr(value, "__table__"):
                if value.__module__ == module.__name__:
                    found[str(value.__table__.name)] = name
    return found


def _names_used_outside_the_definitions() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "program").rglob("*.py"):
        if path.resolve() in DEFINITIONS or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.alias):
                used.add(node.asname or node.name)
    return used


def test_every_table_is_declared_once_and_on_the_metadata() -> None:
    classes = _table_classes()
    assert set(classes) == set(SQLModel.metadata.tables)


def test_every_table_is_used_by_the_program() -> None:
    used = _names_used_outside_the_definitions()
    unused = sorted(name for name in _table_classes().values() if name not in used)
    assert unused == []
