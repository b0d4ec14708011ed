"""The offline summary as plain functions, on transcripts like the offline agent's: it names the
customer's request (not their greetings), what the agent did with each tool, and an outcome judged
from what happened rather than from who ended the call."""

from __future__ import annotations

from typing import Any

from postprocess.summary import Line, ToolUse, summarise, without_opening_filler
from text_models.embedding import shared_embedder

GREETING = Line("agent", "Hi, Orders & Shipping here.")
HELLO_BACK = Line("agent", "Hello! How can I help you today?")
GOODBYE = Line("agent", "Thank you for calling. Goodbye!")
APPROVAL = Line("agent", "One moment please, I need my supervisor's approval for that.")
NOT_SURE = ("I'm not sure about that, and I'd rather not guess. I can open a ticket so a colleague gets back to "
            "you. Shall I do that?")
TAXONOMY = ["shipping", "order-status", "delivery-delay", "address-change"]


def lookup(order_id: str, status: str, **found: Any) -> tuple[ToolUse, Line]:
    """An order lookup the agent made, and its result read out as the offline agent does."""
    message = f"Order {order_id} (1 x Trail running shoes, $89.90) is {status}."
    result = {"ok": True, "message": message, "order_id": order_id, "status": status, **found}
    return ToolUse("order_lookup", "executed", {"order_id": order_id}, result), Line("agent", message)


def summary_of(lines: list[Line], uses: list[ToolUse], end_reason: str = "agent_resolved",
               taxonomy: list[str] = TAXONOMY) -> Any:
    return summarise(shared_embedder(), lines, taxonomy, uses, end_reason)


def test_the_request_is_named_not_the_greeting_and_the_status_given_resolves_it() -> None:
    # A call once summarised "Customer: Hello? Agent: Goodbye!".
    use, told = lookup("ORD-1042", "shipped", carrier="UPS", tracking_number="1Z999AA10123456784")
    outcome = summary_of([GREETING, Line("customer", "Hello?"), HELLO_BACK,
                          Line("customer", "Hi, where is my order ORD-1042?"), told,
                          Line("customer", "Thanks, that's all. Bye!"), GOODBYE], [use])
    assert outcome.summary.startswith('The customer asked: "Where is my order ORD-1042?"')
    assert "looked up ORD-1042 (shipped with UPS, tracking 1Z999AA10123456784)" in outcome.summary
    assert "Hello?" not in outcome.summary and "Goodbye" not in outcome.summary
    assert outcome.resolved and outcome.reason == "the order status was given and the customer thanked the agent"
    assert outcome.tags[0] == "order-status"


def test_a_refund_carried_out_is_resolved_even_when_the_customer_hangs_up_without_thanks() -> None:
    result = {"ok": True, "message": "I've refunded $89.90 on order ORD-1042; the refund number is RF-1A2B3C.",
              "refund_id": "RF-1A2B3C", "amount": 89.9, "order_id": "ORD-1042"}
    outcome = summary_of([Line("agent", "Hello, this is Returns. How can I help?"),
                          Line("customer", "The shoes arrived damaged, I want a refund for ORD-1042"), APPROVAL,
                          Line("agent", result["message"])],
                         [ToolUse("refund_order", "executed", {"order_id": "ORD-1042"}, result,
                                  requires_approval=True)], "customer_hangup", ["refund", "shipping"])
    assert '"The shoes arrived damaged, I want a refund for ORD-1042"' in outcome.summary
    assert "refunded $89.90 on ORD-1042 (refund RF-1A2B3C) with the supervisor's approval" in outcome.summary
    assert outcome.resolved and outcome.reason == "the refund went through"
    assert outcome.tags.count("refund") == 1 and outcome.tags[0] == "refund"


def test_a_refund_the_supervisor_denied_is_not_resolved_though_the_agent_ended_the_call() -> None:
    outcome = summary_of([GREETING, Line("customer", "I'd like a refund for ORD-2001, I don't like the colour."),
                          APPROVAL, Line("agent", "I'm sorry, I'm not able to do that right now (outside the return "
                                                  "window). Is there anything else I can help with?"),
                          Line("customer", "No, that's all. Bye."), GOODBYE],
                         [ToolUse("refund_order", "denied", {"order_id": "ORD-2001"}, note="outside the return window",
                                  requires_approval=True)])
    assert "asked the supervisor to refund ORD-2001, who denied it (outside the return window)" in outcome.summary
    assert not outcome.resolved and outcome.reason == "the supervisor denied the request to refund ORD-2001"
    assert "refund" in outcome.tags


def test_a_question_handed_over_in_a_ticket_is_not_resolved_despite_the_thanks() -> None:
    ticket = {"ok": True, "message": "I've opened ticket TCK-1A2B3C so a colleague follows up.",
              "ticket_id": "TCK-1A2B3C"}
    outcome = summary_of([GREETING, Line("customer", "Do you ship to Canada?"), Line("agent", NOT_SURE),
                          Line("customer", "Yes please."), Line("agent", ticket["message"]),
                          Line("customer", "Ok, thanks. Bye."), GOODBYE],
                         [ToolUse("create_ticket", "executed", {"subject": "Do you ship to Canada?"}, ticket)])
    assert outcome.summary.startswith('The customer asked: "Do you ship to Canada?" The agent could not answer it, '
                                      "then opened ticket TCK-1A2B3C")
    assert not outcome.resolved and outcome.reason == "it was handed to a colleague with ticket TCK-1A2B3C"


