import { useEffect, useRef, useState } from "react";
import { api, ok } from "../../api/client";
import type { FloorCounters, LiveCounters } from "../../api/types";
import { PageHead } from "../../components/PageHead";
import { PlatformStatus } from "../../components/PlatformStatus";
import { DateRange, type Range } from "../../components/DateRange";
import { ErrorNote } from "../../components/ErrorNote";
import { decimal, daysAgo, duration, isoDay, percent } from "../../components/format";
import { KpiCharts } from "../../components/KpiCharts";
import { useLoad } from "../../components/useLoad";
import { useEventStream, useStreamStart } from "../../live/useEventStream";
import { TakenOverCalls } from "./TakenOverCalls";

const STREAM_TYPES = ["analytics.counters", "sentiment.score", "call.ended", "archive.saved", "call.taken_over", "call.handed_back"] as const;

/** A supervisor's floor as /api/analytics/live gives it, from the stream's counters event. */
function floorOf(event: LiveCounters): FloorCounters {
  const { supervisor_id, active_calls, queued_calls, agents_total, agents_busy, longest_wait_seconds, abandoned_today } = event;
  return { supervisor_id, active_calls, queued_calls, agents_total, agents_busy, longest_wait_seconds, abandoned_today };
}

export function AdminDashboard() {
  const [range, setRange] = useState<Range>({ from: daysAgo(29), to: isoDay(new Date()) });
  const { from, to } = range;
  // The stream starts from what these reads show.
  const start = useStreamStart();
  const { read } = start;
  const overview = useLoad(() => read(api.GET("/api/admin/overview")), [read]);
  const live = useLoad(() => read(api.GET("/api/analytics/live")), [read]);
  const takenOver = useLoad(() => read(api.GET("/api/calls", { params: { query: { taken_over: true } } })), [read]);
  const kpis = useLoad(() => ok(api.GET("/api/analytics/kpis", { params: { query: { from, to } } })), [from, to]);
  const board = useLoad(() => ok(api.GET("/api/analytics/leaderboard", { params: { query: { from, to } } })), [from, to]);
  const series = useLoad(() => ok(api.GET("/api/analytics/timeseries", { params: { query: { from, to } } })), [from, to]);
  const [counters, setCounters] = useState<Record<string, FloorCounters>>({});
  // The latest sentiment of each live call, per supervisor: the cards' "sentiment at a glance".
  const [moods, setMoods] = useState<Record<string, Record<string, number>>>({});
  const refreshSoon = useRef<ReturnType<typeof setTimeout>>(undefined);

  useEffect(() => {
    if (live.data) setCounters(Object.fromEntries(live.data.supervisors.map((c) => [c.supervisor_id, c])));
  }, [live.data]);

  useEffect(() => () => clearTimeout(refreshSoon.current), []);

  const status = useEventStream("/api/stream/admin", STREAM_TYPES, (event) => {
    switch (event.type) {
      case "analytics.counters":
        setCounters((all) => ({ ...all, [event.supervisor_id]: floorOf(event) }));
        break;
      case "sentiment.score":
        setMoods((all) => ({ ...all, [event.supervisor_id]: { ...all[event.supervisor_id], [event.call_id]: event.score } }));
        break;
      case "call.taken_over":
      case "call.handed_back":
        void takenOver.reload();
        break;
      case "call.ended":
        takenOver.setData((all) => all && all.filter((call) => call.id !== event.call_id));
        setMoods((all) => {
          const mine = { ...all[event.supervisor_id] };
          delete mine[event.call_id];
          return { ...all, [event.supervisor_id]: mine };
        });
        break;
      case "archive.saved":
        clearTimeout(refreshSoon.current); // today's KPIs moved: refresh once the burst settles
        refreshSoon.current = setTimeout(() => void overview.reload(), 1500);
        break;
    }
  }, { start });
  const totals = Object.values(counters).reduce(
    (sum, c) => ({ active: sum.active + c.active_calls, queued: sum.queued + c.queued_calls, busy: sum.busy + c.agents_busy }),
    { active: 0, queued: 0, busy: 0 },
  );
  const supervisorName = (id: string) => {
    const card = overview.data?.supervisors.find((s) => s.id === id);
    return card ? card.full_name || card.email : "another supervisor";
  };

  return (
    <div className="page">
      <PageHead title="Admin dashboard" status={status} />
      <section aria-label="Live totals" className="totals">
        <div className="stat"><span>Live calls</span><strong data-testid="total-live">{totals.active}</strong></div>
        <div className="stat"><span>Queued</span><strong>{totals.queued}</strong></div>
        <div className="stat"><span>Agents busy</span><strong>{totals.busy}</strong></div>
      </section>

      <section aria-labelledby="taken-over-title">
        <h2 id="taken-over-title">Calls taken over</h2>
        <ErrorNote error={takenOver.error} />
        <TakenOverCalls calls={takenOver.data ?? []} supervisorName={supervisorName}
          onHandedBack={(id) => takenOver.setData((all) => all && all.filter((call) => call.id !== id))} />
      </section>

      <section aria-labelledby="cards-title">
        <h2 id="cards-title">Supervisors</h2>
        <ErrorNote error={overview.error} />
        <div className="cards">
          {overview.data?.supervisors.map((card) => {
            const floor = counters[card.id];
            const liveMoods = Object.values(moods[card.id] ?? {});
            const mood = liveMoods.length ? liveMoods.reduce((a, b) => a + b, 0) / liveMoods.length : null;
            return (
              <article key={card.id} className={`card ${card.active ? "" : "inactive"}`} aria-label={`Supervisor ${card.full_name || card.email}`}>
                <h3>{card.full_name || card.email}</h3>
                {!card.active && <p className="muted">Deactivated</p>}
                <dl className="facts">
                  <dt>Agents</dt><dd>{floor ? `${floor.agents_busy} busy / ${floor.agents_total}` : card.agents}</dd>
                  <dt>Live calls</dt><dd>{floor?.active_calls ?? card.live_calls}</dd>
                  <dt>Queued</dt><dd>{floor?.queued_calls ?? card.queued_calls}</dd>
                  <dt>Live sentiment</dt><dd className={mood === null ? "" : mood < -0.25 ? "neg" : mood > 0.25 ? "pos" : ""}>{mood === null ? "–" : decimal(mood, 2)}</dd>
                  <dt>Calls today</dt><dd>{card.calls_today}</dd>
                  <dt>CSAT today</dt><dd>{decimal(card.csat_today)}</dd>
                  <dt>FCR today</dt><dd>{percent(card.fcr_today)}</dd>
                  <dt>AHT today</dt><dd>{duration(card.aht_today_seconds)}</dd>
                </dl>
              </article>
            );
          })}
        </div>
      </section>

      <section aria-labelledby="kpi-title">
        <div className="page-head">
          <h2 id="kpi-title">KPIs</h2>
          <DateRange range={range} onChange={setRange} />
        </div>
        <ErrorNote error={kpis.error ?? series.error} />
        {kpis.data && (
          <div className="totals">
            <div className="stat"><span>Calls</span><strong>{kpis.data.kpis.calls}</strong></div>
            <div className="stat"><span>FCR</span><strong>{percent(kpis.data.kpis.fcr)}</strong></div>
            <div className="stat"><span>CSAT</span><strong>{decimal(kpis.data.kpis.csat, 2)}</strong></div>
            <div className="stat"><span>AHT</span><strong>{duration(kpis.data.kpis.aht_seconds)}</strong></div>
            <div className="stat"><span>Performance</span><strong>{decimal(kpis.data.kpis.performance_score)}</strong></div>
            <div className="stat"><span>Abandoned</span><strong>{percent(kpis.data.kpis.abandonment.rate)}</strong></div>
            <div className="stat"><span>ASA</span><strong>{duration(kpis.data.kpis.abandonment.asa_seconds)}</strong></div>
            <div className="stat"><span>Taken over</span><strong>{percent(kpis.data.kpis.takeover_rate)}</strong></div>
          </div>
        )}
        {series.data && <KpiCharts series={series.data} />}
      </section>

      <section aria-labelledby="board-title">
        <h2 id="board-title">Leaderboard</h2>
        <ErrorNote error={board.error} />
        <table className="table">
          <thead>
            <tr><th>#</th><th>Supervisor</th><th>Score</th><th>Calls</th><th>FCR</th><th>CSAT</th><th>AHT</th></tr>
          </thead>
          <tbody>
            {board.data?.entries.map((entry) => (
              <tr key={entry.id}>
                <td>{entry.rank}</td>
                <td>{entry.name}</td>
                <td>{decimal(entry.kpis.performance_score)}</td>
                <td>{entry.kpis.calls}</td>
                <td>{percent(entry.kpis.fcr)}</td>
                <td>{decimal(entry.kpis.csat, 2)}</td>
                <td>{duration(entry.kpis.aht_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <PlatformStatus />
    </div>
  );
}
