"""The built web app at /: its files, and index.html for the app's own routes (a reload of
/supervisor/archive must open the app, not a 404), but never for the API."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Prefixes the app does not own: a miss there is a real 404 with the API's JSON error.
NOT_THE_APP = ("api/", "docs", "openapi.json", "health", "metrics", "assets/")


class SinglePageApp(StaticFiles):
    def __init__(self, directory: str) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(NOT_THE_APP) or "." in path.rsplit("/", 1)[-1]:
                raise
            path = "index.html"
            response = await super().get_response(path, scope)
        if path in (".", "", "index.html", "sw.js"):
            # The shell and the service worker must be revalidated, or a new deployment never shows.
            response.headers["Cache-Control"] = "no-cache"
        return response
