"""Demo data so the dashboards are not empty on first run. Deterministic and idempotent."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from argon2 import PasswordHasher

from contracts.tools import BUILTIN_TOOLS

ADMIN_EMAIL = "admin@demo.local"
DEMO_NAMESPACE = uuid.UUID("6f1c2a4e-0a4b-4d7e-9a51-3f0c6e1d2b7a")


SUPERVISORS = (
    ("supervisor1@demo.local", "Dana Whitfield", (
        ("Orders & Shipping", "+1-555-0101", ["shipping", "order-status", "delivery-delay", "address-change"]),
        ("Billing & Refunds", "+1-555-0102", ["refund", "billing", "double-charge", "invoice"]),
        ("Tech Support", "+1-555-0103", ["login", "app-bug", "password-reset", "connectivity"]),
    )),
    ("supervisor2@demo.local", "Marco Alvarez", (
        ("Returns", "+1-555-0201", ["return", "exchange", "damaged-item", "refund"]),
        ("Accounts", "+1-555-0202", ["account", "subscription", "cancellation", "billing"]),
        ("Store Info", "+1-555-0203", ["opening-hours", "stock", "store-location", "promotion"]),
    )),
)

KNOWLEDGE = {
    "shipping": ("Shipping times", "Standard shipping takes 3-5 business days; express takes 1-2. "
                 "Orders placed before 2 pm ship the same day."),
    "refund": ("Refund policy", "Refunds are issued to the original payment method within 5-7 business days "
               "of approval. Items must be returned within 30 days."),
    "login": ("Login problems", "Most login problems are solved by resetting the password from the sign-in "
              "page; accounts lock for 15 minutes after 5 failed attempts."),
    "return": ("Returns", "Returns are free within 30 days with the prepaid label in the order email. "
               "Damaged items are replaced at no cost."),
    "account": ("Account changes", "Email and plan changes take effect immediately; cancellations at the end "
                "of the billing period."),
    "opening-hours": ("Opening hours", "Stores open 9 am-8 pm Monday to Saturday and 10 am-6 pm on Sunday."),
}

# (tag, what the customer wanted, what happened when resolved, what happened when not)
SCENARIOS = {
    "shipping": ("asked when order {order} would arrive", "confirmed it ships tomorrow by express",
                 "could not find a carrier update and opened a ticket"),
    "order-status": ("wanted the status of order {order}", "read out the status and tracking number",
                     "the order was not found under the given email"),
    "delivery-delay": ("complained that order {order} is late", "upgraded shipping and apologised",
                       "escalated the late delivery to the carrier team"),
    "address-change": ("needed to change the address on order {order}", "changed the address after approval",
                       "the order had already shipped, so the address could not change"),
    "refund": ("requested a refund for order {order}", "issued the refund after supervisor approval",
               "the refund was denied because the return window had closed"),
    "billing": ("had a question about a charge", "explained the charge line by line",
                "could not explain the charge and opened a billing ticket"),
    "double-charge": ("was charged twice for order {order}", "refunded the duplicate charge",
                      "the duplicate charge needs a bank investigation"),
    "invoice": ("needed an invoice for order {order}", "emailed the invoice", "the invoice tool was unavailable"),
    "login": ("could not log in", "walked the customer through a password reset",
              "the account stayed locked and a ticket was opened"),
    "app-bug": ("reported the app crashing at checkout", "found a workaround in the web shop",
                "logged the crash for the engineering team"),
    "password-reset": ("never received the reset email", "resent it to the right address",
                       "the email address on file was wrong and needs verification"),
    "connectivity": ("had the app failing to load", "cleared the cache and it loaded",
                     "the outage was ongoing; a ticket was opened"),
    "return": ("wanted to return order {order}", "sent a prepaid return label",
               "the item was outside the 30-day return window"),
    "exchange": ("wanted a different size for order {order}", "arranged an exchange",
                 "the size was out of stock"),
    "damaged-item": ("received a damaged item in order {order}", "sent a replacement at no cost",
                     "needs photos before a replacement can be sent"),
    "account": ("wanted to change the account email", "updated the email", "could not verify the identity"),
    "subscription": ("asked about upgrading the plan", "upgraded the plan", "the plan change needs approval"),
    "cancellation": ("wanted to cancel the subscription", "cancelled at the end of the period",
                     "was transferred to the retention team"),
    "opening-hours": ("asked about Sunday opening hours", "gave the Sunday hours", "the store hours were unknown"),
    "stock": ("asked if a product was in stock", "confirmed stock at the nearest store",
              "the stock level could not be checked"),
    "store-location": ("asked for the nearest store", "gave the address and directions",
                       "no store was near the customer"),
    "promotion": ("asked whether a promotion code applies", "applied the code", "the code had expired"),
}


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    supervisors: int
    agents: int
    archived_calls: int


# The demo shop the agents' built-in tools work on; the dialer's help text suggests these numbers.
SHOP_ORDERS = (
    ("ORD-1042", "jo@example.com", "Jo Rivera", [{"name": "Trail running shoes", "quantity": 1}], "89.90",
     "shipped", "12 Harbour Road, Bristol BS1 5DB", "UPS", "1Z999AA10123456784"),
    ("ORD-2001", "sam@example.com", "Sam Okafor", [{"name": "Rain jacket", "quantity": 1},
                                                  {"name": "Wool socks", "quantity": 3}], "124.50",
     "processing", "4 Mill Lane, Leeds LS1 4AP", None, None),
    ("ORD-3003", "ana@example.com", "Ana Duarte", [{"name": "Camping stove", "quantity": 1}], "45.00",
     "delivered", "77 Rua Augusta, Lisbon 1100-048", "DHL", "JD014600006281234567"),
)


async def seed_shop(conn: asyncpg.Connection) -> None:
    """Idempotent: existing orders are left as the tools changed them."""
    await conn.executemany(
        """insert into shop_orders(id, customer_email, customer_name, items, total, status, shipping_address,
                                   carrier, tracking_number)
           values ($1, $2, $3, $4::text::jsonb, $5::numeric, $6, $7, $8, $9) on conflict (id) do nothing""",
        [(order_id, email, name, json.dumps(items), total, status, address, carrier, tracking)
         for order_id, email, name, items, total, status, address, carrier, tracking in SHOP_ORDERS])


def demo_id(name: str) -> uuid.UUID:
    """Stable ids, so re-seeding and documentation can refer to the same rows."""
    return uuid.uuid5(DEMO_NAMESPACE, name)


async def seed_demo(conn: asyncpg.Connection, password: str, *, mcp_url: str | None = None,
                    calls_per_agent: int = 50,
                    now: datetime | None = None) -> DemoSummary:
    await seed_shop(conn)
    if await conn.fetchval("select exists(select 1 from users where email = $1)", ADMIN_EMAIL):
        return DemoSummary(False, 0, 0, 0)
    now = now or datetime.now(UTC)
    rng = random.Random(7)
    password_hash = PasswordHasher().hash(password)
    agents = 0
    archived = 0
    async with conn.transaction():
        await _user(conn, demo_id(ADMIN_EMAIL), ADMIN_EMAIL, "admin", "Avery Admin", password_hash)
        for email, full_name, agent_specs in SUPERVISORS:
            supervisor_id = demo_id(email)
            await _user(conn, supervisor_id, email, "supervisor", full_name, password_hash)
            await conn.execute("insert into supervisors(id) values ($1)", supervisor_id)
            for name, number, tags in agent_specs:
                agent_id = demo_id(number)
                await _agent(conn, agent_id, supervisor_id, name, number, tags, mcp_url)
                agents += 1
                for _ in range(calls_per_agent):
                    await _archived_call(conn, rng, now, supervisor_id, agent_id, name, number, tags)
                    archived += 1
    return DemoSummary(True, len(SUPERVISORS), agents, archived)


async def _user(conn: asyncpg.Connection, user_id: uuid.UUID, email: str, role: str, name: str,
                password_hash: str) -> None:
    await conn.execute("insert into users(id, email, role, full_name) values ($1, $2, $3, $4)",
                       user_id, email, role, name)
    await conn.execute("insert into local_credentials(user_id, password_hash) values ($1, $2)",
                       user_id, password_hash)


async def _agent(conn: asyncpg.Connection, agent_id: uuid.UUID, supervisor_id: uuid.UUID, name: str,
                 number: str, tags: list[str], mcp_url: str | None) -> None:
    await conn.execute(
        """insert into agents(id, supervisor_id, name, phone_number, instructions, greeting, tag_taxonomy)
           values ($1, $2, $3, $4, $5, $6, $7)""",
        agent_id, supervisor_id, name, number,
        f"You are the {name} assistant of Acme Store. Be brief and friendly, check facts with the tools, "
        "and offer a ticket or a human when you cannot help.",
        f"Hello, you have reached Acme Store {name}. How can I help?", tags)
    for tool, description, approval in BUILTIN_TOOLS:
        await conn.execute(
            """insert into agent_tools(agent_id, supervisor_id, name, description, requires_approval)
               values ($1, $2, $3, $4, $5)""", agent_id, supervisor_id, tool, description, approval)
    if mcp_url:  # served by the demo MCP server `make run` starts (agent_worker.demo_mcp)
        await conn.execute(
            """insert into agent_tools(agent_id, supervisor_id, name, description, source, mcp_server_url)
               values ($1, $2, 'loyalty_points', 'How many loyalty points a customer has, by email.', 'mcp', $3)""",
            agent_id, supervisor_id, mcp_url)
    title, content = KNOWLEDGE[tags[0]]
    await conn.execute(
        "insert into knowledge_entries(agent_id, supervisor_id, title, content) values ($1, $2, $3, $4)",
        agent_id, supervisor_id, title, content)


async def _archived_call(conn: asyncpg.Connection, rng: random.Random, now: datetime, supervisor_id: uuid.UUID,
                         agent_id: uuid.UUID, agent_name: str, number: str, tags: list[str]) -> None:
    call_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    tag = rng.choice(tags)
    want, fixed, not_fixed = SCENARIOS[tag]
    order = f"ORD-{rng.randint(1000, 1999)}"
    resolved = rng.random() < 0.78
    started = now - timedelta(days=rng.uniform(0.05, 30))
    handle = round(rng.uniform(60, 420) if resolved else rng.uniform(180, 900), 1)
    sentiment = max(-1.0, min(1.0, rng.gauss(0.35 if resolved else -0.3, 0.3)))
    csat = max(1.0, min(5.0, round(3 + 1.6 * sentiment + (0.4 if resolved else -0.4) + rng.gauss(0, 0.3), 2)))
    label = "positive" if sentiment > 0.2 else "negative" if sentiment < -0.2 else "neutral"
    caller = f"customer{rng.randint(1, 120)}@example.com"
    want_text = want.format(order=order)
    outcome = fixed if resolved else not_fixed
    summary = f"The customer {want_text}; the agent {outcome}."
    timeline = [{"t": round(handle * i / 4, 1), "score": round(max(-1.0, min(1.0, sentiment + rng.gauss(0, 0.2))), 3)}
                for i in range(5)]
    ended = started + timedelta(seconds=handle)
    await conn.execute(
        """insert into calls(id, supervisor_id, agent_id, agent_name, channel, caller, dialled_number, status,
                             brain, queued_at, started_at, ended_at, end_reason, ended_by)
           values ($1, $2, $3, $4, 'chat', $5, $6, 'ended', 'local', $7, $7, $8, $9, $10)""",
        call_id, supervisor_id, agent_id, agent_name, caller, number, started, ended,
        "agent_resolved" if resolved else "customer_hangup", "agent" if resolved else "customer")
    lines = [("agent", f"Hello, you have reached Acme Store {agent_name}. How can I help?"),
             ("customer", f"Hi, I'm calling because I {want_text}."),
             ("agent", f"Thanks, let me check that for you. I {outcome}.")]
    await conn.executemany(
        """insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, brain, occurred_at)
           values ($1, $2, $3, $4, $5, $6, $7)""",
        [(call_id, seq, supervisor_id, speaker, text, "local" if speaker == "agent" else None,
          started + timedelta(seconds=seq * handle / len(lines))) for seq, (speaker, text) in enumerate(lines)])
    await conn.execute(
        """insert into archives(call_id, supervisor_id, agent_id, agent_name, channel, caller, started_at, ended_at,
                                handle_seconds, summary, tags, csat, fcr, resolved, sentiment_label, sentiment_avg,
                                sentiment_timeline, summary_source, brain)
           values ($1, $2, $3, $4, 'chat', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'demo', 'local')""",
        call_id, supervisor_id, agent_id, agent_name, caller, started, ended, handle, summary,
        [tag, "resolved" if resolved else "unresolved"], csat, resolved and rng.random() < 0.9, resolved, label,
        round(sentiment, 3), timeline)
