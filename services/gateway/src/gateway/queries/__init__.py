"""The gateway's SQL, one module per resource, so routes say what they do and not how rows are read.

Reads take a pool or a connection: the caller decides whether row-level security applies. Writes take the
connection of the caller's transaction."""

from __future__ import annotations

import asyncpg

Reader = asyncpg.Pool | asyncpg.Connection
