"""The call's transcript: each line numbered in order, written to transcript_lines and announced as a
TranscriptChunk in the same change (contracts.outbox), so the table and the bus never disagree."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from contracts import outbox
from contracts.bus import Bus
from contracts.calls import CallRef
from contracts.db import until_database_answers
from contracts.transcripts import Speaker, TranscriptChunk


@dataclass
class TranscriptWriter:
    ids: CallRef
    pool: asyncpg.Pool
    bus: Bus
    brain: str  # marks the agent's lines: which dialogue engine said them
    next_seq: int = 0

    async def write(self, speaker: Speaker, text: str) -> TranscriptChunk:
        """Numbered as it is said; while the database is away the line waits for it with its number (a
        line lost, or a gap in the numbers, would be the call's record wrong for good). Tried again after
        a commit whose answer was lost, it is stored once: same number, same event id."""
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        chunk = TranscriptChunk(**self.ids.fields(), seq=seq, speaker=speaker, text=text,
                                brain=self.brain if speaker == "agent" else None)

        async def store() -> None:
            async with outbox.change(self.pool, self.bus) as change:
                await change.conn.execute(
                    """insert into transcript_lines(call_id, seq, supervisor_id, speaker, text, brain, occurred_at)
                       values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing""",
                    self.ids.call_id, seq, self.ids.supervisor_id, speaker, text, chunk.brain, chunk.occurred_at)
                change.events.append(chunk)

        await until_database_answers(store)
        return chunk
