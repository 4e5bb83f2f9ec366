"""The OpenAPI document ships in the package, is served, and matches the app's routes."""

from __future__ import annotations

import json
from pathlib import Path

from service_builders import harness
from starlette.routing import Route

from receiver.service.app import create_app
from receiver.service.openapi import document

METHODS_OF_NO_INTEREST = {"HEAD"}  # Starlette adds HEAD to every GET route


def routed(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(harness(tmp_path).service)
    return {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ()) - METHODS_OF_NO_INTEREST
    }


def documented() -> set[tuple[str, str]]:
    paths = json.loads(document())["paths"]
    return {(method, path) for path, item in paths.items() for method in item}


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    assert documented() == routed(tmp_path)


def test_it_is_openapi_3_1_and_every_operation_answers_the_edge_refusals() -> None:
    doc = json.loads(document())
    assert doc["openapi"].startswith("3.1.")
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"], (method, path)
            refusals = {"408", "414", "431", "503"} | ({"413"} if method == "post" else set())
            assert refusals <= set(operation["responses"]), (method, path)


def test_it_is_served_at_openapi_json(tmp_path: Path) -> None:
    answer = harness(tmp_path).client().get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content == document()
