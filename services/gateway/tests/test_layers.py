"""How the gateway's modules may depend on each other (docs/CONVENTIONS.md,
"Gateway routes"): a route gets its collaborators from ``deps`` and never
reaches the composition root; it opens no transaction and writes no outbox
message itself (the use cases in ``service/`` and ``forward`` do); the
identity areas do not call each other."""

from __future__ import annotations

import grimp
import pytest

GATEWAY = "hospeda.gateway"
APP = f"{GATEWAY}.app"
SERVICE = f"{GATEWAY}.service"
# what only the use cases touch: the SQL, the outbox, the unit of work
USE_CASES_ONLY = (f"{GATEWAY}.repository", f"{GATEWAY}.outgoing", "hospeda.runtime.db")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("hospeda", cache_dir=None)


def route_modules(graph: grimp.ImportGraph) -> list[str]:
    routes = sorted(graph.find_children(f"{GATEWAY}.routes"))
    assert len(routes) >= 10, routes
    return routes


def test_no_route_imports_the_composition_root(graph: grimp.ImportGraph) -> None:
    chains = {
        module: chain
        for module in [*route_modules(graph), f"{GATEWAY}.deps", f"{GATEWAY}.api"]
        if (chain := graph.find_shortest_chain(importer=module, imported=APP))
    }
    assert chains == {}, "take collaborators from hospeda.gateway.deps, not the app"


def test_routes_leave_transactions_and_the_outbox_to_the_use_cases(
    graph: grimp.ImportGraph,
) -> None:
    imports = {
        route: sorted(found)
        for route in route_modules(graph)
        if (found := graph.find_modules_directly_imported_by(route) & set(USE_CASES_ONLY))
    }
    assert imports == {}, "a route calls a use case (service/, forward) instead"


def test_no_identity_area_calls_another(graph: grimp.ImportGraph) -> None:
    areas = sorted(graph.find_children(SERVICE) - {f"{SERVICE}.core"})
    assert len(areas) >= 5, areas
    calls = [
        (area, other)
        for area in areas
        for other in areas
        if other != area and graph.direct_import_exists(importer=area, imported=other)
    ]
    assert not calls, calls
    assert not any(graph.direct_import_exists(importer=a, imported=SERVICE) for a in areas)
