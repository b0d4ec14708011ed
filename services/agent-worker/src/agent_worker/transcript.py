"""The call's transcript: each line numbered in order, written to transcript_lines and announced as a
TranscriptChunk in the same change (contracts.outbox), so the table and the bus never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CallRef
from contracts.db import until_database_answers
from contracts.transcripts import Speaker, TranscriptChunk


class LineNumberTaken(Exception):
    """Another session wrote this line number: the call has another owner now (this one lost its lease
    while it waited for the database). Raised, not swallowed, so the message is not acknowledged and
    reaches the new owner, and no chunk is announced for a line that is not on the transcript."""


@dataclass
class TranscriptWriter:
    ids: CallRef
    pool: asyncpg.Pool
    bus: Bus
    brain: str  # marks the agent's lines: which dialogue engine said them
    next_seq: int = 0

    async def write(self, speaker: Speaker, text: str, source_event_id: UUID | None = None) -> TranscriptChunk:
        """Numbered as it is said; while the database is away the line waits for it with its number (a
        line lost, or a gap in the numbers, would be the call's record wrong for good). Tried again after
        a commit whose answer was lost, it is stored and announced once: same number, same event id.
        ``source_event_id``: the bus message the line came from (a customer's message), which ``has``
        finds again."""
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        chunk = TranscriptChunk(**self.ids.fields(), seq=seq, speaker=speaker, text=text,
                                brain=self.brain if speaker == "agent" else None)

        async def store() -> None:
            async with outbox.change(self.pool, self.bus) as change:
                stored = await change.conn.fetchval(
                    """insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, brain, occurred_at,
                                                   source_event_id)
                       values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing returning true""",
                    self.ids.call_id, seq, self.ids.supervisor_id, speaker, text, chunk.brain, chunk.occurred_at,
                    source_event_id)
                if stored:
                    change.events.append(chunk)
                elif await change.conn.fetchval(
                        "select speaker <> $3::text or text <> $4::text from transcript_lines"
                        " where call_id = $1 and seq = $2", self.ids.call_id, seq, speaker, text):
                    raise LineNumberTaken(f"line {seq} of the call is another's: this session no longer owns the call")

        await until_database_answers(store)
        return chunk

    async def has(self, source_event_id: UUID) -> bool:
        """Whether the line from this bus message is stored already (by this call's earlier owner)."""
        return bool(await self.pool.fetchval(
            "select exists(select 1 from transcript_lines where call_id = $1 and source_event_id = $2)",
            self.ids.call_id, source_event_id))
