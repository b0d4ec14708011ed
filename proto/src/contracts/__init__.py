"""Event contracts and the runtime that enforces them on the bus and in the database.

This is the only code the services share: every event is defined here once and validated
on both ends, and the database schema (``migrations/``) lives beside the events it stores.
"""

from contracts.envelope import Envelope, new_event_id, utc_now
from contracts.registry import EVENT_TYPES, AnyEvent, decode_event

__all__ = ["EVENT_TYPES", "AnyEvent", "Envelope", "decode_event", "new_event_id", "utc_now"]
