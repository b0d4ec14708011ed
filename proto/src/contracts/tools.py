"""Tool calls that need a supervisor's approval, the decision, and the outcome."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.calls import CallScoped

# A tool request's life in the tool_requests table (its check constraint lists the same; a test keeps them
# together): pending until the supervisor allows or denies it, nobody answers in time (timed_out) or its
# call ends first (withdrawn); an allowed one is then executed or failed.
ToolRequestStatus = Literal["pending", "allowed", "denied", "timed_out", "withdrawn", "executed", "failed"]
# What the agent was refused: the supervisor's no, and silence until the deadline, which counts as no.
REFUSED_STATUSES: tuple[ToolRequestStatus, ...] = ("denied", "timed_out")


class ToolPermissionRequest(CallScoped):
    topic: ClassVar[str] = "tool.permission"
    type: Literal["tool.permission.request"] = "tool.permission.request"
    request_id: UUID
    tool_name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any]
    reason: str = Field(default="", max_length=1000, description="Why the agent wants to run it.")
    expires_at: AwareDatetime = Field(description="No decision by then counts as deny.")


class ToolPermissionDecision(CallScoped):
    topic: ClassVar[str] = "tool.permission"
    type: Literal["tool.permission.decision"] = "tool.permission.decision"
    request_id: UUID
    allowed: bool
    # call_ended: withdrawn, because the call ended before anyone decided.
    decided_by: Literal["supervisor", "timeout", "call_ended"]
    decided_by_user: UUID | None = None
    note: str = Field(default="", max_length=1000)


class ToolExecuted(CallScoped):
    topic: ClassVar[str] = "tool.result"
    type: Literal["tool.result"] = "tool.result"
    request_id: UUID | None = Field(default=None, description="Set when the tool needed approval.")
    tool_name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

# The built-in customer-service tools an agent's configuration may name; the agent-worker implements them.
# (name, description, whether a new agent asks the supervisor's approval by default)
BUILTIN_TOOLS = (
    ("order_lookup", "Look up an order's status and items by order id.", False),
    ("refund_order", "Refund an order (needs the supervisor's approval).", True),
    ("change_address", "Change the shipping address of an order not shipped yet.", True),
    ("create_ticket", "Open a support ticket for follow-up by a human.", False),
)
BUILTIN_TOOL_NAMES = tuple(name for name, _, _ in BUILTIN_TOOLS)
