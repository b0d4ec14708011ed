"""The built-in customer-service tools, over the demo shop in PostgreSQL.

Plain functions: a connection and arguments in, a result out. Each result carries ``ok`` and a
``message`` composed from the data, which the local dialogue engine says as it is and a hosted LLM
may phrase its own way.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from contracts.calls import CallRef

ORDER_ID = re.compile(r"\bORD[-\s]?(\d{3,10})\b", re.IGNORECASE)


Runner = Callable[[asyncpg.Connection, dict[str, Any], CallRef], Awaitable[dict[str, Any]]]


class ToolFailure(Exception):
    """The tool ran but cannot do what was asked; the message is for the customer."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    # How customers ask for it: the local engine matches requests against these by meaning.
    examples: tuple[str, ...]
    # Runs it over the shop: a connection, the arguments and the call in, the result out. None for the
    # tools the call's session carries out itself (ending the call).
    run: Runner | None = None

    def raw_schema(self, description: str = "") -> dict[str, Any]:
        return {"name": self.name, "description": description or self.description, "parameters": self.parameters}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


def _money(value: Decimal | float) -> str:
    return f"${Decimal(value):.2f}"


def normalise_order_id(raw: str) -> str:
    match = ORDER_ID.search(raw or "")
    if match is None:
        raise ToolFailure(f"'{raw}' is not an order number; they look like ORD-1042")
    return f"ORD-{match.group(1)}"


async def _order(conn: asyncpg.Connection, order_id: str, lock: bool = False) -> asyncpg.Record:
    order = await conn.fetchrow(f"select * from shop_orders where id = $1{' for update' if lock else ''}",
                                normalise_order_id(order_id))
    if order is None:
        raise ToolFailure(f"I can't find an order {normalise_order_id(order_id)}; could you check the number?")
    return order


async def order_lookup(conn: asyncpg.Connection, order_id: str) -> dict[str, Any]:
    order = await _order(conn, order_id)
    items = ", ".join(f"{i.get('quantity', 1)} x {i['name']}" for i in order["items"]) or "no items"
    message = f"Order {order['id']} ({items}, {_money(order['total'])}) is {order['status']}"
    if order["status"] == "shipped" and order["tracking_number"]:
        message += f", with {order['carrier']}, tracking number {order['tracking_number']}"
    return {"ok": True, "message": message + ".", "order_id": order["id"], "status": order["status"],
            "carrier": order["carrier"], "tracking_number": order["tracking_number"]}


async def refund_order(conn: asyncpg.Connection, order_id: str, amount: float | None = None, reason: str = "",
                       call_id: UUID | None = None) -> dict[str, Any]:
    async with conn.transaction():
        order = await _order(conn, order_id, lock=True)
        if order["status"] in ("refunded", "cancelled"):
            raise ToolFailure(f"Order {order['id']} is already {order['status']}.")
        refunded = await conn.fetchval("select coalesce(sum(amount), 0) from shop_refunds where order_id = $1",
                                       order["id"])
        left = order["total"] - refunded
        value = left if amount is None else Decimal(str(amount)).quantize(Decimal("0.01"))
        if value <= 0 or value > left:
            raise ToolFailure(f"I can refund at most {_money(left)} on order {order['id']}.")
        refund_id = f"RF-{secrets.token_hex(3).upper()}"
        await conn.execute(
            "insert into shop_refunds(id, order_id, amount, reason, call_id) values ($1, $2, $3, $4, $5)",
            refund_id, order["id"], value, reason, call_id)
        if value == left:
            await conn.execute("update shop_orders set status = 'refunded', updated_at = now() where id = $1",
                               order["id"])
    return {"ok": True, "message": f"I've refunded {_money(value)} on order {order['id']}; the refund number is "
                                   f"{refund_id} and it reaches your account in 3 to 5 working days.",
            "refund_id": refund_id, "amount": float(value), "order_id": order["id"]}


