"""Imports flow downward (STYLE.md 7a): a folder of copa/ imports only from its own layer or
the layers below it, and within a layer the folders import each other without a cycle."""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "copa"

# Bottom first. A name is a folder of copa/ or a module directly in it ("__init__" = create_app).
LAYERS = [
    # plumbing no feature's code is above
    {
        "settings",
        "periods",
        "config",
        "db",
        "web",
        "refcache",
        "references",
        "emergency",
        "objectstore",
    },
    # shared services every feature may use
    {"extensions", "audit", "contacts", "areas", "catalog", "auth", "outbox"},
    # features
    {
        "signposts",
        "call_statistics",
        "notifications",
        "confidence",
        "reports",
        "feedback",
        "messages",
        "routing",
        "submissions",
        "targets",
    },
    # what reads or acts across features
    {"relay", "privacy", "review", "metrics", "open311", "pcc_report", "open_data"},
    # the app, its pages and its commands
    {"console", "cli", "demo", "openapi", "scheduler", "backup", "__init__"},
]


def _place(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports() -> dict[str, dict[str, list[str]]]:
    """{folder: {imported folder: ["file:line", ...]}}, every import statement counted."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _place(path)
        package = ["copa", *path.relative_to(PACKAGE).parent.parts]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                names = [".".join([*base, *(node.module or "").split(".")]).strip(".")]
                if node.module is None:  # from . import x
                    names = [".".join([*base, alias.name]) for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "copa" and len(parts) > 1 and parts[1] != source:
                    where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                    edges[source][parts[1]].append(where)
    return edges


def _layer_of() -> dict[str, int]:
    return {name: level for level, names in enumerate(LAYERS) for name in names}


def test_every_folder_of_the_package_has_a_layer():
    present = {_place(path) for path in PACKAGE.rglob("*.py")}
    assert present - set(_layer_of()) == set()
    assert set(_layer_of()) - present == set()  # no stale name


def test_no_folder_imports_one_in_a_layer_above_it():
    layer = _layer_of()
    upward = [
        f"{source} -> {target}: {', '.join(places)}"
        for source, targets in _imports().items()
        for target, places in targets.items()
        if layer[target] > layer[source]
    ]
    assert upward == []


def test_the_folders_of_one_layer_import_each_other_without_a_cycle():
    layer = _layer_of()
    graph = {
        source: {target for target in targets if layer[target] == layer[source]}
        for source, targets in _imports().items()
    }
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle between folders: {cycle.args[1]}") from None