def test_an_unanswered_question_and_a_declined_ticket_is_not_resolved() -> None:
    outcome = summary_of([GREETING, Line("customer", "Can you recommend a good restaurant in Paris?"),
                          Line("agent", NOT_SURE), Line("customer", "No thanks. Bye.")], [], "customer_hangup")
    assert "could not answer it, offering a ticket the customer did not take up" in outcome.summary
    assert not outcome.resolved and outcome.reason == "the request went unanswered"


def test_an_angry_caller_who_hangs_up_is_not_resolved_though_their_order_was_looked_up() -> None:
    use, told = lookup("ORD-5557", "processing")
    outcome = summary_of([GREETING, Line("customer", "This is ridiculous!"), Line("agent", NOT_SURE),
                          Line("customer", "My order ORD-5557 was supposed to arrive two weeks ago and it still "
                                           "hasn't come!"), told,
                          Line("customer", "That's useless. Nobody ever helps me here."), Line("agent", NOT_SURE)],
                         [use], "customer_hangup")
    assert outcome.summary.startswith('The customer complained: "My order ORD-5557 was supposed to arrive')
    assert "looked up ORD-5557 (still processing, not shipped yet)" in outcome.summary
    assert not outcome.resolved
    assert outcome.reason == 'the customer hung up unhappy ("That\'s useless. Nobody ever helps me here.")'
    assert "delivery-delay" in outcome.tags


def test_an_answer_from_the_knowledge_base_is_quoted_and_resolves_the_question() -> None:
    outcome = summary_of([GREETING, Line("customer", "How long do I have to return something?"),
                          Line("agent", "You can return unused items within 30 days of delivery. Refunds reach your "
                                        "account in 3 to 5 working days.")], [], "customer_hangup")
    assert 'answered: "You can return unused items within 30 days of delivery."' in outcome.summary
    assert outcome.resolved and outcome.reason == "the question was answered"


def test_an_order_number_given_when_asked_is_a_detail_not_the_request() -> None:
    use, told = lookup("ORD-3003", "delivered")
    outcome = summary_of([GREETING, Line("customer", "Has my package shipped yet?"),
                          Line("agent", "Could you tell me your order number? It looks like ORD-1042."),
                          Line("customer", "It's ORD-3003"), told], [use], "customer_hangup")
    assert outcome.summary.startswith('The customer asked: "Has my package shipped yet?" The agent looked up '
                                      "ORD-3003 (delivered).")


def test_a_second_request_answered_by_the_agents_words_is_told_after_the_lookup() -> None:
    use, told = lookup("ORD-3003", "delivered")
    outcome = summary_of([GREETING, Line("customer", "Hello? Are you still there?"),
                          Line("customer", "Where is my order ORD-3003?"), Line("agent", "Thank you for waiting."),
                          told, Line("customer", "Is there any voucher you can give me?"),
                          Line("agent", "Customers with a delivered order may get a 10% voucher: the code is "
                                        "SORRY10.")],
                         [use], "supervisor_ended")
    assert '"Where is my order ORD-3003?", then "Is there any voucher you can give me?"' in outcome.summary
    assert "looked up ORD-3003 (delivered), then answered: \"Customers with a delivered" in outcome.summary
    assert outcome.resolved


def test_a_failed_lookup_put_right_by_a_second_one_is_not_a_refusal() -> None:
    error = "I can't find an order ORD-999; could you check the number?"
    use, told = lookup("ORD-3003", "delivered")
    outcome = summary_of([GREETING, Line("customer", "Where is my order ORD-999?"), Line("agent", error),
                          Line("customer", "Sorry, ORD-3003."), told, Line("customer", "Thanks!")],
                         [ToolUse("order_lookup", "failed", {"order_id": "ORD-999"}, {"ok": False, "message": error},
                                  error), use], "customer_hangup")
    assert "could not look up ORD-999 (I can't find an order ORD-999), then looked up ORD-3003" in outcome.summary
    assert outcome.resolved


def test_escalation_and_a_call_without_a_request_are_not_resolved() -> None:
    escalated = summary_of([Line("customer", "My password reset email never arrives."),
                            Line("agent", "I'm not sure about that. I can open a ticket."),
                            Line("customer", "This is useless, get me a manager.")], [], "customer_hangup",
                           ["login", "password-reset"])
    silent = summary_of([GREETING, Line("customer", "Hello?"), HELLO_BACK], [], "customer_hangup")
    assert not escalated.resolved and escalated.reason == "the customer asked for escalation"
    assert '"My password reset email never arrives."' in escalated.summary and "password-reset" in escalated.tags
    assert silent.summary == 'The customer made no request beyond "Hello?" Outcome: not resolved, as the customer ' \
                             "made no request."


def test_an_opening_greeting_is_left_out_of_the_quote_but_a_request_after_a_comma_is_kept() -> None:
    embedder = shared_embedder()
    assert without_opening_filler(embedder, "Hi, where is my order?") == "Where is my order?"
    assert without_opening_filler(embedder, "The shoes arrived damaged, I want a refund") == \
        "The shoes arrived damaged, I want a refund"
