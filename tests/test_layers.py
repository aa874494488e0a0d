"""The direction of the house, checked by walking every import in node/ with ast: no cycles, and nothing imports
against the road (cli/commands, web → processing → activitypub, governance → store → db)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = [  # (importer, imported, why)
    ("node.activitypub", "node.web", "the wire does not call views"),
    ("node.governance", "node.activitypub", "rules know nothing of the wire"),
    ("node.governance", "node.web", "rules know nothing of pages"),
    ("node.governance", "node.processing", "rules are called, they do not call up"),
    ("node.processing", "node.web", "use cases know nothing of pages"),
    ("node.processing", "node.commands", "use cases know nothing of the CLI"),
    ("node.store", "node.activitypub", "queries know nothing of the wire"),
    ("node.store", "node.governance", "queries know nothing of rules"),
    ("node.store", "node.processing", "queries know nothing of use cases"),
    ("node.store", "node.web", "queries know nothing of pages"),
    *[("node.db", upper, "the database layer imports nothing above it")
      for upper in ("node.commands", "node.web", "node.activitypub", "node.governance", "node.processing",
                    "node.store")],
]


def _name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the project modules it imports (at any depth of the file, TYPE_CHECKING blocks included)."""
    modules = {_name(root, f): f for f in (root / "node").rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        parts, found = name.split("."), set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = parts if path.name == "__init__.py" else parts[:-1]
                module = (".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
                          if node.level else node.module or "")
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    return [f"{m} -> {d} ({why})" for m, deps in sorted(graph.items()) for d in sorted(deps)
            for a, b, why in FORBIDDEN if _under(m, a) and _under(d, b)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_layers__node_has_no_cycles_and_no_import_against_the_house():
    graph = import_graph(ROOT)
    assert len(graph) > 50  # the walk really found the package
    assert wrong_way(graph) == []
    assert cycles(graph) == []


def test_layers__the_check_catches_a_wrong_way_import_and_a_cycle(tmp_path):
    # Given a small package where the wire imports a view and two rules import each other
    files = {
        "node/__init__.py": "",
        "node/web/__init__.py": "",
        "node/web/page.py": "X = 1\n",
        "node/activitypub/__init__.py": "",
        "node/activitypub/wire.py": "from node.web.page import X\n",
        "node/governance/__init__.py": "",
        "node/governance/a.py": "from node.governance import b\n",
        "node/governance/b.py": "if False:\n    from node.governance import a\n",
        "node/store/__init__.py": "",
        "node/store/q.py": "from ..governance import a\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    graph = import_graph(tmp_path)
    # Then each is reported
    assert wrong_way(graph) == ["node.activitypub.wire -> node.web.page (the wire does not call views)",
                                "node.store.q -> node.governance (queries know nothing of rules)",
                                "node.store.q -> node.governance.a (queries know nothing of rules)"]
    assert cycles(graph) == [["node.governance.a", "node.governance.b"]]


def test_layers__no_test_module_imports_another():
    # Shared test code lives in helper modules (factories, fediverse, webclient, …), never in a test_*.py
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name} -> {n}" for n in names if n.startswith("tests.test_")]
    assert found == []
