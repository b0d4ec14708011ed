"""Bad input from outside: Schemathesis sends what the gateway's OpenAPI document allows, and what it
forbids, to the real gateway as an anonymous caller, a supervisor and an admin. No answer may be a 5xx;
every answer's status is one the document gives and its body matches what the document says, refusals
included; invalid input must be refused; every refusal is our JSON error with a message; nothing a 2xx
returns holds characters text may not (what was stored is clean).

Each operation is fuzzed in depth (Schemathesis' coverage phase: boundaries, wrong types, missing and
extra fields, unexpected methods; then generated cases) as the role it is for in the access matrix
(anonymous for public and call-token routes, an admin for admin routes, a supervisor for the rest), and
lightly (a few generated cases) as every role, which mostly checks the refusals. Generated bodies and
queries mostly carry a known troublemaker in every string (NUL, control and unassigned characters, a
lone surrogate, markup, SQL). Then create-then-use workflows follow the links Schemathesis infers from
the document (an agent, a supervisor: created, read, changed, deleted, read again). Bounded and
reproducible: a few examples per operation, derandomized, no example database.

The roles are throwaway accounts, removed afterwards with every account the fuzzing made. Nothing it
sends reaches the shared world's records: ids are random UUIDs, a dead letter's sequence is moved out of
reach, and an agent it creates is set inactive at once (a dial to it would wait ten seconds for a call
router that does not run here). Signing out is left out for signed-in roles: it would end the role's
session. The streams cannot end, so for them only the status is checked (no response schema): a refusal
is JSON and checked like any other answer; a 200 is an endless event stream, closed at once.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from contracts.envelope import utc_now
from gateway.openapi_dump import document
from tests.integration.conftest import PASSWORD, RunningGateway, _seed_admin, create_supervisor
from tests.integration.test_gateway_access import RULES
from tests.pg import connection

DOCUMENT = json.loads(document())
ROLES = ("anonymous", "supervisor", "admin")
# Whom each route is for, from the access matrix's rules.
ROLE_OF_RULE = {"public": "anonymous", "call-token": "anonymous", "admin": "admin", "user": "supervisor",
                "own": "supervisor", "own-stream": "supervisor"}
SIGN_OUT = ("POST", "/api/auth/logout")
# Every status an answer has must be documented, and its body match the document: refusals included, as the
# document gives each 4xx the gateway's one error body (ApiErrorBody), so a refusal in another shape fails here.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance,
          negative_data_rejection]


# Mixed into every string of a generated body or query (three cases in four): what broke the gateway
# before, or could. A lone surrogate cannot be put in a URL, so only bodies carry one.
TROUBLE = ["\x00", "\x7f", "\x05", "\x1b[2J", "\U000345e8", "\u202e", "\n", "<script>alert(1)</script>",
           "'; drop table users; --", "\\", "%00"]
TROUBLE_IN_BODIES = [*TROUBLE, "\ud800"]


def spiked(value: Any, trouble: str) -> Any:
    if isinstance(value, str):
        return value[:len(value) // 2] + trouble + value[len(value) // 2:]
    if isinstance(value, dict):
        return {key: spiked(item, trouble) for key, item in value.items()}
    if isinstance(value, list):
        return [spiked(item, trouble) for item in value]
    return value


def spike(value: Any, trouble: list[str]) -> st.SearchStrategy[Any]:
    return st.tuples(st.sampled_from([False, True, True, True]), st.sampled_from(trouble)).map(
        lambda drawn: spiked(value, drawn[1]) if drawn[0] else value)


def flatmap_body(_: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return spike(body, TROUBLE_IN_BODIES)


def flatmap_query(_: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
    return spike(query, TROUBLE)


def load(*, coverage: bool, max_examples: int, spikes: bool = True,
         modes: list[str] | None = None) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    schema.config.generation.update(max_examples=max_examples, deterministic=True, database="none", modes=modes)
    schema.config.phases.coverage.enabled = coverage
    # A body over the gateway's size limit is refused with 413 before it is read: a refusal too.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    if spikes:
        schema.hook(flatmap_body)
        schema.hook(flatmap_query)
    return schema


def role_for(ctx: Any) -> str:
    return ROLE_OF_RULE[RULES[(ctx.operation.method.upper(), ctx.operation.path)]]


DEEP = load(coverage=True, max_examples=4)
LIGHT = load(coverage=False, max_examples=3)


def is_stream(path: str) -> bool:
    return path.startswith("/api/stream/") or path.endswith("/stream")


@pytest.fixture(scope="module")
def fuzz_roles(gateway: RunningGateway, database_url: str) -> Iterator[dict[str, dict[str, str]]]:
    """Each role's headers; afterwards every account made since (the roles' and the fuzzing's) goes."""
    started: datetime = utc_now()
    admin_email = f"fuzz-admin-{uuid.uuid4().hex[:6]}@test.local"
    asyncio.run(_seed_admin(database_url, admin_email))
    with httpx.Client(base_url=gateway.url) as client:
        def bearer(email: str) -> dict[str, str]:
            response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        admin = bearer(admin_email)
        supervisor = create_supervisor(client, admin, "fuzz")
        # Room for the agents the fuzzing creates, so that creations keep reaching the database.
        assert client.patch(f"/api/supervisors/{supervisor['id']}", headers=admin,
                            json={"max_agents": 100}).status_code == 200
        yield {"anonymous": {}, "supervisor": bearer(supervisor["email"]), "admin": admin}

    async def remove() -> None:
        async with connection(database_url) as conn:
            await conn.execute("delete from users where created_at >= $1 and (role = 'supervisor' or email = $2)",
                               started, admin_email)

    asyncio.run(remove())


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def neutralise(case: schemathesis.Case) -> None:
    """Keep the fuzzing's side effects off records other tests use."""
    sequence = (case.path_parameters or {}).get("sequence")
    if isinstance(sequence, int) and not isinstance(sequence, bool) and sequence >= 1:
        case.path_parameters["sequence"] = 10**15 + sequence  # no dead letter is replayed


