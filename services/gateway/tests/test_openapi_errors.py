"""The OpenAPI document describes the refusals the gateway really sends: one error body for every 4xx, the
422 it answers invalid input with (not FastAPI's default), and 401/403/404/409 where a route can give them."""

from __future__ import annotations

import json

from gateway.openapi_dump import document

DOCUMENT = json.loads(document())
OPERATIONS = {(method.upper(), path): operation for path, methods in DOCUMENT["paths"].items()
              for method, operation in methods.items()}
ERROR_BODY = {"$ref": "#/components/schemas/ApiErrorBody"}


def test_no_default_validation_body_is_left() -> None:
    assert not {"HTTPValidationError", "ValidationError"} & set(DOCUMENT["components"]["schemas"])
    assert DOCUMENT["components"]["schemas"]["ApiErrorBody"]["required"] == ["error", "message"]


def test_every_client_error_has_the_one_error_body() -> None:
    for (method, path), operation in OPERATIONS.items():
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert response["content"]["application/json"]["schema"] == ERROR_BODY, (method, path, status)


def test_refusals_follow_from_what_a_route_needs() -> None:
    statuses = {key: set(operation["responses"]) for key, operation in OPERATIONS.items()}
    assert {"401", "403", "404", "422"} <= statuses[("PATCH", "/api/supervisors/{supervisor_id}")]  # an admin's
    assert {"401", "404", "422"} <= statuses[("GET", "/api/calls/{call_id}")]  # a signed-in user's
    assert "403" not in statuses[("GET", "/api/calls/{call_id}")]
    assert {"401", "403", "404", "409"} <= statuses[("POST", "/api/calls/{call_id}/messages")]  # a call token's
    assert "409" in statuses[("POST", "/api/calls/{call_id}/supervisor-messages")]
    assert statuses[("GET", "/api/directory")] == {"200", "4XX"}  # public, reads nothing
