"""The transcript normaliser, on what Whisper tiny.en actually wrote for customers' sentences (and on
sentences it must leave alone)."""

from __future__ import annotations

import pytest

from agent_worker.spoken_text import normalise_transcript, spoken_number


@pytest.mark.parametrize(("heard", "expected"), [
    # order numbers, as Whisper wrote them for "ORD-1042", "ORD-2001", "ORD-3003"
    ("Where is my order ORD-1042?", "Where is my order ORD-1042?"),
    ("Where is my order ORD 1042?", "Where is my order ORD-1042?"),
    ("Where's my order ORD1042?", "Where's my order ORD-1042?"),
    ("Where is my order, or D, 1042?", "Where is my order, ORD-1042?"),
    ("Where is my order, or D-100042?", "Where is my order, ORD-1042?"),  # "one thousand forty two"
    ("I want a refund for order or D2001.", "I want a refund for order ORD-2001."),
    ("address for order ORRD 30003 to 12 high street", "address for order ORD-3003 to 12 high street"),
    ("O R D 1042", "ORD-1042"),
    ("O.R.D. 3003 please", "ORD-3003 please"),
    ("ord-2001", "ORD-2001"),
    ("ORD one zero four two", "ORD-1042"),
    ("ORD 10 42", "ORD-1042"),
    ("my order D-1042", "my order ORD-1042"),
    ("my order 1042 has not come", "my order ORD-1042 has not come"),
    ("order number 2001", "order number ORD-2001"),
    ("ORD-3003, 12 High Street", "ORD-3003, 12 High Street"),  # the address's number is not the order's
    ("ORD-1042 and ORD-2001", "ORD-1042 and ORD-2001"),
    # left alone
    ("I ordered 1042 items", "I ordered 1042 items"),
    ("my order of 12 items", "my order of 12 items"),
    ("order 12 more", "order 12 more"),
    ("ORD 12345678", "ORD 12345678"),
    ("this or 2001", "this or 2001"),
    # amounts
    ("I was charged twenty five dollars twice", "I was charged $25 twice"),
    ("refund a hundred and fifty dollars", "refund $150"),
    ("it cost thirty dollars and fifty cents", "it cost $30.50"),
    ("twenty-nine bucks", "$29"),
    ("ten euros", "10 euros"),
    ("a refund of $25", "a refund of $25"),
    ("one of the dollars", "one of the dollars"),
    # emails
    ("My email is Joe at example.com.", "My email is joe@example.com."),
    ("it's jo at example dot com", "it's jo@example.com"),
    ("jo dot smith at example dot co dot uk", "jo.smith@example.co.uk"),
    ("jo@example.com", "jo@example.com"),
    ("I bought it at shop.com", "I bought it at shop.com"),
    ("have a look at example.com", "have a look at example.com"),
    ("see you at 5.30", "see you at 5.30"),
    # Whisper's leading space
    (" Hello.", "Hello."),
])
def test_normalise_transcript(heard: str, expected: str) -> None:
    assert normalise_transcript(heard) == expected


@pytest.mark.parametrize(("words", "number"), [
    ("five", 5), ("twenty five", 25), ("twenty-five", 25), ("a hundred", 100), ("two hundred and five", 205),
    ("one thousand forty two", 1042), ("three thousand", 3000), ("banana", None),
])
def test_spoken_number(words: str, number: int | None) -> None:
    assert spoken_number(words) == number
