"""The offline post-call summary and tags, from what the call's archive holds: the transcript and the
agent's tool requests with their results and the supervisor's decisions.

- Request: the customer's sentences are read by meaning (MiniLM embeddings). Small talk (greetings,
  thanks, "are you still there?"), bare outbursts ("this is ridiculous!") and details the agent asked
  for ("It's ORD-3003") are set aside; of the rest, the sentence most representative of everything the
  customer said and nearest what answered it (a tool request or the agent's words) is quoted, and at
  most one more that something else answered.
- What the agent did: each tool request, phrased from its arguments and result (the order's status
  and tracking, the refund's amount and number, the new address, the ticket number) or from the
  supervisor's refusal and note; without tools, the agent's answer most relevant to the request.
- Outcome, from what happened, never from who hung up: a refused or failed action, a call for
  escalation or a customer who left unhappy is not resolved; a ticket is a hand-off, not a
  resolution; an action carried out or a question answered is resolved.
- Tags: the agent's tag taxonomy ranked by similarity to the request; taxonomy tags above a threshold
  are kept, plus free tags for the tools the agent was asked to use (the call's topic, done or not).

Embedding is nearly all of a summary's CPU. What recurs from call to call (the agent's sentences once
order numbers and other figures are masked, the tags, short openings, tool phrasings) is embedded once per process
(Embedder.embed_known); only the customer's own words are embedded for each call.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contracts.tools import REFUSED_STATUSES, ToolRequestStatus
from text_models.embedding import Embedder

SOURCE = "local-extractive"
SENTENCE = re.compile(r"(?<=[.!?])\s+")
TAG_THRESHOLD = 0.3
MAX_TAGS = 3
TOOL_TAGS = {"order_lookup": "order-status", "refund_order": "refund", "change_address": "address-change",
             "create_ticket": "ticket"}
ESCALATION = re.compile(r"\b(manager|supervisor|human|real person|complain(t)?|lawyer)\b", re.IGNORECASE)
THANKS = re.compile(r"\b(thanks?|thank you|cheers)\b", re.IGNORECASE)
# A question, or a request put as a statement ("I'd like a refund"): either way the customer asked.
ASKING = re.compile(r"^(where|what|when|why|how|who|which|is|are|was|were|do|does|did|can|could|will|would|"
                   r"has|have|should)\b|\b(I'd like|I would like|I want|I need|please)\b", re.IGNORECASE)
ORDER_ID = re.compile(r"\bORD-\d{3,10}\b", re.IGNORECASE)
# What is new in every call's lines: amounts, refund and ticket numbers (RF-3F2A1B), tracking numbers.
# Not every figure: "a 10% voucher" or "within 30 days" is what the agent answered.
FIGURE = re.compile(r"[$€£]\d[\d,]*(?:\.\d+)?|\b[A-Z]{2,4}-[0-9A-Z]{4,}\b|\b\w*\d{6,}\w*\b")

# What people say that is not a request. Meaning, not keywords: the nearest of these decides.
SMALL_TALK = ("hello", "hi there", "good morning", "hello? are you still there?", "can you hear me?", "okay",
              "yes please", "yes, go ahead", "no thanks", "no, that's all", "thanks, bye", "thank you", "goodbye",
              "have a nice day", "sure", "alright then", "sorry, what?", "hmm")
FRUSTRATION = ("this is ridiculous", "that's useless", "nobody ever helps me", "forget it, I'm done",
               "this is the worst service ever", "unbelievable", "I'm so angry", "you people are hopeless",
               "what a waste of time")
SATISFACTION = ("thanks, that helps", "great, thank you", "perfect, that's all I needed", "brilliant, thanks a lot",
                "that solves it, thank you", "wonderful, have a nice day")
# What the agent says that is not an answer: courtesy, holding lines, and not knowing.
AGENT_COURTESY = ("Hello, how can I help you today?", "One moment please, I need my supervisor's approval for that.",
                  "Excuse me for a moment, I need to check something. I'll be right back with you.",
                  "Thank you for waiting.", "Is there anything else I can help with?",
                  "Thank you for calling. Goodbye!", "No problem.",
                  # a refusal read out: the refused tool request tells it
                  "I'm sorry, I'm not able to do that right now.")
AGENT_NOT_KNOWING = ("I'm not sure about that, and I'd rather not guess.", "I don't know.",
                     "Could you put it another way, or ask for a colleague?")
# The agent asking for a detail: the customer's reply gives it ("It's ORD-3003"), it is not a request.
AGENT_ASKS_DETAIL = ("Could you tell me your order number?", "What is the new address, with street, city and postcode?",
                     "Could you tell me the email address on your account?")
TICKET_OFFER = ("I can open a ticket so a colleague gets back to you. Shall I do that?",
                "Would you like me to have someone follow up?")
# How close a sentence must be to one of those kinds to count as one (MiniLM cosine).
KIND_THRESHOLD = 0.6
# How close an agent's sentence must be to the request to count as its answer.
ANSWER_THRESHOLD = 0.35
# An agent line this close to a tool's result is that result read out, already told as the action.
SAME_AS_RESULT = 0.9
# A second request is quoted only when it is about something else than the first.
DISTINCT_REQUEST = 0.7
# Asked for and never done: refused, failed, or cut short by the end of the call (withdrawn while
# waiting for the supervisor; allowed but not run yet).
NEVER_DONE: tuple[ToolRequestStatus, ...] = (*REFUSED_STATUSES, "failed", "withdrawn", "pending", "allowed")


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str


@dataclass(frozen=True)
class ToolUse:
    """One tool request of the call, as tool_requests holds it."""

    name: str
    status: ToolRequestStatus
    arguments: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    note: str = ""  # the supervisor's, with the decision
    requires_approval: bool = False


@dataclass(frozen=True)
class Outcome:
    summary: str
    tags: list[str]
    resolved: bool
    reason: str
    source: str = SOURCE


@dataclass(frozen=True)
class Sentence:
    line: int  # which transcript line it comes from, for what followed what
    text: str


def sentences(lines: list[Line], speaker: str) -> list[Sentence]:
    return [Sentence(index, s.strip()) for index, line in enumerate(lines) if line.speaker == speaker
            for s in SENTENCE.split(line.text) if s.strip()]


@functools.cache
def _examples(embedder: Embedder, examples: tuple[str, ...]) -> np.ndarray:
    return embedder.embed(list(examples))


def closeness(embedder: Embedder, vectors: np.ndarray, examples: tuple[str, ...]) -> np.ndarray:
    """Each vector's similarity to the nearest of ``examples``."""
    if not len(vectors):
        return np.zeros(0)
    return (vectors @ _examples(embedder, examples).T).max(axis=1)


