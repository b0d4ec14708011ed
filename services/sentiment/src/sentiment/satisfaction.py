"""Live customer-satisfaction estimate (1 to 5, with reasons), the offline way: a documented formula
over the sentiment trajectory and signals in the conversation.

    estimate = 3
             + 1.6 x rolling sentiment (-1..1)          how the customer sounds now
             + 0.4 x sentiment trend (-2..2)            getting better or worse
             + 0.5 if the customer signalled resolution ("thanks, that's sorted")
             - 0.8 x escalation requests (at most 2)    "let me speak to a manager", "a real person"
             - 0.4 x repeated questions (at most 3)     saying the same thing again
             - 0.3 x turns with frustration cues (at most 4)
                 how customers say they are fed up without saying it: "third time I call", "still not
                 working", "I already told you", "how many times", "been waiting", "are you still there?"
             + 0.2 x tools that worked (at most 3)
             - 0.4 x tools that failed or were denied (at most 3)
    clipped to 1..5, one decimal.

With a hosted LLM configured (hosted_satisfaction.py), its estimate replaces this one while it is up to
date with the conversation or less than HOSTED_FRESH_SECONDS old; otherwise this formula answers.

Plain functions and state: the service feeds it events, tests feed it scripted conversations.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

ESCALATION = re.compile(r"\b(manager|supervisor|human|(real|actual|live) (person|human)|someone else|"
                        r"(speak|talk) (to|with) (a person|someone|somebody|an agent)|put me through|"
                        r"complain(t)?|lawyer|cancel my (account|order|subscription|contract))\b", re.IGNORECASE)
RESOLUTION = re.compile(r"\b(thanks?|thank you|that helps|helpful|perfect|great|solved|sorted|works now|"
                        r"all good|appreciate)\b", re.IGNORECASE)
NOT_RESOLUTION = re.compile(r"\b(thanks for nothing|no,? thanks?|not (solved|sorted|great|helpful))\b", re.IGNORECASE)
FRUSTRATION = re.compile(
    r"\b((second|third|fourth|fifth|2nd|3rd|4th|5th|umpteenth) (time|call)|"
    r"still (not|no|nothing|waiting|broken|down|the same|\w+n't)|"
    r"(again|once more)[.!?]|how many (more )?times|"
    r"already (told|said|explained|called|gave|sent|tried|asked)|(keep|kept) (asking|telling|calling|saying)|"
    r"repeat(ing)? myself|(been|was) (waiting|on hold)|on hold for|"
    r"(are|is) (you|anyone|anybody|somebody) (still )?there|hello\?)", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9']+")
REPEAT_OVERLAP = 0.7
RECENT_LINES = 30


@dataclass
class Conversation:
    customer_turns: list[set[str]] = field(default_factory=list)
    escalations: int = 0
    repeats: int = 0
    frustrations: int = 0  # customer turns with a frustration cue
    resolved: bool = False
    tools_ok: int = 0
    tools_failed: int = 0
    # What a hosted estimator reads, and how many things happened (a new estimate is due when it grows).
    recent_lines: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=RECENT_LINES))
    version: int = 0

    def agent_said(self, text: str) -> None:
        self.recent_lines.append(("agent", text))
        self.version += 1

    def customer_said(self, text: str) -> None:
        self.recent_lines.append(("customer", text))
        self.version += 1
        words = set(WORD.findall(text.lower()))
        if len(words) >= 3 and any(_overlap(words, earlier) >= REPEAT_OVERLAP for earlier in self.customer_turns):
            self.repeats += 1
        self.customer_turns.append(words)
        escalating, frustrated = bool(ESCALATION.search(text)), bool(FRUSTRATION.search(text))
        self.escalations += escalating
        self.frustrations += frustrated
        if RESOLUTION.search(text) and not NOT_RESOLUTION.search(text):
            self.resolved = True
        elif escalating or frustrated:
            self.resolved = False  # "thanks" earlier, but it is not sorted after all

    def tool_finished(self, ok: bool) -> None:
        self.recent_lines.append(("system", f"a tool action {'succeeded' if ok else 'failed or was denied'}"))
        self.version += 1
        if ok:
            self.tools_ok += 1
        else:
            self.tools_failed += 1


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def estimate(sentiment: float, trend: float, conversation: Conversation) -> tuple[float, list[str]]:
    parts: list[tuple[float, str]] = [
        (1.6 * sentiment, f"customer sounds {'positive' if sentiment > 0 else 'negative'} ({sentiment:+.2f})"),
        (0.4 * trend, f"mood {'improving' if trend > 0 else 'worsening'} ({trend:+.2f})"),
        (0.5 if conversation.resolved else 0.0, "customer signalled the issue is resolved"),
        (-0.8 * min(conversation.escalations, 2), f"asked to escalate {conversation.escalations}x"),
        (-0.4 * min(conversation.repeats, 3), f"repeated themselves {conversation.repeats}x"),
        (-0.3 * min(conversation.frustrations, 4),
         f"frustration cues (third time, still, waiting) {conversation.frustrations}x"),
        (0.2 * min(conversation.tools_ok, 3), f"{conversation.tools_ok} tool action(s) succeeded"),
        (-0.4 * min(conversation.tools_failed, 3), f"{conversation.tools_failed} tool action(s) failed or denied"),
    ]
    score = round(max(1.0, min(5.0, 3.0 + sum(value for value, _ in parts))), 1)
    reasons = [reason for value, reason in sorted(parts, key=lambda p: -abs(p[0])) if abs(value) >= 0.1]
    return score, reasons[:5] or ["no strong signals yet"]
