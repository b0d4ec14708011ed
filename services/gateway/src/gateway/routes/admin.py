from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from contracts.bus import NoSuchDeadLetter, NotReplayable, read_dead_letters, replay_dead_letter
from gateway import audit
from gateway.deps import REFLECTS_EVENTS, AdminUser, BusDep, Db, DocumentedRoute
from gateway.errors import ApiError
from gateway.schemas import DeadLetterOut, DeadLetterPage, Overview, Replayed, SupervisorCard

router = APIRouter(prefix="/api/admin", tags=["admin"], route_class=DocumentedRoute)

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


@router.get("/overview", dependencies=[REFLECTS_EVENTS], response_model=Overview,
            summary="Supervisor monitoring cards: agents, live calls, today's KPIs")
async def overview(admin: AdminUser, db: Db) -> Overview:
    async with db.as_user(admin) as conn:
        cards = [SupervisorCard(**dict(r)) for r in await conn.fetch(SUPERVISOR_CARDS)]
    return Overview(supervisors=cards, live_calls=sum(c.live_calls for c in cards),
                    queued_calls=sum(c.queued_calls for c in cards))


@router.get("/dead-letters", response_model=DeadLetterPage,
            summary="Messages a service could not use (bad contract, repeated handler failure), newest first")
async def dead_letters(admin: AdminUser, bus: BusDep,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       consumer: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$",
                                                             description="Only this consumer's")] = None,
                       ) -> DeadLetterPage:
    letters = await read_dead_letters(bus, limit, consumer)
    return DeadLetterPage(by_consumer=letters.by_consumer,
                          items=[DeadLetterOut(sequence=sequence, **letter.model_dump())
                                 for sequence, letter in letters.newest])


@router.post("/dead-letters/{sequence}/replay", response_model=Replayed, status_code=202,
             summary="Send a dead letter again to the one consumer that gave up on it (once its cause is mended)")
async def replay(sequence: Annotated[int, Path(ge=1)], admin: AdminUser, db: Db, bus: BusDep) -> Replayed:
    try:
        letter, event = await replay_dead_letter(bus, sequence)
    except NoSuchDeadLetter as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except NotReplayable as exc:
        raise ApiError(422, "not_replayable", str(exc)) from exc
    async with db.as_service() as conn:
        await audit.record(conn, admin, "dead_letter.replay", "dead_letter", str(sequence), event.supervisor_id,
                           consumer=letter.consumer, subject=letter.original_subject, event_id=str(event.event_id))
    return Replayed(consumer=letter.consumer, subject=letter.original_subject, event_id=event.event_id)
