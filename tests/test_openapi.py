"""The OpenAPI document: served, complete, truthful about security; docs page; CLI export."""

from __future__ import annotations

import json
import re

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PROTECTED_PREFIXES = ("/api/v1/tasks",)
PROTECTED_PATHS = {"/api/v1/auth/me", "/api/v1/auth/refresh", "/api/v1/auth/logout"}
PUBLIC_PATHS = {"/api/v1/auth/register", "/api/v1/auth/login"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.content_type.startswith("application/json")
    return json.loads(response.get_data(as_text=True))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def is_protected(path: str) -> bool:
    return path in PROTECTED_PATHS or path.startswith(PROTECTED_PREFIXES)


def concrete(path: str) -> str:
    """A request path for a templated one: every ``{param}`` becomes ``1``."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_spec_is_openapi_3(spec):
    assert re.match(r"^3\.\d+\.\d+$", spec["openapi"])
    assert spec["info"]["title"] == "taskapi"
    assert spec["info"]["version"]
    assert spec["paths"]


def test_expected_operations_are_documented(spec):
    documented = {(path, method) for path, method, _ in operations(spec)}
    assert {
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks/{task_id}", "get"),
        ("/api/v1/tasks/{task_id}", "put"),
        ("/api/v1/tasks/{task_id}", "patch"),
        ("/api/v1/tasks/{task_id}", "delete"),
        ("/api/v1/tasks/{task_id}/complete", "patch"),
    } <= documented


def test_every_operation_has_a_summary(spec):
    missing = [
        (path, method) for path, method, operation in operations(spec)
        if not str(operation.get("summary", "")).strip()
    ]
    assert missing == []


def test_bearer_security_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
        "http", "bearer", "JWT",
    )


def test_protected_operations_declare_bearer_auth_and_401(spec):
    protected = [(p, m, op) for p, m, op in operations(spec) if is_protected(p)]
    assert len(protected) >= 10
    for path, method, operation in protected:
        assert operation.get("security") in (
            [{"bearerAuth": []}], [{"bearerAuth": []}, {"personalAccessToken": []}]), (
            path, method)
        assert "401" in operation["responses"], (path, method)


def test_register_and_login_need_no_token(spec):
    for path, method, operation in operations(spec):
        if path in PUBLIC_PATHS:
            assert not operation.get("security"), (path, method)


def test_security_documentation_matches_behaviour(client, spec):
    """Without a token, exactly the operations documented as secured answer 401."""
    for path, method, operation in operations(spec):
        response = client.open(concrete(path), method=method.upper())
        secured = bool(operation.get("security"))
        assert (response.status_code == 401) == secured, (
            path, method, response.status_code, operation.get("security"),
        )
        if secured:
            assert "401" in operation["responses"], (path, method)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_every_ref_resolves(spec):
    refs = re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(spec))
    assert refs
    for ref in set(refs):
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


def test_path_parameters_are_declared(spec):
    for path, item in spec["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            declared = {
                p["name"] for p in item.get("parameters", []) + operation.get("parameters", [])
                if p.get("in") == "path"
            }
            assert names <= declared, (path, method)


def test_error_responses_use_the_error_schema(spec):
    schema = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message"} <= set(schema["required"])
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    assert unauthorized["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_docs_page_is_html(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "swagger-ui" in page.lower()
    assert "/api/openapi.json" in page


def test_docs_page_loads_everything_from_this_server(client):
    """No CDN: every script, stylesheet and icon is served here, with its type."""
    response = client.get("/api/docs")
    page = response.get_data(as_text=True)

    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(urls) == 4
    assert not re.search(r"https?://", page)
    types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    for url in urls:
        assert url.startswith("/api/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content_type.startswith(types[url[url.rindex("."):]]), url
        assert len(asset.data) > 500, url
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy


def test_docs_page_config_keeps_requests_local(client):
    page = client.get("/api/docs").get_data(as_text=True)
    config = json.loads(re.search(r"var overrides = (\{.*?\});", page).group(1))

    assert config["validatorUrl"] is None  # no badge from validator.swagger.io
    assert config["displayOperationId"] is True


def test_missing_docs_asset_is_a_json_404(client):
    response = client.get("/api/docs/assets/missing.js")

    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def _sort_parameter(operation: dict) -> dict:
    (sort,) = [p for p in operation["parameters"] if p["name"] == "sort"]
    return sort


def test_compat_list_documents_creation_order(spec):
    compat = spec["paths"]["/api/{user_id}/tasks"]["get"]
    assert "creation order" in compat["summary"]
    assert "`id` ascending" in compat["description"]
    sort = _sort_parameter(compat)
    assert "Default id (creation order" in sort["description"]
    v1 = _sort_parameter(spec["paths"]["/api/v1/tasks"]["get"])
    assert "Default -created_at, or position with list_id or parent_id;" in v1["description"]


COMPAT_BODIES = {
    ("/api/{user_id}/tasks", "post"): "CompatTask",
    ("/api/{user_id}/tasks/{task_id}", "put"): "CompatTaskUpdate",
    ("/api/{user_id}/tasks/{task_id}/complete", "patch"): "CompatComplete",
    ("/api/auth/register", "post"): "CompatRegister",
    ("/api/auth/login", "post"): "CompatLogin",
    ("/api/auth/refresh", "post"): "CompatRefresh",
    ("/api/auth/logout", "post"): "CompatLogout",
}
V1_BODIES = {
    ("/api/v1/tasks", "post"): "TaskCreate",
    ("/api/v1/tasks/{task_id}", "put"): "Task",
    ("/api/v1/tasks/{task_id}/move", "post"): "TaskMove",
    ("/api/v1/lists", "post"): "List",
    ("/api/v1/lists/{list_id}", "patch"): "ListPatch",
    ("/api/v1/lists/{list_id}/move", "post"): "ListMove",
    ("/api/v1/tasks/{task_id}", "patch"): "TaskPatch",
    ("/api/v1/tasks/{task_id}/complete", "patch"): "TaskComplete",
    ("/api/v1/auth/register", "post"): "Register",
    ("/api/v1/auth/login", "post"): "Login",
    ("/api/v1/auth/logout", "post"): "Logout",
}


def _body_schema(spec: dict, path: str, method: str) -> str:
    ref = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return ref["$ref"].rsplit("/", 1)[1]


def test_compat_bodies_are_lenient_and_v1_bodies_strict(spec):
    """Unknown fields are ignored by the original contract (no ``additionalProperties:
    false``, so a generated client or fuzzer may send them) and refused by v1."""
    schemas = spec["components"]["schemas"]
    for (path, method), name in COMPAT_BODIES.items():
        assert _body_schema(spec, path, method) == name
        assert schemas[name].get("additionalProperties", True) is not False, name
    for (path, method), name in V1_BODIES.items():
        assert _body_schema(spec, path, method) == name
        assert schemas[name]["additionalProperties"] is False, name


def test_compat_task_documents_due_date_alias(spec):
    schemas = spec["components"]["schemas"]
    for name in ("CompatTask", "CompatTaskUpdate"):
        properties = schemas[name]["properties"]
        assert "due_at" not in properties
        alias, due_date = properties["dueDate"], properties["due_date"]
        assert alias["readOnly"] is True and alias["nullable"] is True
        assert alias["format"] == due_date["format"] == "date-time"
        assert "`dueDate`" in due_date["description"]
        assert "`due_date` wins" in due_date["description"]
    assert "dueDate" not in schemas["Task"]["properties"]
    listed = spec["paths"]["/api/{user_id}/tasks"]["get"]["responses"]["200"]
    assert listed["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/CompatTask"}


def test_error_schema_documents_detail_as_optional(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["detail"]["type"] == "string"
    assert "detail" not in error["required"]
    assert "original contract" in error["properties"]["detail"]["description"]
