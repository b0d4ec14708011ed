// Typed records for component tests: each is what the gateway would answer, checked against the
// generated types, with only what a test changes passed in.
import type { Agent, ArchiveDetail, ArchiveItem, Kpis, LiveCall, SupervisorCard } from "./api/types";

export const IDS = { supervisor: "s1", agent: "a1", call: "c1" } as const;

export function agent(fields: Partial<Agent> = {}): Agent {
  return {
    id: IDS.agent, supervisor_id: IDS.supervisor, name: "Orders", phone_number: "+1-555-0101", instructions: "Help with orders.",
    greeting: "Hello!", voice: "Puck", tag_taxonomy: ["refund", "delivery"], active: true, status: "idle",
    tools: [{ name: "refund_order", description: "Refund an order", requires_approval: true, source: "builtin" }],
    knowledge: [{ title: "Returns", content: "30 days." }], created_at: "2026-11-01T09:00:00Z", updated_at: "2026-11-01T09:00:00Z",
    ...fields,
  };
}

export function liveCall(fields: Partial<LiveCall> = {}): LiveCall {
  return {
    id: IDS.call, supervisor_id: IDS.supervisor, agent_id: IDS.agent, agent_name: "Orders", channel: "chat", caller: "jo@example.com",
    status: "active", brain: null, queue_position: null, queued_at: "2026-11-25T10:00:00Z", started_at: "2026-11-25T10:00:01Z",
    ended_at: null, end_reason: null, taken_over_by: null, taken_over_by_name: null, ...fields,
  };
}

export function kpis(fields: Partial<Kpis> = {}): Kpis {
  return {
    calls: 12, fcr: 0.75, csat: 4.2, aht_seconds: 185, performance_score: 81.5, resolved_rate: 0.8,
    sentiment_mix: { negative: 1, neutral: 6, positive: 5 }, tool_requests: 3, tools_denied: 1, taken_over: 1, takeover_rate: 0.0833,
    abandonment: { ended_calls: 14, before_answer: 1, after_answer: 1, rate: 0.1429, asa_seconds: 12.5, longest_wait_seconds: 40 },
    ...fields,
  };
}

export function supervisorCard(fields: Partial<SupervisorCard> = {}): SupervisorCard {
  return {
    id: IDS.supervisor, email: "dana@demo.local", full_name: "Dana", active: true, agents: 3, live_calls: 1, queued_calls: 0,
    calls_today: 9, csat_today: 4.5, fcr_today: 0.8, aht_today_seconds: 200, sentiment_today: 0.2, ...fields,
  };
}

export function archiveItem(fields: Partial<ArchiveItem> = {}): ArchiveItem {
  return {
    call_id: IDS.call, supervisor_id: IDS.supervisor, agent_id: IDS.agent, agent_name: "Orders", caller: "jo@example.com", channel: "chat",
    brain: "local", started_at: "2026-11-25T10:00:00Z", ended_at: "2026-11-25T10:04:00Z", handle_seconds: 240, csat: 4, fcr: true,
    resolved: true, sentiment_label: "positive", summary: "Refunded a damaged order.", summary_source: "local", tags: ["refund"], ...fields,
  };
}

export function archiveDetail(fields: Partial<ArchiveDetail> = {}): ArchiveDetail {
  const { call_id, supervisor_id, agent_id, agent_name, caller, channel, brain, started_at, ended_at, handle_seconds, csat, fcr, resolved,
          sentiment_label, summary, summary_source, tags } = archiveItem();
  return {
    call_id, supervisor_id, agent_id, agent_name, caller, channel, brain, started_at, ended_at, handle_seconds, csat, fcr, resolved,
    sentiment_label, summary, summary_source, tags, sentiment_avg: 0.3,
    sentiment_timeline: [{ score: -0.4 }, { score: 0.6 }],
    tool_requests: [{
      id: "r1", call_id, agent_id, tool_name: "refund_order", arguments: { order_id: "ORD-1042" }, reason: "damaged",
      requires_approval: true, status: "executed", requested_at: started_at, expires_at: null, decided_at: started_at,
      decided_by: "u1", note: "ok", result: { refunded: true }, error: null,
    }],
    transcript: [
      { seq: 0, speaker: "agent", text: "Hello, Orders here.", brain: "local", occurred_at: started_at },
      { seq: 1, speaker: "customer", text: "My parcel arrived broken.", brain: null, occurred_at: started_at },
    ],
    ...fields,
  };
}
