"""The offline summary's judgement on calls like the one the browser test makes: a refund carried out
and then a hang-up without thanks is resolved; a ticket is not; tags appear once."""

from __future__ import annotations

from postprocess.summary import Line, summarise
from text_models.embedding import shared_embedder

REFUND = [Line("agent", "Hello, this is Returns. How can I help?"),
          Line("customer", "The shoes arrived damaged, I want a refund for ORD-1042"),
          Line("agent", "I've refunded $89.90 on order ORD-1042; the refund number is RF-1A2B3C.")]


def test_a_refund_carried_out_is_resolved_even_without_thanks_and_tagged_once() -> None:
    outcome = summarise(shared_embedder(), REFUND, ["refund", "shipping"], ["refund_order"], "customer_hangup", 0)
    assert outcome.resolved and outcome.reason == "the requested action was carried out (refund_order)"
    assert outcome.tags.count("refund") == 1 and outcome.tags[0] == "refund"


def test_a_ticket_or_a_refusal_is_not_a_resolution() -> None:
    ticket = summarise(shared_embedder(), REFUND, [], ["create_ticket"], "customer_hangup", 0)
    refused = summarise(shared_embedder(), REFUND, [], ["refund_order"], "customer_hangup", 1)
    assert not ticket.resolved and not refused.resolved
    assert refused.reason == "1 requested action(s) were refused or failed"