async def change_address(conn: asyncpg.Connection, order_id: str, new_address: str) -> dict[str, Any]:
    new_address = " ".join((new_address or "").split())
    if len(new_address) < 8:
        raise ToolFailure("I need the full new address: street, city and postcode.")
    async with conn.transaction():
        order = await _order(conn, order_id, lock=True)
        if order["status"] != "processing":
            raise ToolFailure(f"Order {order['id']} has already {order['status']}, so its address can't change now.")
        await conn.execute("update shop_orders set shipping_address = $2, updated_at = now() where id = $1",
                           order["id"], new_address)
    return {"ok": True, "message": f"Order {order['id']} will now ship to {new_address}.", "order_id": order["id"],
            "shipping_address": new_address}


async def create_ticket(conn: asyncpg.Connection, subject: str, details: str = "", email: str | None = None,
                        call_id: UUID | None = None, supervisor_id: UUID | None = None) -> dict[str, Any]:
    subject = " ".join((subject or "").split())[:200] or "Customer request"
    ticket_id = f"TCK-{secrets.token_hex(3).upper()}"
    await conn.execute(
        """insert into support_tickets(id, call_id, supervisor_id, customer_email, subject, body)
           values ($1, $2, $3, $4, $5, $6)""", ticket_id, call_id, supervisor_id, email, subject, details or "")
    reach = f" We'll write to {email}." if email else ""
    return {"ok": True, "message": f"I've opened ticket {ticket_id} so a colleague follows up.{reach}",
            "ticket_id": ticket_id}


ORDER_PARAM = {"type": "string", "description": "The order number, like ORD-1042"}
SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in (
    ToolSpec("order_lookup", "Look up an order: status, items, carrier and tracking number.",
             _object({"order_id": ORDER_PARAM}, ["order_id"]),
             ("where is my order", "has my parcel shipped yet", "track my package", "what is the status of my order",
              "my delivery has not arrived"),
             lambda conn, args, call: order_lookup(conn, str(args["order_id"]))),
    ToolSpec("refund_order", "Refund an order, fully or in part.",
             _object({"order_id": ORDER_PARAM, "amount": {"type": "number", "description": "Amount; omit for all"},
                      "reason": {"type": "string"}}, ["order_id"]),
             ("I want a refund", "give me my money back", "refund my order", "the item arrived damaged, refund it",
              "I would like to return this for a refund"),
             lambda conn, args, call: refund_order(
                 conn, str(args["order_id"]), float(args["amount"]) if args.get("amount") is not None else None,
                 str(args.get("reason", "")), call_id=call.call_id)),
    ToolSpec("change_address", "Change the shipping address of an order that has not shipped yet.",
             _object({"order_id": ORDER_PARAM, "new_address": {"type": "string"}}, ["order_id", "new_address"]),
             ("change my delivery address", "ship it to a different address", "update the shipping address",
              "I moved, please send it to my new address", "please send my order to another address instead",
              "deliver my order to a new address"),
             lambda conn, args, call: change_address(conn, str(args["order_id"]), str(args["new_address"]))),
    ToolSpec("create_ticket", "Open a support ticket so a colleague follows up.",
             _object({"subject": {"type": "string"}, "details": {"type": "string"},
                      "email": {"type": "string", "description": "Where to reach the customer"}}, ["subject"]),
             ("open a ticket", "can someone get back to me", "I want to file a complaint",
              "please have a human follow up", "escalate this"),
             lambda conn, args, call: create_ticket(conn, str(args.get("subject", "")), str(args.get("details", "")),
                                                    args.get("email"), call_id=call.call_id,
                                                    supervisor_id=call.supervisor_id)),
    # Carried out by the call's session, not over the shop: no runner.
    ToolSpec("request_human", "Ask your supervisor to join the call and take it over, when the customer wants to "
             "talk to a person.",
             _object({"reason": {"type": "string", "description": "Why, in a few words"}}, []),
             ("can I talk to a human", "I want to speak to a real person", "let me talk to your manager",
              "put me through to a supervisor", "are you a robot? I want a person")),
    ToolSpec("end_call", "End the call once the customer's request is resolved and they have said goodbye.",
             _object({"resolved": {"type": "boolean"}}, []),
             ("that's all, thank you", "goodbye", "thanks, bye", "no that's everything", "have a nice day")),
)}
