"""The agent's behaviour with the offline brain, through livekit-agents' own testing API
(AgentSession.run and RunResult.expect), with the real built-in tools on a real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from livekit.agents import AgentSession

from agent_worker.agent import AgentConfig, ToolConfig, build_agent
from agent_worker.dispatch import perform
from agent_worker.local_brain import DialogueEngine, LocalDialogueLLM
from embedded_stack.demo import seed_shop
from tests.factories import make_live_call
from text_models.embedding import shared_embedder

CONFIG = AgentConfig(
    id=uuid.uuid4(), supervisor_id=uuid.uuid4(), name="Orders & Shipping", instructions="", greeting="",
    tools=[ToolConfig("order_lookup", "", False, "builtin", None),
           ToolConfig("create_ticket", "", False, "builtin", None)],
    knowledge=[("Returns", "You can return unused items within 30 days of delivery. Refunds reach your account "
                           "in 3 to 5 working days."),
               ("Opening hours", "Our phone lines are open 9am to 6pm, Monday to Friday.")])


@pytest.fixture
async def session(pool: asyncpg.Pool) -> AsyncIterator[AgentSession]:
    async with pool.acquire() as conn:
        await seed_shop(conn)
        ids = await make_live_call(conn)

    async def run_tool(tool: ToolConfig, arguments: dict[str, Any]) -> dict[str, Any]:
        if tool.name == "end_call":
            return {"ok": True, "message": "Thank you for calling. Goodbye!"}
        async with pool.acquire() as conn:
            return await perform(conn, tool.name, arguments, ids)

    engine = DialogueEngine(shared_embedder(), CONFIG.name, CONFIG.knowledge,
                            [t.name for t in CONFIG.tools] + ["end_call"])
    async with AgentSession(llm=LocalDialogueLLM(engine)) as created:
        await created.start(build_agent(CONFIG, [], run_tool))
        yield created


async def test_an_order_question_becomes_a_real_function_call(session: AgentSession) -> None:
    # ORD-3003 is one no other test changes (the call tests refund ORD-1042).
    result = await session.run(user_input="Hi, where's my parcel? The order is ORD-3003.")
    result.expect.next_event().is_function_call(name="order_lookup", arguments={"order_id": "ORD-3003"})
    output = result.expect.next_event().is_function_call_output()
    assert "Camping stove" in output.event().item.output
    message = result.expect.next_event().is_message(role="assistant")
    assert "ORD-3003" in message.event().item.text_content and "delivered" in message.event().item.text_content
    result.expect.no_more_events()


async def test_a_missing_order_number_is_asked_for_and_remembered(session: AgentSession) -> None:
    asked = await session.run(user_input="Has my package shipped yet?")
    assert "order number" in asked.expect.next_event().is_message(role="assistant").event().item.text_content
    answered = await session.run(user_input="It's ORD-3003")
    answered.expect.next_event().is_function_call(name="order_lookup", arguments={"order_id": "ORD-3003"})


async def test_knowledge_answers_come_from_the_knowledge_base(session: AgentSession) -> None:
    result = await session.run(user_input="When are you open?")
    text = result.expect.next_event().is_message(role="assistant").event().item.text_content
    assert "9am to 6pm" in text
    result.expect.no_more_events()


async def test_it_says_when_it_does_not_know_and_offers_a_ticket(session: AgentSession) -> None:
    unsure = await session.run(user_input="Can you recommend a good restaurant in Paris?")
    assert "not sure" in unsure.expect.next_event().is_message(role="assistant").event().item.text_content
    accepted = await session.run(user_input="Yes please, my email is jo@example.com")
    accepted.expect.next_event().is_function_call(name="create_ticket")
    assert "TCK-" in accepted.expect.next_event().is_function_call_output().event().item.output


async def test_an_unknown_order_is_explained_not_invented(session: AgentSession) -> None:
    result = await session.run(user_input="Where is order ORD-99999?")
    result.expect.next_event().is_function_call(name="order_lookup")
    result.expect.next_event().is_function_call_output()
    text = result.expect.next_event().is_message(role="assistant").event().item.text_content
    assert "can't find an order ORD-99999" in text
