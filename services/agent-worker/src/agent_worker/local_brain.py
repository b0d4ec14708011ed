"""The offline dialogue engine: a real, small one, with no hosted model.

It embeds what the customer says with a sentence-embedding model (MiniLM, see embedding.py) and
decides by meaning, not keywords:
- a request that means one of the agent's tools (nearest of the tool's description and example
  requests) becomes a real function call, with its arguments taken from the conversation (order
  numbers, amounts, addresses, emails); a missing argument is asked for and remembered;
- a question answered by the agent's knowledge base gets the most relevant sentences of the best entry;
- anything else gets an honest "I don't know" and the offer of a ticket.

``DialogueEngine`` is plain Python (tests call it directly); ``LocalDialogueLLM`` wraps it as a
livekit-agents ``llm.LLM`` so the same AgentSession runs it, a hosted model or a self-hosted one.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit.agents import llm
from livekit.agents.llm import ChatChunk, ChatContext, ChoiceDelta, FunctionToolCall
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent_worker.model_files import inference_executor
from agent_worker.shop import ORDER_ID, SPECS
from text_models.embedding import Embedder

BRAIN_NAME = "local-minilm"
TOOL_THRESHOLD = 0.45
KNOWLEDGE_THRESHOLD = 0.38
GUIDANCE_BOOST = 0.08  # the supervisor's injected instructions outrank the static knowledge base
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
AMOUNT = re.compile(r"(?:\$\s?(\d+(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s?(?:dollars|usd|eur|euros))", re.IGNORECASE)
ADDRESS = re.compile(r"(?:\bto|address is|address:|new address)\s+(.{8,200})$", re.IGNORECASE)
YES = re.compile(r"^\s*(yes|yeah|yep|sure|ok(ay)?|please( do)?|go ahead|do it|that would be (great|good))\b",
                 re.IGNORECASE)
NO = re.compile(r"^\s*(no|nope|not now|no thanks?)\b", re.IGNORECASE)
TRAILING_FILLER = re.compile(r"[\s,.!]*\b(instead|please|thanks|thank you)?[\s,.!]*$", re.IGNORECASE)
SENTENCE = re.compile(r"(?<=[.!?])\s+")
GREETINGS = ("hello", "hi there", "good morning", "hey, how are you")
QUESTIONS = {
    "order_id": "Could you tell me your order number? It looks like ORD-1042.",
    "new_address": "What is the new address, with street, city and postcode?",
    "email": "Could you tell me the email address on your account?",
}


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class Call:
    tool: str
    arguments: dict[str, Any]


@dataclass
class Passage:
    source: str
    text: str
    boost: float = 0.0


@dataclass
class DialogueEngine:
    embedder: Embedder
    agent_name: str
    knowledge: list[tuple[str, str]]
    tools: list[str]  # the tool names this agent may use (built-in ones have examples in SPECS)
    tool_descriptions: dict[str, str] = field(default_factory=dict)
    caller: str = ""  # who the customer said they are when dialling (an email, often)
    pending: Call | None = None  # a tool the customer asked for, waiting for an argument or a yes
    _passages: list[Passage] = field(default_factory=list)
    _passage_vectors: np.ndarray | None = None
    _intent_names: list[str] = field(default_factory=list)
    _intent_vectors: np.ndarray | None = None
    _learned_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for title, content in self.knowledge:
            self._add_passages(title, content)
        phrases: list[tuple[str, str]] = [("greeting", g) for g in GREETINGS]
        for name in self.tools:
            spec = SPECS.get(name)
            described = self.tool_descriptions.get(name) or (spec.description if spec else name.replace("_", " "))
            phrases.append((name, described))
            phrases += [(name, example) for example in (spec.examples if spec else ())]
        self._intent_names = [name for name, _ in phrases]
        self._intent_vectors = self.embedder.embed_known([text for _, text in phrases])

    def learn_tool(self, name: str, description: str, parameters: dict[str, Any] | None = None) -> None:
        """A tool found at call start (an MCP server's): recognised by its description from now on,
        its arguments taken and asked for as its JSON schema says."""
        if parameters:
            self._learned_parameters[name] = parameters
        if name not in self.tools:
            self.tools.append(name)
        vectors = self.embedder.embed_known([description or name.replace("_", " ")])
        self._intent_names.append(name)
        self._intent_vectors = vectors if self._intent_vectors is None else np.vstack([self._intent_vectors, vectors])

    def _add_passages(self, source: str, content: str, boost: float = 0.0) -> None:
        sentences = [s.strip() for s in SENTENCE.split(content) if s.strip()]
        new = [Passage(source, s, boost) for s in sentences]
        vectors = self.embedder.embed_known([f"{source}: {p.text}" for p in new])
        self._passages += new
        self._passage_vectors = vectors if self._passage_vectors is None else np.vstack([self._passage_vectors,
                                                                                         vectors])

    def add_guidance(self, instructions: str) -> None:
        """The supervisor's injected instructions: searched first from now on."""
        self._add_passages("Supervisor guidance", instructions, GUIDANCE_BOOST)

    def greeting(self, configured: str) -> str:
        return configured or f"Hello, you're through to {self.agent_name}. How can I help you today?"

    def respond(self, text: str, recent_user_texts: list[str]) -> Reply | Call:
        """What to do with what the customer just said (``recent_user_texts``: earlier turns, oldest first)."""
        if self.pending is not None:
            followed_up = self._follow_up(text, recent_user_texts)
            if followed_up is not None:
                return followed_up
        vector = self.embedder.embed([_masked(text)])[0]
        intent, intent_score = self._best_intent(vector)
        passage, passage_score = self._best_passage(vector)
        if intent == "greeting" and intent_score >= TOOL_THRESHOLD and passage_score < KNOWLEDGE_THRESHOLD:
            return Reply("Hello! How can I help you today?")
        if intent not in (None, "greeting") and intent_score >= TOOL_THRESHOLD and intent_score >= passage_score:
            return self._ask_or_call(Call(intent, self._arguments(intent, text, recent_user_texts)))
        if passage is not None and passage_score >= KNOWLEDGE_THRESHOLD:
            return Reply(self._answer(vector, passage))
        if "create_ticket" in self.tools:
            self.pending = Call("create_ticket", {"subject": text[:200]})
            return Reply("I'm not sure about that, and I'd rather not guess. I can open a ticket so a colleague "
                         "gets back to you. Shall I do that?")
        return Reply("I'm not sure about that, and I'd rather not guess. Could you put it another way, or ask "
                     "for a colleague?")

    def _follow_up(self, text: str, recent: list[str]) -> Reply | Call | None:
        """The customer's answer to our question; None when they moved on to something else."""
        assert self.pending is not None
        pending, self.pending = self.pending, None
        missing = set(self._required(pending.tool)) - set(pending.arguments)
        if not missing:  # we offered to do it (a ticket): a yes or a no
            if YES.match(text):
                email = EMAIL.search(" ".join([*recent, text]))
                return Call(pending.tool, {**pending.arguments, **({"email": email.group()} if email else {})})
            return Reply("No problem. Is there anything else I can help with?") if NO.match(text) else None
        supplied = {k: v for k, v in self._arguments(pending.tool, text, [], answering=True).items()
                    if k not in pending.arguments}
        if not missing & set(supplied):
            return Reply("All right. Is there anything else I can help with?") if NO.match(text) else None
        return self._ask_or_call(Call(pending.tool, {**supplied, **pending.arguments}))

    def _ask_or_call(self, call: Call) -> Reply | Call:
        missing = [p for p in self._required(call.tool) if p not in call.arguments]
        if missing:
            self.pending = call
            return Reply(QUESTIONS.get(missing[0], f"Could you tell me the {missing[0].replace('_', ' ')}?"))
        return call

    def _arguments(self, tool: str, text: str, recent: list[str], answering: bool = False) -> dict[str, Any]:
        """Arguments for ``tool`` from this message, falling back to earlier ones for what it lacks."""
        found: dict[str, Any] = {}
        for source in [text, *reversed(recent)]:
            if "order_id" not in found and (order := ORDER_ID.search(source)):
                found["order_id"] = f"ORD-{order.group(1)}"
            if "email" not in found and (email := EMAIL.search(source)):
                found["email"] = email.group()
        if "email" not in found and (email := EMAIL.fullmatch(self.caller.strip())):
            found["email"] = email.group()
        if tool == "refund_order" and (amount := AMOUNT.search(text)):
            found["amount"] = float(amount.group(1) or amount.group(2))
        if tool == "change_address":
            address = ADDRESS.search(text)
            if address:
                found["new_address"] = TRAILING_FILLER.sub("", address.group(1)).strip()
            elif answering and not ORDER_ID.search(text) and re.search(r"\d", text) and len(text.strip()) >= 8:
                found["new_address"] = text.strip()
        if tool == "refund_order":
            found.setdefault("reason", text[:300])
        if tool == "create_ticket":
            found.setdefault("subject", text[:200])
        return {k: v for k, v in found.items() if k in self._parameter_names(tool)}

    def _required(self, tool: str) -> list[str]:
        spec = SPECS.get(tool)
        schema = spec.parameters if spec else self._learned_parameters.get(tool, {})
        return list(schema.get("required", []))

    def _parameter_names(self, tool: str) -> set[str]:
        spec = SPECS.get(tool)
        schema = spec.parameters if spec else self._learned_parameters.get(tool, {})
        return set(schema.get("properties", {})) or {"order_id", "email"}

    def _best_intent(self, vector: np.ndarray) -> tuple[str | None, float]:
        """Each intent scores the mean of its two closest phrases: steadier than one lucky example."""
        if self._intent_vectors is None or not len(self._intent_names):
            return None, 0.0
        similarities = self._intent_vectors @ vector
        scores: dict[str, float] = {}
        for name in dict.fromkeys(self._intent_names):
            mine = np.sort(similarities[[i for i, n in enumerate(self._intent_names) if n == name]])[::-1]
            scores[name] = float(mine[:2].mean())
        best = max(scores, key=scores.__getitem__)
        return best, scores[best]

    def _best_passage(self, vector: np.ndarray) -> tuple[Passage | None, float]:
        if self._passage_vectors is None or not self._passages:
            return None, 0.0
        scores = self._passage_vectors @ vector + np.array([p.boost for p in self._passages])
        best = int(np.argmax(scores))
        return self._passages[best], float(scores[best])

    def _answer(self, vector: np.ndarray, best: Passage) -> str:
        """The best sentence, and the next best of the same entry when it also fits."""
        assert self._passage_vectors is not None
        same = [i for i, p in enumerate(self._passages) if p.source == best.source]
        ranked = sorted(same, key=lambda i: float(self._passage_vectors[i] @ vector), reverse=True)
        chosen = [i for i in ranked[:2] if float(self._passage_vectors[i] @ vector) >= KNOWLEDGE_THRESHOLD - 0.05]
        return " ".join(self._passages[i].text for i in sorted(chosen or ranked[:1]))


def _masked(text: str) -> str:
    """Specific order numbers and addresses say nothing about what the customer wants; hide them."""
    return EMAIL.sub("my email", ORDER_ID.sub("my order", text))




def spoken_result(output: str, is_error: bool) -> str:
    """What to say about a tool's output: its message, or an honest account of why it failed."""
    data: Any = None
    for parse in (json.loads, ast.literal_eval):
        try:
            data = parse(output)
            break
        except (ValueError, SyntaxError):
            continue
    message = data.get("message") if isinstance(data, dict) else None
    if message:  # composed for the customer by the tool, success or not
        return str(message)
    return f"I'm sorry, I couldn't do that: {output}" if is_error else "That's done."


class LocalDialogueLLM(llm.LLM):
    def __init__(self, engine: DialogueEngine) -> None:
        super().__init__()
        self.engine = engine

    @property
    def model(self) -> str:
        return BRAIN_NAME

    @property
    def provider(self) -> str:
        return "local"

    def chat(self, *, chat_ctx: ChatContext, tools: list[llm.Tool] | None = None,
             conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS, **_: Any) -> llm.LLMStream:
        return _LocalStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _LocalStream(llm.LLMStream):
    async def _run(self) -> None:
        engine: DialogueEngine = self._llm.engine  # type: ignore[attr-defined]
        items = self._chat_ctx.items
        last = items[-1] if items else None
        chunk_id = uuid.uuid4().hex
        if last is not None and last.type == "function_call_output":
            self._say(chunk_id, spoken_result(last.output, last.is_error))
            return
        user_texts = [i.text_content or "" for i in items if i.type == "message" and i.role == "user"]
        if not user_texts:
            return
        # The embedding is CPU work: on the event loop it would stall a voice call's audio for its
        # 100+ ms (livekit-agents warns of the blocked loop), so it runs in the inference pool.
        decision = await asyncio.get_running_loop().run_in_executor(
            inference_executor(), engine.respond, user_texts[-1], user_texts[-7:-1])
        if isinstance(decision, Call):
            self._event_ch.send_nowait(ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", tool_calls=[
                FunctionToolCall(name=decision.tool, arguments=json.dumps(decision.arguments),
                                 call_id=f"call_{uuid.uuid4().hex[:12]}")])))
        else:
            self._say(chunk_id, decision.text)

    def _say(self, chunk_id: str, text: str) -> None:
        self._event_ch.send_nowait(ChatChunk(id=chunk_id, delta=ChoiceDelta(role="assistant", content=text)))
