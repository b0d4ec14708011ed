from __future__ import annotations

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.errors import install_error_handlers


def answer_to(exc: Exception) -> tuple[int, dict, str | None]:  # type: ignore[type-arg]
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/")
    async def fail() -> None:
        raise exc

    response = TestClient(app, raise_server_exceptions=False).get("/")
    return response.status_code, response.json(), response.headers.get("Retry-After")


@pytest.mark.parametrize("exc", [asyncpg.CannotConnectNowError("the database system is starting up"),
                                 ConnectionRefusedError(111, "Connect call failed"),
                                 asyncpg.ConnectionDoesNotExistError("connection was closed mid-operation"),
                                 asyncpg.TooManyConnectionsError("sorry, too many clients already")])
def test_a_database_that_is_away_is_503_and_when_to_try_again(exc: Exception) -> None:
    status, body, retry_after = answer_to(exc)
    assert (status, body["error"], retry_after) == (503, "unavailable", "5")


def test_a_refusal_caused_by_the_request_stays_a_client_error() -> None:
    status, body, _ = answer_to(asyncpg.UniqueViolationError("duplicate key"))
    assert (status, body["error"]) == (409, "conflict")
