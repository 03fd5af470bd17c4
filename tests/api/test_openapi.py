"""The OpenAPI document and the self-hosted Swagger UI."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flask import Flask
from flask.testing import FlaskClient

# Routes that are not part of the API itself.
NOT_API = {"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui", "swagger_ui_files"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _api_routes(app: Flask) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(
            m.lower() for m in (rule.methods or set()) - IGNORED_METHODS)
    return routes


def test_the_openapi_document_is_3_1_and_lists_every_route(app: Flask,
                                                           client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.json
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "IPX"
    assert "seq - 1" in spec["info"]["description"]  # which leaf index a sequence number has
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an IPX API key"}

    documented = {path: {m for m in item if m != "parameters"}
                  for path, item in spec["paths"].items()}
    routes = _api_routes(app)
    assert documented == routes
    # The contract's routes are among them.
    for path, method in [
        ("/v1/parties", "post"), ("/v1/parties/{party_id}/api-keys", "post"),
        ("/v1/api-keys/{key_id}", "delete"), ("/v1/me", "get"), ("/v1/assets", "post"),
        ("/v1/assets", "get"), ("/v1/assets/{asset_id}", "get"),
        ("/v1/assets/{asset_id}/costs", "post"), ("/v1/holdings", "get"),
        ("/v1/accounts", "get"), ("/v1/deposits", "post"), ("/v1/withdrawals", "post"),
        ("/v1/ledger/checkpoint", "get"), ("/v1/ledger/public-key", "get"),
        ("/v1/ledger/entries/{seq}", "get"), ("/v1/ledger/proofs/inclusion", "get"),
        ("/v1/ledger/proofs/consistency", "get"),
    ]:
        assert method in documented.get(path, set()), (path, method)

    # Every operation says what it answers, and bodies have schemas.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation.get("responses"), (path, method)
            if method in ("post",) and "requestBody" in operation:
                content = operation["requestBody"]["content"]
                assert "application/json" in content, (path, method)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_the_docs_page_uses_local_swagger_ui_files(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    for cdn in ("http://", "https://", "//cdn", "unpkg", "jsdelivr", "cdnjs"):
        assert cdn not in html, cdn
    parser = _Assets()
    parser.feed(html)
    assert parser.urls, html
    assert all(u.startswith("/swagger-ui/") for u in parser.urls), parser.urls
    assert any(u.endswith("swagger-ui-bundle.js") for u in parser.urls)
    assert any(u.endswith(".css") for u in parser.urls)
    for url in parser.urls:
        served = client.get(url)
        assert served.status_code == 200, url
        assert len(served.get_data()) > 1000, url
        expected = "text/css" if url.endswith(".css") else "text/javascript"
        assert served.mimetype == expected, (url, served.mimetype)
        served.close()
    missing = client.get("/swagger-ui/no-such-file.js")
    assert missing.status_code == 404
    escape = client.get("/swagger-ui/../../../../etc/passwd")
    assert escape.status_code == 404
