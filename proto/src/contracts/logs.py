"""One JSON object per line, with the service name and the call id on every line."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

_call_id: ContextVar[str | None] = ContextVar("call_id", default=None)

# Attributes every LogRecord has; anything else was passed in ``extra=`` and belongs in the line.
# uvicorn adds ``color_message``, a copy of the message with terminal colour codes.
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, instance: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            **({"instance": self.instance} if self.instance else {}),
            "call_id": getattr(record, "call_id", None) or _call_id.get(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and k != "call_id"})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str = "INFO", instance: str | None = None) -> None:
    """``instance``: which of the service's instances writes, on every line."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; route them through ours so its lines are JSON too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


@contextlib.contextmanager
def call_context(call_id: UUID | str | None) -> Iterator[None]:
    """Tag every log line written inside the block with this call."""
    token = _call_id.set(None if call_id is None else str(call_id))
    try:
        yield
    finally:
        _call_id.reset(token)