def set_inactive(response: schemathesis.Response, headers: dict[str, str], gateway: RunningGateway) -> None:
    """An agent the fuzzing made answers no dial (no call router runs here to answer it)."""
    if response.status_code == 201 and response.request.path_url == "/api/agents":
        agent_id = response.json()["id"]
        patched = httpx.patch(f"{gateway.url}/api/agents/{agent_id}", headers=headers, json={"active": False})
        assert patched.status_code == 200, patched.text


def assert_error_shape(status: int, body: bytes) -> None:
    if 400 <= status < 500:
        error = json.loads(body)
        assert isinstance(error.get("error"), str) and isinstance(error.get("message"), str) and error["message"], \
            f"{status} without our error body: {body[:300]!r}"


def assert_clean_text(value: Any, where: str) -> None:
    """Nothing the gateway stored and returns holds what text may not (line breaks and tabs may)."""
    if isinstance(value, str):
        for char in value:
            category = unicodedata.category(char)
            assert not (category == "Cc" and char not in "\n\r\t") and category not in ("Cs", "Cn"), \
                f"{where} returned {value!r}"
    elif isinstance(value, dict):
        for item in value.values():
            assert_clean_text(item, where)
    elif isinstance(value, list):
        for item in value:
            assert_clean_text(item, where)


def send(case: schemathesis.Case, role: str, gateway: RunningGateway, roles: dict[str, dict[str, str]],
         session: requests.Session) -> None:
    neutralise(case)
    headers = roles[role]
    if is_stream(case.path):
        request: dict[str, Any] = case.as_transport_kwargs(base_url=gateway.url, headers=headers)
        with httpx.stream(request["method"], request["url"], headers=request.get("headers"),
                          params=request.get("params"), timeout=10) as response:
            assert response.status_code < 500, case.as_curl_command(headers, base_url=gateway.url)
            if response.status_code != 200:
                assert_error_shape(response.status_code, response.read())
        return
    response = case.call(base_url=gateway.url, session=session, headers=headers, timeout=15)
    set_inactive(response, headers, gateway)
    checks = CHECKS
    if case.path == "/health":  # 503 is its honest, documented answer while the other services are down
        checks = [check for check in CHECKS if check is not not_a_server_error]
    case.validate_response(response, checks=checks, headers=headers)
    assert_error_shape(response.status_code, response.content)
    if 200 <= response.status_code < 300 and response.headers.get("content-type") == "application/json":
        assert_clean_text(response.json(), f"{case.method} {case.formatted_path}")


@DEEP.include(lambda ctx: role_for(ctx) == "anonymous").parametrize()
def test_public_routes_in_depth(case: schemathesis.Case, gateway: RunningGateway,
                                fuzz_roles: dict[str, dict[str, str]], session: requests.Session) -> None:
    send(case, "anonymous", gateway, fuzz_roles, session)


@DEEP.include(lambda ctx: role_for(ctx) == "supervisor" and
              (ctx.operation.method.upper(), ctx.operation.path) != SIGN_OUT).parametrize()
def test_supervisor_routes_in_depth(case: schemathesis.Case, gateway: RunningGateway,
                                    fuzz_roles: dict[str, dict[str, str]], session: requests.Session) -> None:
    send(case, "supervisor", gateway, fuzz_roles, session)


@DEEP.include(lambda ctx: role_for(ctx) == "admin").parametrize()
def test_admin_routes_in_depth(case: schemathesis.Case, gateway: RunningGateway,
                               fuzz_roles: dict[str, dict[str, str]], session: requests.Session) -> None:
    send(case, "admin", gateway, fuzz_roles, session)


@pytest.mark.parametrize("role", ROLES)
@LIGHT.exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) == SIGN_OUT).parametrize()
def test_every_route_as_every_role(case: schemathesis.Case, role: str, gateway: RunningGateway,
                                   fuzz_roles: dict[str, dict[str, str]], session: requests.Session) -> None:
    send(case, role, gateway, fuzz_roles, session)


# Create, then read, change and delete what was created: links Schemathesis infers from the document
# (an operation's response field feeding another's path parameter). Only the operations on one
# resource, so that the ids that flow are the ones the machine made (the supervisors' list would feed
# the shared world's supervisors to DELETE).
STATEFUL = {"supervisor": r"^/api/agents", "admin": r"^/api/supervisors(/\{supervisor_id\})?$"}


@pytest.mark.parametrize("role", sorted(STATEFUL))
def test_create_then_use_what_was_created(role: str, gateway: RunningGateway, fuzz_roles: dict[str, dict[str, str]],
                                          session: requests.Session) -> None:
    schema = load(coverage=False, max_examples=4, spikes=False, modes=["positive"])  # valid, to be created
    headers = fuzz_roles[role]
    operations = schema.include(path_regex=STATEFUL[role]).exclude(
        lambda ctx: ctx.operation.method.upper() == "GET" and not ctx.operation.path.endswith("}"))
    machine = operations.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            neutralise(case)
            return {"base_url": gateway.url, "session": session, "headers": headers, "timeout": 15}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            set_inactive(response, headers, gateway)

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)
            assert_error_shape(response.status_code, response.content)

    Workflow.run(settings=settings(max_examples=10, stateful_step_count=5, derandomize=True, database=None,
                                   deadline=None, suppress_health_check=list(HealthCheck)))
