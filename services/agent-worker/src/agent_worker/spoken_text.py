"""What a speech recogniser writes, made into what the brain and the tools expect.

Whisper writes what it hears: an order number comes out as "or D-1042", "O R D 1042", "ORD1042" or
"order 1042", an email as "jo at example dot com", an amount as "twenty five dollars". The brain (and a
hosted model's tool calls) look for ``ORD-1042``, ``jo@example.com`` and ``$25``, so every final
transcript goes through ``normalise_transcript`` first. Each rewrite is conservative: what does not
clearly parse is left as it was.
"""

from __future__ import annotations

import re

DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
               "seven": "7", "eight": "8", "nine": "9"}
ORDER_DIGITS = 4  # order numbers are ORD- and four digits (ORD-1042)
SEPARATOR = r"[\s,:#-]"
DIGIT_TOKEN = re.compile(rf"\d+|\b(?:{'|'.join(DIGIT_WORDS)})\b", re.IGNORECASE)
ORDER_NUMBER = re.compile(
    r"\b(?:"
    # "order 1042", "order number 1042", "order D-1042" (the "or" of "ORD" heard as part of "order"): the
    # word "order" stays, the number becomes the code
    rf"(?P<word>order(?:\s+(?:number|no\.?))?){SEPARATOR}+(?:d{SEPARATOR}*)?"
    # "ORD-1042", "O R D 1042", "O.R.D. 1042", "or D, 1042", "ORRD 1042"
    rf"|(?:o[.\s-]{{0,2}}r[.\s-]{{0,2}}d|orrd)\.?{SEPARATOR}*"
    r")"
    rf"(?P<digits>(?:{DIGIT_TOKEN.pattern})(?:[\s,-]+(?:{DIGIT_TOKEN.pattern}))*)",
    re.IGNORECASE)
# "one thousand forty two" is sometimes written as "100042" (1000, then 42): the two parts add up
THOUSANDS_RUN_TOGETHER = re.compile(r"([1-9])000(\d{1,3})")

UNITS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
TENS = {w: 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join([*UNITS, *TENS, *SCALES])
_SPOKEN_NUMBER = (rf"(?:a(?=[\s-]+(?:hundred|thousand)\b)|{'|'.join([*UNITS, *TENS])})"
                  rf"(?:(?:[\s-]+(?:and[\s-]+)?)(?:{_NUMBER_WORD}))*")
SPOKEN_AMOUNT = re.compile(
    rf"\b(?P<number>{_SPOKEN_NUMBER})\s+(?P<unit>dollars?|bucks?|euros?)"
    rf"(?:\s+and\s+(?P<cents>{_SPOKEN_NUMBER})\s+cents?)?\b", re.IGNORECASE)

_LABEL = r"[a-z0-9][a-z0-9_+-]*"
SPOKEN_EMAIL = re.compile(
    rf"\b(?P<local>{_LABEL}(?:(?:\.|\s+dot\s+){_LABEL})*)\s+at\s+"
    rf"(?P<domain>{_LABEL}(?:(?:\.|\s+dot\s+){_LABEL})+)\b", re.IGNORECASE)
DOT = re.compile(r"\s+dot\s+", re.IGNORECASE)
# "I bought it at shop.com", "look at example.com": a word like these before "at" is not a mailbox
NOT_A_MAILBOX = frozenset(
    "i me you we us they them he him she her it this that there here one something anything everything "
    "look looked arrive arrived order ordered bought buy shop shopped online site website page store is was "
    "are were be been and or but up out in on off".split())


def normalise_transcript(text: str) -> str:
    """A recogniser's final text, with order numbers, amounts and emails in their written form."""
    return spoken_emails(spoken_amounts(order_numbers(text))).strip()


def order_numbers(text: str) -> str:
    """Order numbers however they were heard, as ``ORD-1042``."""
    return ORDER_NUMBER.sub(_canonical_order_number, text)


def _canonical_order_number(match: re.Match[str]) -> str:
    spoken = match.group("digits")
    digits, consumed = _order_digits(spoken)
    if digits is None:
        return match.group(0)
    code = f"ORD-{digits}"
    word = match.group("word")
    return (f"{word} {code}" if word else code) + spoken[consumed:]


def _order_digits(spoken: str) -> tuple[str | None, int]:
    """The four digits at the start of ``spoken`` and where they end in it; None when it does not
    start with exactly four (what follows, "to 12 High Street", is not part of the number)."""
    collected = ""
    for token in DIGIT_TOKEN.finditer(spoken):
        digits = DIGIT_WORDS.get(token.group().lower(), token.group())
        if not collected and len(digits) > ORDER_DIGITS:
            repaired = THOUSANDS_RUN_TOGETHER.fullmatch(digits)
            value = int(repaired.group(1)) * 1000 + int(repaired.group(2)) if repaired else 0
            return (str(value), token.end()) if 1000 <= value <= 9999 else (None, 0)
        collected += digits
        if len(collected) >= ORDER_DIGITS:
            return (collected, token.end()) if len(collected) == ORDER_DIGITS else (None, 0)
    return None, 0


def spoken_number(words: str) -> int | None:
    """``"two hundred and five"`` as 205; None when it is not a number in words."""
    total = current = 0
    for word in re.split(r"[\s-]+", words.lower().strip()):
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total, current = total + (current or 1) * 1000, 0
        elif word not in ("and", "a"):
            return None
    return total + current


def spoken_amounts(text: str) -> str:
    """``"twenty five dollars"`` as ``$25``, ``"ten euros and fifty cents"`` as ``10.50 euros``."""
    return SPOKEN_AMOUNT.sub(_written_amount, text)


def _written_amount(match: re.Match[str]) -> str:
    whole = spoken_number(match.group("number"))
    cents = spoken_number(match.group("cents")) if match.group("cents") else 0
    if whole is None or cents is None or cents > 99:
        return match.group(0)
    value = f"{whole}.{cents:02d}" if cents else str(whole)
    unit = match.group("unit").lower()
    return f"${value}" if unit.startswith(("dollar", "buck")) else f"{value} euros"


def spoken_emails(text: str) -> str:
    """``"jo dot smith at example dot com"`` (or Whisper's ``"Jo at example.com"``) as ``jo.smith@example.com``."""
    return SPOKEN_EMAIL.sub(_written_email, text)


def _written_email(match: re.Match[str]) -> str:
    local, domain = (DOT.sub(".", match.group(part)).lower() for part in ("local", "domain"))
    top_level = domain.rsplit(".", 1)[-1]
    if local in NOT_A_MAILBOX or not (top_level.isalpha() and len(top_level) >= 2):
        return match.group(0)
    return f"{local}@{domain}"
