from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from contracts.bus import read_dead_letters
from gateway.deps import AdminUser, Db
from gateway.schemas import DeadLetterOut, DeadLetterPage, Overview, SupervisorCard

router = APIRouter(prefix="/api/admin", tags=["admin"])

# Today is the server's UTC day.
SUPERVISOR_CARDS = """
    select u.id, u.email, u.full_name, u.active,
           (select count(*) from agents a where a.supervisor_id = u.id) as agents,
           (select count(*) from calls c where c.supervisor_id = u.id and c.status = 'active') as live_calls,
           (select count(*) from calls c where c.supervisor_id = u.id and c.status = 'queued') as queued_calls,
           coalesce(t.calls, 0) as calls_today, t.csat as csat_today, t.fcr as fcr_today,
           t.aht as aht_today_seconds, t.sentiment as sentiment_today
    from users u
    left join lateral (
        select count(*) as calls, avg(csat)::float as csat, avg(fcr::int)::float as fcr,
               avg(handle_seconds)::float as aht, avg(sentiment_avg)::float as sentiment
        from archives a
        where a.supervisor_id = u.id
          and a.started_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'
    ) t on true
    where u.role = 'supervisor'
    order by u.full_name"""


@router.get("/overview", response_model=Overview,
            summary="Supervisor monitoring cards: agents, live calls, today's KPIs")
async def overview(admin: AdminUser, db: Db) -> Overview:
    async with db.as_user(admin) as conn:
        cards = [SupervisorCard(**dict(r)) for r in await conn.fetch(SUPERVISOR_CARDS)]
    return Overview(supervisors=cards, live_calls=sum(c.live_calls for c in cards),
                    queued_calls=sum(c.queued_calls for c in cards))


@router.get("/dead-letters", response_model=DeadLetterPage,
            summary="Messages a service could not use (bad contract, repeated handler failure), newest first")
async def dead_letters(admin: AdminUser, request: Request,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       consumer: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
                                                             description="Only this consumer's")] = None,
                       ) -> DeadLetterPage:
    letters = await read_dead_letters(request.app.state.bus.js, limit, consumer)
    return DeadLetterPage(by_consumer=letters.by_consumer,
                          items=[DeadLetterOut(sequence=sequence, **letter.model_dump())
                                 for sequence, letter in letters.newest])
