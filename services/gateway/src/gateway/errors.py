"""Every error leaves the gateway as JSON with a human message: {"error": code, "message": text}."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.db import DATABASE_AWAY

log = logging.getLogger("gateway.errors")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.details = status, code, message, headers, details


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    details = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "problem": e["msg"]} for e in errors]
    if any(e["type"] == "json_invalid" for e in errors):
        return "The request body is not valid JSON.", details
    first = details[0]
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"Invalid request: {where}{first['problem']}{more}", details


# Database refusals caused by the request's data are the client's error, not the server's.
_DATABASE_CLIENT_ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    asyncpg.UniqueViolationError: (409, "conflict", "That value is already in use"),
    asyncpg.ForeignKeyViolationError: (422, "invalid_reference", "A referenced record does not exist"),
    asyncpg.CheckViolationError: (422, "invalid_value", "A value is not allowed"),
    asyncpg.NotNullViolationError: (422, "missing_value", "A required value is missing"),
    asyncpg.StringDataRightTruncationError: (422, "value_too_long", "A value is too long"),
    # NUL in text, or in JSON: the request schemas refuse them first; this is the net under any they miss.
    asyncpg.CharacterNotInRepertoireError: (422, "invalid_text", "A value holds a character that cannot be stored"),
    asyncpg.UntranslatableCharacterError: (422, "invalid_text", "A value holds a character that cannot be stored"),
    asyncpg.InsufficientPrivilegeError: (403, "forbidden", "You may not change that record"),
}


def _database_unavailable() -> JSONResponse:
    return JSONResponse(error_body("unavailable", "The database cannot be reached right now; try again in a moment"),
                        503, headers={"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _describe_validation(list(exc.errors()))
        return JSONResponse(error_body("invalid_request", message, details), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "No such endpoint" if exc.status_code == 404 and exc.detail == "Not Found" else str(exc.detail)
        return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)

    async def database_away(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s %s: the database is away (%s)", request.method, request.url.path, exc)
        return _database_unavailable()

    # The database away is not the request's fault, and likely to pass in a moment (its PostgresErrors are
    # told apart below; a timeout could be anything's, and stays a 500).
    for away in DATABASE_AWAY:
        if not issubclass(away, (asyncpg.PostgresError, TimeoutError)):
            app.add_exception_handler(away, database_away)

    @app.exception_handler(asyncpg.PostgresError)
    async def database_error(request: Request, exc: asyncpg.PostgresError) -> JSONResponse:
        if isinstance(exc, DATABASE_AWAY):
            return await database_away(request, exc)
        for kind, (status, code, message) in _DATABASE_CLIENT_ERRORS.items():
            if isinstance(exc, kind):
                detail = getattr(exc, "constraint_name", None) or getattr(exc, "detail", None)
                return JSONResponse(error_body(code, message + (f" ({detail})" if detail else "")), status)
        log.exception("database error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal", "The server could not complete the request"), 500)