def without_opening_filler(embedder: Embedder, text: str) -> str:
    """'Hi, where is my order?' quotes as 'Where is my order?': a short opening clause that is small
    talk says nothing about the request."""
    head, comma, rest = text.partition(",")
    if not comma or not rest.strip() or len(head.split()) > 3:
        return text
    if closeness(embedder, embedder.embed_known([head]), SMALL_TALK)[0] < KIND_THRESHOLD:
        return text
    rest = rest.strip()
    return without_opening_filler(embedder, rest[0].upper() + rest[1:])


# --- what the agent did --------------------------------------------------------------------------

def _order(use: ToolUse) -> str:
    found = (use.result or {}).get("order_id") or use.arguments.get("order_id")
    return str(found) if found else "the order"


def _tool_words(name: str) -> str:
    return name.replace("_", " ")


def intended(use: ToolUse) -> str:
    """The action asked for, as an infinitive: 'refund ORD-2001'."""
    if use.name == "order_lookup":
        return f"look up {_order(use)}"
    if use.name == "refund_order":
        amount = use.arguments.get("amount")
        return f"refund {f'${float(amount):.2f} on ' if amount is not None else ''}{_order(use)}"
    if use.name == "change_address":
        return f"change the delivery address of {_order(use)}"
    if use.name == "create_ticket":
        return "open a ticket"
    return f"use {_tool_words(use.name)}"


