"""The offline post-call summary and tags: extractive, from the conversation itself.

- Summary: the customer's most representative sentence (nearest the centroid of everything they said,
  by MiniLM embeddings), the agent's most informative answer to it, and the outcome.
- Tags: the agent's tag taxonomy ranked by similarity to what the customer said; taxonomy tags above
  a threshold are kept, plus free tags for the tools the agent used.
- Resolved: the agent closed the call as resolved, carried out what was asked (a refund or an address
  change went through), or the customer's last words signal resolution; and nothing was refused or
  escalated. A ticket is a hand-off, not a resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from text_models.embedding import Embedder

SENTENCE = re.compile(r"(?<=[.!?])\s+")
TAG_THRESHOLD = 0.3
MAX_TAGS = 3
RESOLUTION = re.compile(r"\b(thanks?|thank you|that helps|perfect|great|solved|sorted|works now|all good|bye)\b",
                        re.IGNORECASE)
ESCALATION = re.compile(r"\b(manager|supervisor|human|real person|complain(t)?|lawyer)\b", re.IGNORECASE)
SOURCE = "local-extractive"
TOOL_TAGS = {"order_lookup": "order-status", "refund_order": "refund", "change_address": "address-change",
             "create_ticket": "ticket"}
# Tools whose success is the customer's request done.
COMPLETING_TOOLS = ("refund_order", "change_address")


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str


@dataclass(frozen=True)
class Outcome:
    summary: str
    tags: list[str]
    resolved: bool
    reason: str
    source: str = SOURCE


def _sentences(lines: list[Line], speaker: str) -> list[str]:
    return [s.strip() for line in lines if line.speaker == speaker for s in SENTENCE.split(line.text) if s.strip()]


def resolution(lines: list[Line], end_reason: str, tools_refused: int,
               tools_used: list[str]) -> tuple[bool, str]:
    customer = [line.text for line in lines if line.speaker == "customer"]
    if any(ESCALATION.search(text) for text in customer):
        return False, "the customer asked for escalation"
    if tools_refused:
        return False, f"{tools_refused} requested action(s) were refused or failed"
    if end_reason == "agent_resolved":
        return True, "the agent closed the call as resolved"
    if done := [tool for tool in tools_used if tool in COMPLETING_TOOLS]:
        return True, f"the requested action was carried out ({', '.join(sorted(set(done)))})"
    if customer and RESOLUTION.search(customer[-1]):
        return True, "the customer's last words signal resolution"
    return False, "no sign the issue was resolved"


def summarise(embedder: Embedder, lines: list[Line], taxonomy: list[str], tools_used: list[str],
              end_reason: str, tools_refused: int) -> Outcome:
    resolved, reason = resolution(lines, end_reason, tools_refused, tools_used)
    asked = _sentences(lines, "customer")
    answered = [s for s in _sentences(lines, "agent") if not s.lower().startswith(("hello", "hi,", "one moment"))]
    if not asked:
        return Outcome("The customer did not say anything before the call ended.", _free_tags(tools_used),
                       resolved, reason)
    vectors = embedder.embed(asked)
    centroid = vectors.mean(axis=0)
    request = int(np.argmax(vectors @ centroid))
    parts = [f"Customer: {asked[request]}"]
    if answered:
        parts.append(f"Agent: {answered[int(np.argmax(embedder.embed(answered) @ vectors[request]))]}")
    parts.append(f"Outcome: {'resolved' if resolved else 'not resolved'} ({reason}).")
    tags = list(dict.fromkeys(_tags(embedder, centroid, taxonomy) + _free_tags(tools_used)))  # each once
    return Outcome(" ".join(parts), tags, resolved, reason)


def _tags(embedder: Embedder, centroid: np.ndarray, taxonomy: list[str]) -> list[str]:
    if not taxonomy:
        return []
    norm = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
    scores = embedder.embed([tag.replace("-", " ") for tag in taxonomy]) @ norm
    ranked = sorted(zip(taxonomy, scores, strict=True), key=lambda pair: -pair[1])
    return [tag for tag, score in ranked[:MAX_TAGS] if score >= TAG_THRESHOLD] or [ranked[0][0]]


def _free_tags(tools_used: list[str]) -> list[str]:
    return sorted({TOOL_TAGS.get(tool, tool.replace("_", "-")) for tool in tools_used})
