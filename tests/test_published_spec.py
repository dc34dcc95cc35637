"""The published OpenAPI document, docs/openapi.json: current, valid and complete.

- It equals what the app generates, so the published contract cannot drift
  silently; after a change to routes or schemas, regenerate it with
  ``flask --app wsgi openapi write --format=json docs/openapi.json``.
- openapi-spec-validator (a maintained validator of the OpenAPI 3.0 schema and
  its semantic rules) finds no error in it.
- The house rules a client generator and a reader of the docs page rely on:
  every operation has a camelCase operationId, a summary, a description, tags
  declared with descriptions, and an explicit ``security``; every parameter is
  described; every JSON request and success body has examples that validate
  against its own schema; every error response is the ``Error`` schema; the
  document has servers, a license and the package's version.

Redocly CLI lints the same file in .ci/run (docs/redocly.yaml).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from taskapi import __version__

PUBLISHED = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
REGENERATE = "flask --app wsgi openapi write --format=json docs/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]+$")
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads(PUBLISHED.read_text(encoding="utf-8"))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", item, operation


def resolve(spec: dict, node):
    """``node`` with local ``$ref``s followed (JSON Pointer, RFC 6901)."""
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def example_of(spec: dict, schema: dict, where: str, *, skip: str):
    """An example built from the schema's own ``example`` values; AssertionError
    naming the first property without one. ``skip`` is ``readOnly`` for request
    bodies and ``writeOnly`` for responses."""
    schema = resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "array":
        return [example_of(spec, schema["items"], f"{where}[]", skip=skip)]
    if schema.get("type") == "object" or "properties" in schema:
        return {
            name: example_of(spec, field, f"{where}.{name}", skip=skip)
            for name, field in schema.get("properties", {}).items()
            if not resolve(spec, field).get(skip)
        }
    raise AssertionError(f"{where} has no example")


def json_bodies(spec: dict, operation: dict):
    """(where, schema, validator class) for the JSON request and 2xx bodies."""
    body = operation.get("requestBody")
    if body:
        yield "request", body["content"]["application/json"]["schema"], OAS30WriteValidator
    for status, response in operation["responses"].items():
        content = resolve(spec, response).get("content", {})
        if status.startswith("2") and "application/json" in content:
            yield status, content["application/json"]["schema"], OAS30ReadValidator


def test_published_document_is_what_the_app_generates(client, published):
    generated = client.get("/api/openapi.json").get_json()

    changed = sorted(
        key for key in set(generated["paths"]) | set(published["paths"])
        if generated["paths"].get(key) != published["paths"].get(key)
    )
    assert generated == published, (
        f"docs/openapi.json is out of date (paths that differ: {changed or 'none'}; "
        f"other top-level keys may differ). Regenerate it: {REGENERATE}"
    )


def test_cli_writes_the_published_document(app, tmp_path):
    target = tmp_path / "openapi.json"

    result = app.test_cli_runner().invoke(args=["openapi", "write", "--format=json",
                                                str(target)])

    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text()) == json.loads(PUBLISHED.read_text())


def test_validator_finds_no_error():
    spec_dict, base_uri = read_from_filename(str(PUBLISHED))

    validate(spec_dict, base_uri=base_uri)  # raises OpenAPIValidationError


def test_validator_catches_a_broken_document(published):
    """The validator really validates: a response without a description fails."""
    broken = json.loads(json.dumps(published))
    del broken["paths"]["/api/v1/tasks"]["get"]["responses"]["200"]["description"]

    with pytest.raises(Exception, match="description"):
        validate(broken)


def test_info_servers_and_security_scheme(published):
    info = published["info"]
    assert info["title"] == "taskapi"
    assert info["version"] == __version__
    assert info["license"]["name"] == "MIT"
    assert "Authorize" in info["description"]
    assert published["servers"] and all(server["url"] for server in published["servers"])
    scheme = published["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "/api/v1/auth/login" in scheme["description"]


def test_operation_ids_read_well_in_a_client(published):
    ids = [operation.get("operationId", "") for _, _, operation in operations(published)]

    assert [i for i in ids if not OPERATION_ID.match(i)] == []
    assert len(ids) == len(set(ids))


def test_every_operation_is_summarised_described_and_tagged(published):
    declared = {tag["name"]: tag.get("description", "") for tag in published["tags"]}
    assert all(declared.values()), declared
    for name, _, operation in operations(published):
        assert operation.get("summary", "").strip(), name
        assert operation.get("description", "").strip(), name
        assert operation.get("tags") and set(operation["tags"]) <= set(declared), name


def test_every_operation_states_its_security(published):
    for name, _, operation in operations(published):
        # A personal access token is the alternative where a scope allows the
        # operation (built-in plugin pat: x-required-scopes names it).
        assert operation.get("security") in (
            [], [{"bearerAuth": []}], [{"bearerAuth": []}, {"personalAccessToken": []}]), name
        if len(operation["security"]) == 2:
            assert len(operation["x-required-scopes"]) == 1, name
        if operation["security"]:
            assert "401" in operation["responses"], name


def test_every_parameter_is_described(published):
    for name, item, operation in operations(published):
        for parameter in item.get("parameters", []) + operation.get("parameters", []):
            parameter = resolve(published, parameter)
            assert parameter.get("description", "").strip(), (name, parameter["name"])


def test_every_json_body_has_an_example_valid_for_its_schema(published):
    checked = 0
    for name, _, operation in operations(published):
        for where, schema, validator in json_bodies(published, operation):
            skip = "readOnly" if where == "request" else "writeOnly"
            example = example_of(published, schema, f"{name} {where}", skip=skip)
            # The components ride along so that the schema's $refs resolve.
            validator({**schema, "components": published["components"]}).validate(example)
            checked += 1
    assert checked >= 40


def test_every_error_response_is_the_error_schema(published):
    for name, _, operation in operations(published):
        errors = {status: response for status, response in operation["responses"].items()
                  if status[0] in "45" or status == "default"}
        assert "default" in errors, name
        for status, response in errors.items():
            response = resolve(published, response)
            assert response.get("description", "").strip(), (name, status)
            assert response["content"]["application/json"]["schema"] == ERROR_REF, (
                name, status)


def test_no_default_a_client_would_send_by_mistake(published):
    """Generated clients send documented defaults: a partial update must document
    none (``completed: false`` would reopen a task), nor may ``page`` (a cursor
    request with ``page`` is a 422)."""
    for name in ("TaskPatch", "CompatTaskUpdate"):
        properties = published["components"]["schemas"][name]["properties"]
        assert {field for field, schema in properties.items() if "default" in schema} == set()
    for path in ("/api/v1/tasks", "/api/{user_id}/tasks"):
        page = next(parameter for parameter in published["paths"][path]["get"]["parameters"]
                    if parameter["name"] == "page")
        assert "default" not in page["schema"], path


def test_rate_limited_operations_document_429(published):
    unlimited = {"GET /health", "GET /ready"}
    for name, _, operation in operations(published):
        assert ("429" in operation["responses"]) == (name not in unlimited), name
    retry_after = published["components"]["responses"]["TOO_MANY_REQUESTS"]["headers"]
    assert "Retry-After" in retry_after
