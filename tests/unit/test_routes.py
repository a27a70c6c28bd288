"""Who may call each route is in the route itself: its handler takes a `KeyedCaller` (keys only), an
`AnyCaller` (keys, or anonymous callers where allowed) or neither (public, and then the template's
event has no authorizer). The README's table says the same."""

from __future__ import annotations

import re
from typing import Any, get_type_hints

import pytest

from devstack.functions import functions
from devstack.template import ROOT, Template
from imagejobs import api

ACCESS = {api.KeyedCaller: "a key", api.AnyCaller: "a key, or anyone where anonymous use is on"}
PUBLIC = "anyone: public"


def handler_access(handler: Any) -> str:
    """What the handler's signature lets call it."""
    hints = get_type_hints(handler, include_extras=True)
    found = {ACCESS[hint] for hint in hints.values() if hint in ACCESS}
    assert len(found) <= 1, f"{handler.__name__} takes more than one caller"
    return found.pop() if found else PUBLIC


@pytest.fixture(scope="module")
def routes() -> dict[str, tuple[str, dict[str, Any]]]:
    """`METHOD /v1/path` -> (what its handler lets call it, its template event's Auth)."""
    _, found, _, _ = functions(Template.read("routes"))
    access: dict[str, tuple[str, dict[str, Any]]] = {}
    for route in found:
        if route.method == "OPTIONS":  # browsers' preflights: answered by imagejobs.api, with no caller
            continue
        if route.function.module is None:
            route.function.load()
        router = route.function.module.router  # type: ignore[union-attr]
        rule = re.sub(r"\{(\w+)\}", r"<\1>", route.path)
        (handler,) = [
            func
            for key, func in router._routes.items()
            if key[0] == rule and route.method in ([key[1]] if isinstance(key[1], str) else key[1])
        ]
        access[f"{route.method} /v1{route.path}"] = (handler_access(handler), route.auth)
    return access


def readme_table() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("### Who may call what", 1)[1].split("\n\n", 2)[1]
    table: dict[str, str] = {}
    for routes, who in re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|$", section, re.M):
        for route in re.findall(r"`([A-Z]+ [^`]+)`", routes):
            table[route] = who.strip()
    return table


def test_every_route_is_in_the_readme_table_with_the_access_its_handler_takes(routes: dict) -> None:
    assert readme_table() == {route: access for route, (access, _) in routes.items()}


def test_a_public_route_has_no_authorizer_and_every_other_route_has_one(routes: dict) -> None:
    for route, (access, auth) in routes.items():
        public_in_template = auth.get("Authorizer") == "NONE"
        assert public_in_template == (access == PUBLIC), route
