"""No import cycle anywhere in ``hospeda.*`` (every lib and service), imports under
``TYPE_CHECKING`` included: a cycle is how a composition root ends up imported by
what it composes. The graph comes from grimp, the library behind import-linter."""

from __future__ import annotations

import grimp


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle through each import that is part of one, each cycle once."""
    found: dict[frozenset[str], list[str]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycle = [importer, *back]
                found.setdefault(frozenset(cycle), cycle)
    return list(found.values())


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("hospeda", cache_dir=None)
    assert len(graph.modules) > 100, "the hospeda namespace was not found whole"
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