def _ticket(use: ToolUse) -> str:
    ticket = (use.result or {}).get("ticket_id")
    return f"ticket {ticket}" if ticket else "a ticket"


def _order_status(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "shipped":
        carrier, tracking = result.get("carrier"), result.get("tracking_number")
        return "shipped" + (f" with {carrier}" if carrier else "") + (f", tracking {tracking}" if tracking else "")
    if status == "processing":
        return "still processing, not shipped yet"
    return str(status) if status else ""


def done(use: ToolUse) -> str:
    """An action carried out, phrased from its result: 'refunded $89.90 on ORD-1042 (refund RF-1A2B3C)'."""
    result = use.result or {}
    approved = " with the supervisor's approval" if use.requires_approval else ""
    if use.name == "order_lookup":
        status = _order_status(result)
        return f"looked up {_order(use)}" + (f" ({status})" if status else "")
    if use.name == "refund_order":
        amount = result.get("amount", use.arguments.get("amount"))
        refund = result.get("refund_id")
        return (f"refunded {f'${float(amount):.2f} on ' if amount is not None else ''}{_order(use)}"
                + (f" (refund {refund})" if refund else "") + approved)
    if use.name == "change_address":
        address = result.get("shipping_address") or use.arguments.get("new_address")
        return f"changed the delivery address of {_order(use)}" + (f" to {address}" if address else "") + approved
    if use.name == "create_ticket":
        return f"opened {_ticket(use)} so a colleague follows up"
    message = str(result.get("message") or "").rstrip(".")
    return f"used {_tool_words(use.name)}" + (f" ({message})" if message else "") + approved


def refused(use: ToolUse) -> str:
    """An action that did not happen, and why: 'asked the supervisor to refund ORD-2001, who denied it
    (outside the return window)'."""
    note = f" ({use.note})" if use.note else ""
    if use.status == "denied":
        return f"asked the supervisor to {intended(use)}, who denied it{note}"
    if use.status == "timed_out":
        return f"asked the supervisor to {intended(use)}, who did not answer in time"
    if use.status == "failed":  # the error is the tool's message to the customer: its first clause says why
        why = re.split(r"[;?]", use.error or "")[0].strip().rstrip(".")
        return f"could not {intended(use)}" + (f" ({why})" if why else "")
    return f"asked to {intended(use)}, but the call ended before it was done"


def action(use: ToolUse) -> str:
    return done(use) if use.status == "executed" else refused(use)


def _unique(uses: list[ToolUse]) -> list[ToolUse]:
    """A lookup repeated with the same result is one thing the agent did."""
    seen: dict[str, ToolUse] = {}
    for use in uses:
        seen.setdefault(action(use), use)
    return list(seen.values())


def never_done(uses: list[ToolUse]) -> list[ToolUse]:
    """Actions refused, failed or unfinished and not carried out later (a lookup that failed on a
    mistyped number and then worked is not a refusal)."""
    return [use for index, use in enumerate(uses) if use.status in NEVER_DONE
            and not any(later.name == use.name and later.status == "executed" for later in uses[index + 1:])]


# --- reading the conversation --------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    sentence: Sentence
    vector: np.ndarray
    answer: str | None  # the agent's spoken answer, when words rather than an action answered it


@dataclass(frozen=True)
class Reading:
    """The call read by meaning: the customer's request(s) and their answers, and how the customer closed."""

    requests: list[Request]  # in the order they were said
    action_lines: list[int]  # for each distinct tool use, the line of what the customer said that it answers
    could_not_answer: bool  # the agent said it did not know
    offered_ticket: bool
    upset: bool  # the customer was frustrated at some point
    closing: str  # "satisfied", "unhappy" or "neutral"
    closing_words: str
    small_talk: list[str]  # what the customer said when they made no request


def _masked(text: str) -> str:
    """Which order it is says nothing about what was wanted; 'It's ORD-3003' is not the request. Nor do
    the other figures in a line say what kind of line it is; masked, an agent's sentences and a tool's
    results recur from call to call and are embedded once (each refund's own amount and number made
    every one new: 43% of a summary's CPU at 100 calls, profiled)."""
    return FIGURE.sub("a number", ORDER_ID.sub("my order", text))


def read_call(embedder: Embedder, lines: list[Line], uses: list[ToolUse]) -> Reading:
    said = [Sentence(s.line, without_opening_filler(embedder, s.text)) for s in sentences(lines, "customer")]
    vectors = embedder.embed([_masked(s.text) for s in said])
    chatter, outburst = closeness(embedder, vectors, SMALL_TALK), closeness(embedder, vectors, FRUSTRATION)
    closing, closing_words = _closing(embedder, lines)
    upset = bool(len(outburst) and outburst.max() >= KIND_THRESHOLD) or closing == "unhappy"
    replies = AgentReplies.of(embedder, lines, uses)
    details = {line for line in range(1, len(lines)) if _previous_agent_line(lines, line) in replies.detail_questions}
    content = [i for i in range(len(said))
               if max(chatter[i], outburst[i]) < KIND_THRESHOLD and said[i].line not in details]
    if not content:
        return Reading([], [], False, False, upset, closing, closing_words, [s.text for s in said])
    said, vectors = [said[i] for i in content], vectors[content]
    actions = embedder.embed_known([_masked(_acted_on(use)) for use in _unique(uses)])
    spoken = [i for i in range(len(replies.said)) if replies.answering[i]]
    fit = vectors @ np.vstack([actions, replies.vectors[spoken]]).T  # customer sentence x response
    for column, reply in enumerate(spoken, start=len(actions)):  # words answer only what was said before them
        fit[[i for i, sentence in enumerate(said) if sentence.line > replies.said[reply].line], column] = -1.0
    chosen = _requests(vectors, fit)
    requests = []
    for i in chosen:
        best = int(np.argmax(fit[i])) if fit.shape[1] else -1
        spoken_answer = best >= len(actions) and fit[i, best] >= ANSWER_THRESHOLD
        requests.append(Request(said[i], vectors[i], replies.said[spoken[best - len(actions)]].text
                                if spoken_answer else None))
    first = said[chosen[0]].line
    return Reading(requests, [said[int(np.argmax(fit[:, a]))].line for a in range(len(actions))],
                   any(r.line > first for r in replies.not_knowing), replies.offered_ticket, upset, closing,
                   closing_words, [])


def _previous_agent_line(lines: list[Line], index: int) -> int | None:
    return next((i for i in range(index - 1, -1, -1) if lines[i].speaker == "agent"), None)


def _acted_on(use: ToolUse) -> str:
    """A tool request as text to compare with what the customer said."""
    details = " ".join(str(v) for v in use.arguments.values())
    message = (use.result or {}).get("message", "")
    return f"{_tool_words(use.name)} {details} {message}".strip()


def _requests(vectors: np.ndarray, fit: np.ndarray) -> list[int]:
    """The main request: representative of everything the customer said (near the centroid) and near
    what answered it (an action or the agent's words). A second one when something else answered it.
    Indices in the order said."""
    centroid = vectors.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    score = vectors @ centroid + (fit.max(axis=1).clip(min=0) if fit.shape[1] else 0)
    main = int(np.argmax(score))
    if fit.shape[1] < 2:
        return [main]
    candidates = [i for i in range(len(vectors)) if i != main and float(vectors[i] @ vectors[main]) < DISTINCT_REQUEST
                  and int(np.argmax(fit[i])) != int(np.argmax(fit[main])) and fit[i].max() >= ANSWER_THRESHOLD]
    second = max(candidates, key=lambda i: float(fit[i].max()), default=None)
    return sorted([main] if second is None else [main, second])


@dataclass(frozen=True)
class AgentReplies:
    """The agent's sentences, and which could answer something: not courtesy or holding lines, not
    "I don't know", not a tool's result read out (that is told as the action)."""

    said: list[Sentence]
    vectors: np.ndarray
    answering: list[bool]
    not_knowing: list[Sentence]
    offered_ticket: bool
    detail_questions: set[int]  # the lines where the agent asked for a detail (an order number)

    @classmethod
    def of(cls, embedder: Embedder, lines: list[Line], uses: list[ToolUse]) -> AgentReplies:
        said = sentences(lines, "agent")
        vectors = embedder.embed_known([_masked(s.text) for s in said])
        offer = closeness(embedder, vectors, TICKET_OFFER) >= KIND_THRESHOLD
        not_knowing = (closeness(embedder, vectors, AGENT_NOT_KNOWING) >= KIND_THRESHOLD) | offer
        courtesy = closeness(embedder, vectors, AGENT_COURTESY) >= KIND_THRESHOLD
        asking = {s.line for s, near in zip(said, closeness(embedder, vectors, AGENT_ASKS_DETAIL), strict=True)
                  if near >= KIND_THRESHOLD}
        results = [_masked(str(use.result["message"])) for use in uses if use.result and use.result.get("message")]
        read_out = (vectors @ embedder.embed_known(results).T).max(axis=1) >= SAME_AS_RESULT if results and said \
            else np.zeros(len(said), dtype=bool)
        # A line asking for a detail asks, whatever else it says ("It looks like ORD-1042" is an example).
        answering = [not (not_knowing[i] or courtesy[i] or read_out[i] or said[i].line in asking)
                     for i in range(len(said))]
        return cls(said, vectors, answering, [s for s, no in zip(said, not_knowing, strict=True) if no],
                   bool(offer.any()), asking)


def _closing(embedder: Embedder, lines: list[Line]) -> tuple[str, str]:
    """How the customer's last line sounds: any sentence of it unhappy, else any satisfied, else neutral."""
    last = next((line.text for line in reversed(lines) if line.speaker == "customer"), "")
    parts = [s.strip() for s in SENTENCE.split(last) if s.strip()]
    if not parts:
        return "neutral", ""
    vectors = embedder.embed(parts)
    unhappy, satisfied = closeness(embedder, vectors, FRUSTRATION), closeness(embedder, vectors, SATISFACTION)
    if (unhappy >= KIND_THRESHOLD).any() or ESCALATION.search(last):
        return "unhappy", last
    if (satisfied >= KIND_THRESHOLD).any() or THANKS.search(last):
        return "satisfied", last
    return "neutral", last


# --- the outcome ---------------------------------------------------------------------------------

def resolution(reading: Reading, lines: list[Line], uses: list[ToolUse], end_reason: str) -> tuple[bool, str]:
    """Resolved or not, and why, from what happened. ``end_reason`` only words it: an agent that ends
    the call after a refusal has not resolved it, a customer who hangs up after their answer has."""
    customer = " ".join(line.text for line in lines if line.speaker == "customer")
    if missing := never_done(uses):
        return False, _listed([_why_not(use) for use in missing])
    if ESCALATION.search(customer):
        return False, "the customer asked for escalation"
    if reading.closing == "unhappy":
        left = "hung up" if end_reason == "customer_hangup" else "ended the call"
        return False, f'the customer {left} unhappy ("{reading.closing_words}")'
    if tickets := [use for use in uses if use.name == "create_ticket" and use.status == "executed"]:
        return False, f"it was handed to a colleague with {_ticket(tickets[-1])}"
    carried_out = [use for use in uses if use.status == "executed" and use.name != "create_ticket"]
    thanked = ["the customer thanked the agent"] if reading.closing == "satisfied" else []
    answered = ["the question was answered"] if any(request.answer for request in reading.requests) else []
    if carried_out or answered:
        return True, _listed(list(dict.fromkeys(_what_was_done(use) for use in carried_out)) + answered + thanked)
    if not reading.requests:
        return False, "the customer made no request"
    return False, "the request went unanswered"


def _why_not(use: ToolUse) -> str:
    thing = intended(use)
    if use.status == "denied":
        return f"the supervisor denied the request to {thing}"
    if use.status == "timed_out":
        return f"the supervisor did not approve the request to {thing} in time"
    if use.status == "failed":
        return f"the agent could not {thing}"
    return f"the call ended before the agent could {thing}"


def _what_was_done(use: ToolUse) -> str:
    return {"order_lookup": "the order status was given", "refund_order": "the refund went through",
            "change_address": "the address was changed"}.get(use.name, f"the {_tool_words(use.name)} went through")


# --- the summary ---------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return f'"{text}"'


def _ending(sentence: str) -> str:
    """A sentence that ends on a quote keeps the quote's own full stop or question mark."""
    return sentence if sentence.endswith(('."', '?"', '!"')) else sentence + "."


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def request_sentence(reading: Reading) -> str:
    if not reading.requests:
        said = " ".join(reading.small_talk)
        return _ending(f"The customer made no request{f' beyond {_quote(said)}' if said else ''}")
    first = reading.requests[0].sentence.text
    verb = "complained" if reading.upset else "asked" if first.endswith("?") or ASKING.search(first) else "said"
    more = "".join(f", then {_quote(r.sentence.text)}" for r in reading.requests[1:])
    return _ending(f"The customer {verb}: {_quote(first)}{more}")


def agent_sentence(reading: Reading, uses: list[ToolUse]) -> str:
    """What the agent did, in the order of what the customer said that each thing answers."""
    told = [(line, action(use)) for line, use in zip(reading.action_lines, _unique(uses), strict=True)]
    told += [(r.sentence.line, f"answered: {_quote(r.answer)}") for r in reading.requests if r.answer]
    # "Could not answer" only when nothing but a ticket followed: a refused action tells its own story.
    if reading.could_not_answer and reading.requests and all(use.name == "create_ticket" for use in uses) \
            and not any(r.answer for r in reading.requests):
        opened = any(use.status == "executed" for use in uses)
        declined = ", offering a ticket the customer did not take up" if reading.offered_ticket and not opened else ""
        told.insert(0, (-1, f"could not answer it{declined}"))
    if not told:
        return ""
    return _ending("The agent " + ", then ".join(phrase for _, phrase in sorted(told, key=lambda pair: pair[0])))


def topic_tags(embedder: Embedder, topic: np.ndarray, taxonomy: list[str]) -> list[str]:
    """The taxonomy tags nearest the call's topic, above a threshold; at least the nearest one."""
    if not taxonomy or not len(topic):
        return []
    norm = topic / max(float(np.linalg.norm(topic)), 1e-9)
    scores = embedder.embed_known([tag.replace("-", " ") for tag in taxonomy]) @ norm
    ranked = sorted(zip(taxonomy, scores, strict=True), key=lambda pair: -pair[1])
    return [tag for tag, score in ranked[:MAX_TAGS] if score >= TAG_THRESHOLD] or [ranked[0][0]]


def tool_tags(uses: list[ToolUse]) -> list[str]:
    return sorted({TOOL_TAGS.get(use.name, use.name.replace("_", "-")) for use in uses})


def summarise(embedder: Embedder, lines: list[Line], taxonomy: list[str], uses: list[ToolUse],
              end_reason: str) -> Outcome:
    """The summary of a finished call (``uses``: its tool requests in the order they were made)."""
    reading = read_call(embedder, lines, uses)
    resolved, reason = resolution(reading, lines, uses, end_reason)
    stepped_in = any(line.speaker == "supervisor" for line in lines)
    parts = [request_sentence(reading), agent_sentence(reading, uses),
             "A supervisor stepped in and spoke to the customer." if stepped_in else "",
             f"Outcome: {'resolved' if resolved else 'not resolved'}, as {reason}."]
    topic = np.mean([r.vector for r in reading.requests], axis=0) if reading.requests else np.zeros(0)
    tags = list(dict.fromkeys(topic_tags(embedder, topic, taxonomy) + tool_tags(uses)))  # each once
    return Outcome(" ".join(p for p in parts if p), tags, resolved, reason)
