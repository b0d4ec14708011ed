"""Every error leaves the gateway as JSON with a human message: {"error": code, "message": text}."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.db import DATABASE_AWAY

log = logging.getLogger("gateway.errors")


class FieldProblem(BaseModel):
    field: str = Field(description="Where in the request, dotted (e.g. 'tools.0.name'); empty for the body as a whole.")
    problem: str


class ApiErrorBody(BaseModel):
    """What every refusal and failure carries, whatever its status; the OpenAPI document's one error schema."""

    error: str = Field(description="A stable code for programs: not_found, invalid_request, call_not_active, …")
    message: str = Field(description="What went wrong, in words to show a person as they are.")
    details: list[FieldProblem] | None = Field(None, description="invalid_request (422): each field and its problem.")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_body(code: str, message: str, details: list[FieldProblem] | None = None) -> dict[str, Any]:
    return ApiErrorBody(error=code, message=message, details=details).model_dump(exclude_none=True)


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[FieldProblem]]:
    details = [FieldProblem(field=".".join(str(p) for p in e["loc"] if p != "body"), problem=e["msg"])
               for e in errors]
    if any(e["type"] == "json_invalid" for e in errors):
        return "The request body is not valid JSON.", details
    first = details[0]
    where = f"{first.field}: " if first.field else ""
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"Invalid request: {where}{first.problem}{more}", details


# How the OpenAPI document describes each refusal; every one has the ApiErrorBody.
REFUSALS: dict[int | str, str] = {
    401: "No token, or a bad, expired or ended one (`WWW-Authenticate: Bearer`)",
    403: "Signed in, or holding a call token, but not allowed this",
    404: "No such record, or it belongs to another supervisor",
    409: "The record or the call is not in a state that allows this now; the message says why",
    422: "Invalid input: `invalid_request` with `details` naming each field and its problem; or a value the "
         "platform cannot take (the message says which)",
    "4XX": "Any other refusal: a body over the size limit (413), too many requests (429, with `Retry-After`)",
}


def refusals(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these refusals."""
    return {status: {"model": ApiErrorBody, "description": REFUSALS[status]} for status in statuses}


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
        return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)

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
