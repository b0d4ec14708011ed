import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "../../api/client";
import type {
  Agent,
  FloorCounters,
  LiveCall,
  LiveCounters,
  LiveFloor,
  Notification,
  NotificationCreated,
  ToolDecision,
  ToolPermissionRequest,
} from "../../api/types";
import { PageHead } from "../../components/PageHead";
import { Countdown } from "../../components/Countdown";
import { ErrorNote } from "../../components/ErrorNote";
import { when } from "../../components/format";
import { useLoad } from "../../components/useLoad";
import { useEventStream } from "../../live/useEventStream";
import { AgentCard } from "./AgentCard";

const STREAM_TYPES = [
  "notification.created",
  "tool.permission.request",
  "tool.permission.decision",
  "call.queued",
  "call.started",
  "call.ended",
  "analytics.counters",
] as const;

interface Pending {
  id: string;
  tool_name: string;
  arguments: Record<string, unknown>;
  reason: string;
  expires_at: string | null | undefined;
}

export function SupervisorDashboard() {
  const agents = useLoad(() => api<Agent[]>("/api/agents"), []);
  const calls = useLoad(() => api<LiveCall[]>("/api/calls"), []);
  const notifications = useLoad(() => api<Notification[]>("/api/notifications"), []);
  const pending = useLoad(
    () => api<ToolDecision[]>("/api/tool-requests", { params: { status: "pending" } }).then((rows) => rows as Pending[]),
    [],
  );
  const [counters, setCounters] = useState<LiveCounters | FloorCounters | null>(null);
  useEffect(() => {
    api<LiveFloor>("/api/analytics/live")
      .then((floor) => setCounters((current) => current ?? floor.supervisors[0] ?? null))
      .catch(() => undefined); // the stream brings the next update anyway
  }, []);

  const onEvent = useCallback(
    (type: string, data: any) => {
      switch (type) {
        case "notification.created": {
          const event = data as NotificationCreated;
          const note: Notification = {
            id: event.notification_id, supervisor_id: event.supervisor_id, call_id: event.call_id ?? null, kind: event.kind,
            title: event.title, body: event.body ?? "", data: event.data ?? {}, created_at: event.occurred_at ?? new Date().toISOString(), read_at: null,
          };
          notifications.setData((all) => [note, ...(all ?? []).filter((n) => n.id !== note.id)]);
          break;
        }
        case "tool.permission.request": {
          const event = data as ToolPermissionRequest;
          const request: Pending = { id: event.request_id, tool_name: event.tool_name, arguments: event.arguments, reason: event.reason ?? "", expires_at: event.expires_at };
          pending.setData((all) => [request, ...(all ?? []).filter((p) => p.id !== request.id)]);
          break;
        }
        case "tool.permission.decision":
          pending.setData((all) => (all ?? []).filter((p) => p.id !== data.request_id));
          break;
        case "analytics.counters":
          setCounters(data as LiveCounters);
          break;
        default: // a call queued, started or ended
          void calls.reload();
      }
    },
    [calls.reload, notifications.setData, pending.setData],
  );
  const status = useEventStream("/api/stream/supervisor", STREAM_TYPES, onEvent);
  const activeByAgent = new Map((calls.data ?? []).filter((c) => c.status === "active").map((c) => [c.agent_id, c]));
  const queued = (calls.data ?? []).filter((c) => c.status === "queued").length;

  return (
    <div className="page">
      <PageHead title="Live floor" status={status} label="Notifications" />
      <section aria-label="Floor now" className="totals">
        <div className="stat"><span>Live calls</span><strong>{counters?.active_calls ?? activeByAgent.size}</strong></div>
        <div className="stat"><span>Queued</span><strong>{counters?.queued_calls ?? queued}</strong></div>
        <div className="stat"><span>Longest wait</span><strong>{counters ? `${Math.round(counters.longest_wait_seconds)} s` : "–"}</strong></div>
      </section>
      <div className="two-columns">
        <section aria-labelledby="agents-title">
          <h2 id="agents-title">Agents</h2>
          <ErrorNote error={agents.error ?? calls.error} />
          {agents.data?.length === 0 && <p className="muted">No agents yet: create one under Agents.</p>}
          <div className="cards">
            {agents.data?.map((agent) => <AgentCard key={agent.id} agent={agent} activeCall={activeByAgent.get(agent.id)} />)}
          </div>
        </section>
        <aside aria-labelledby="alerts-title" className="alerts">
          <h2 id="alerts-title">Notifications</h2>
          <ToolRequests requests={pending.data ?? []} onDecided={(id) => pending.setData((all) => (all ?? []).filter((p) => p.id !== id))} />
          <ErrorNote error={notifications.error ?? pending.error} />
          <ul className="notifications">
            {(notifications.data ?? []).slice(0, 30).map((note) => (
              <li key={note.id} className={`note note-${note.kind}`}>
                <strong>{note.title}</strong>
                {note.body && <p>{note.body}</p>}
                <small className="muted">{when(note.created_at)}</small>
              </li>
            ))}
          </ul>
        </aside>
      </div>
    </div>
  );
}

function ToolRequests({ requests, onDecided }: { requests: Pending[]; onDecided: (id: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const decide = async (id: string, allow: boolean) => {
    setError(null);
    try {
      await api(`/api/tool-requests/${id}/decision`, { method: "POST", body: { allow, note: "" } });
      onDecided(id);
    } catch (failure) {
      setError(failure);
      // Decided already or timed out (the message says which): the request is gone. Anything else
      // (offline, say) leaves it in place to try again.
      if (failure instanceof ApiError && (failure.status === 409 || failure.status === 404)) onDecided(id);
    }
  };
  return (
    <div aria-label="Tool permission requests">
      <ErrorNote error={error} />
      {requests.map((request) => (
        <div key={request.id} className="card tool-request" role="group" aria-label={`Tool request ${request.tool_name}`}>
          <strong>{request.tool_name}</strong> <Countdown until={request.expires_at} />
          <pre>{JSON.stringify(request.arguments)}</pre>
          {request.reason && <p>{request.reason}</p>}
          <button type="button" onClick={() => decide(request.id, true)}>Allow</button>{" "}
          <button type="button" className="danger" onClick={() => decide(request.id, false)}>Deny</button>
        </div>
      ))}
    </div>
  );
}
