"""What a consumer publishes when it cannot use a message, so nothing is silently lost."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field


class DeadLetter(BaseModel):
    consumer: str = Field(description="The durable consumer that gave up on the message.")
    original_subject: str
    reason: str
    payload: str = Field(description="The message body as received (UTF-8, invalid bytes replaced).")
    deliveries: int
    received_at: AwareDatetime
