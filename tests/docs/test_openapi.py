"""docs/openapi.yaml describes exactly the routes the worker registers, and the acknowledgement body."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from schemas import WarningAck

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
ROUTE_FILES = [ROOT / "service" / name for name in ("api.py", "board.py", "app.py", "worker/pages.py")]


def registered_routes(sources: list[str]) -> dict[str, set[str]]:
    """Path -> HTTP methods, from each `@app.page("...")` and the handler under it."""
    routes: dict[str, set[str]] = {}
    for source in sources:
        parts = re.split(r'@app\.page\(\s*"([^"]+)"\s*\)', source)
        for path, body in zip(parts[1::2], parts[2::2], strict=True):
            head = body.split("\n    @", 1)[0]
            if re.match(r"\s*class ", head):
                methods = set(re.findall(r"async def (get|post|put|patch|delete)\(", head))
            else:
                methods = {"get"}  # a function page answers GET
            routes.setdefault(path, set()).update(methods)
    return routes


def test_the_route_scanner_reads_classes_and_functions():
    source = '''
    @app.page("/a")
    class A(View):
        async def get(self, request): ...
        async def post(self, request): ...

    @app.page("/b/{x}")
    async def b(web, request): ...
'''
    assert registered_routes([source]) == {"/a": {"get", "post"}, "/b/{x}": {"get"}}


def test_every_registered_route_is_described_and_nothing_else():
    routes = registered_routes([f.read_text(encoding="utf-8") for f in ROUTE_FILES])
    assert routes, "no routes found: has the way routes are registered changed?"
    described = {path: {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
                 for path, ops in SPEC["paths"].items()}
    assert described == routes


def test_the_acknowledgement_body_matches_the_acknowledgement_message():
    body = SPEC["paths"]["/api/warnings/{fingerprint}/ack"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    assert set(schema["properties"]) <= set(WarningAck.model_fields) - {"fingerprint"}
    assert "required" not in schema  # who and when come from the credential and the server
    assert "acknowledged_at" not in schema["properties"]
    assert set(body["example"]) <= set(schema["properties"])
    for name, prop in schema["properties"].items():
        limit = WarningAck.model_json_schema()["properties"][name]
        limit = next((p for p in limit.get("anyOf", [limit]) if p.get("type") != "null"), limit)
        assert prop.get("maxLength") == limit.get("maxLength"), name


def test_it_is_openapi_3():
    assert SPEC["openapi"].startswith("3.") and SPEC["info"]["title"]
