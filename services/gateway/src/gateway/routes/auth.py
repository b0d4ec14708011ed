from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from contracts.envelope import utc_now
from gateway.auth import Tokens
from gateway.deps import AccessToken, AuthDep, CurrentUser, DocumentedRoute, SettingsDep, enforce_rate_limit, rate_limit
from gateway.errors import refusals
from gateway.schemas import LoginIn, RefreshIn, StreamTokenOut, TokensOut, UserOut
from gateway.tokens import STREAM_AUDIENCE, Principal, issue_token

router = APIRouter(prefix="/api", tags=["auth"], route_class=DocumentedRoute)


def user_out(principal: Principal) -> UserOut:
    return UserOut(id=principal.user_id, email=principal.email, role=principal.role)


def tokens_out(tokens: Tokens) -> TokensOut:
    return TokensOut(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                     expires_in=tokens.expires_in, user=user_out(tokens.principal))


@router.post("/auth/login", responses=refusals(401),
             response_model=TokensOut, summary="Sign in with email and password",
             dependencies=[rate_limit("login")])
async def login(body: LoginIn, request: Request, auth: AuthDep) -> TokensOut:
    # Per account too, so one address cannot be guessed at from many clients.
    enforce_rate_limit(request, "login-account", body.email)
    return tokens_out(await auth.sign_in(body.email, body.password))


@router.post("/auth/refresh", responses=refusals(401),
             response_model=TokensOut, summary="Trade a refresh token for new tokens (single use)",
             dependencies=[rate_limit("refresh")])
async def refresh(body: RefreshIn, auth: AuthDep) -> TokensOut:
    return tokens_out(await auth.refresh(body.refresh_token))


@router.post("/auth/logout", status_code=204, summary="End this session: its access and refresh tokens stop working")
async def logout(principal: CurrentUser, token: AccessToken, auth: AuthDep) -> Response:
    await auth.sign_out(principal, token)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, summary="Who the token belongs to")
async def me(principal: CurrentUser) -> UserOut:
    return user_out(principal)


@router.post("/stream-token", response_model=StreamTokenOut,
             summary="A short-lived token for EventSource, which cannot send headers: pass it as ?token=")
async def stream_token(principal: CurrentUser, settings: SettingsDep) -> StreamTokenOut:
    lifetime = timedelta(seconds=settings.stream_token_seconds)
    token = issue_token(principal, settings.jwt_secret, lifetime, utc_now(), audience=STREAM_AUDIENCE)
    return StreamTokenOut(token=token, expires_in=settings.stream_token_seconds)
