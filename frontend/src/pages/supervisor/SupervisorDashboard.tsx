import { useEffect, useState } from "react";
import { api, ApiError, ok } from "../../api/client";
import type { FloorCounters, Notification, NotificationCreated, ToolDecision, ToolPermissionRequest } from "../../api/types";
import { PageHead } from "../../components/PageHead";
import { Countdown } from "../../components/Countdown";
import { ErrorNote } from "../../components/ErrorNote";
import { when } from "../../components/format";
import { useLoad } from "../../components/useLoad";
import { useEventStream, useStreamStart } from "../../live/useEventStream";
import { useAuth } from "../../auth/AuthProvider";
import { AgentCard } from "./AgentCard";
import { TakeOverProvider, useTakeOver } from "./takeOver";

const STREAM_TYPES = [
  "notification.created",
  "tool.permission.request",
  "tool.permission.decision",
  "call.queued",
  "call.started",
  "call.ended",
  "analytics.counters",
] as const;

/** A tool request awaiting a decision: what /api/tool-requests lists, and what the stream announces. */
export type PendingRequest = Pick<ToolDecision, "id" | "tool_name" | "arguments" | "reason" | "expires_at">;

export function pendingFrom(event: ToolPermissionRequest): PendingRequest {
  return { id: event.request_id, tool_name: event.tool_name, arguments: event.arguments, reason: event.reason ?? "", expires_at: event.expires_at };
}

export function notificationFrom(event: NotificationCreated): Notification {
  return {
    id: event.notification_id, supervisor_id: event.supervisor_id, call_id: event.call_id ?? null, kind: event.kind,
    title: event.title, body: event.body ?? "", data: event.data ?? {}, created_at: event.occurred_at ?? new Date().toISOString(), read_at: null,
  };
}

export function SupervisorDashboard() {
  const { user } = useAuth();
  // The floor's streams (its own, and each agent card's) start from what these reads show.
  const start = useStreamStart();
  const { read } = start;
  const agents = useLoad(() => read(api.GET("/api/agents")), [read]);
  const calls = useLoad(() => read(api.GET("/api/calls")), [read]);
  const notifications = useLoad(() => read(api.GET("/api/notifications")), [read]);
  const pending = useLoad<PendingRequest[]>(() => read(api.GET("/api/tool-requests", { params: { query: { status: "pending" } } })), [read]);
  const [counters, setCounters] = useState<FloorCounters | null>(null);
  useEffect(() => {
    read(api.GET("/api/analytics/live"))
      .then((floor) => setCounters((current) => current ?? floor.supervisors[0] ?? null))
      .catch(() => undefined); // the stream brings the next update anyway
  }, [read]);

  const status = useEventStream("/api/stream/supervisor", STREAM_TYPES, (event) => {
    switch (event.type) {
      case "notification.created": {
        const note = notificationFrom(event);
        notifications.setData((all) => [note, ...(all ?? []).filter((n) => n.id !== note.id)]);
        break;
      }
      case "tool.permission.request": {
        const request = pendingFrom(event);
        pending.setData((all) => [request, ...(all ?? []).filter((p) => p.id !== request.id)]);
        break;
      }
      case "tool.permission.decision":
        pending.setData((all) => (all ?? []).filter((p) => p.id !== event.request_id));
        break;
      case "analytics.counters":
        setCounters(event);
        break;
      case "call.queued":
      case "call.started":
      case "call.ended":
        void calls.reload();
        break;
    }
  }, { start });
  const activeByAgent = new Map((calls.data ?? []).filter((c) => c.status === "active").map((c) => [c.agent_id, c]));
  const queued = (calls.data ?? []).filter((c) => c.status === "queued").length;

  const channelOf = new Map((calls.data ?? []).map((c) => [c.id, c.channel]));

  return (
    <TakeOverProvider me={user?.id ?? null}>
      <div className="page">
        <PageHead title="Live floor" status={status} label="Notifications" />
        <section aria-label="Floor now" className="totals">
          <div className="stat"><span>Live calls</span><strong>{counters?.active_calls ?? activeByAgent.size}</strong></div>
          <div className="stat"><span>Queued</span><strong>{counters?.queued_calls ?? queued}</strong></div>
          <div className="stat"><span>Longest wait</span><strong>{counters ? `${Math.round(counters.longest_wait_seconds)} s` : "–"}</strong></div>
          <div className="stat"><span>Abandoned today</span><strong>{counters?.abandoned_today ?? "–"}</strong></div>
        </section>
        <div className="two-columns">
          <section aria-labelledby="agents-title">
            <h2 id="agents-title">Agents</h2>
            <ErrorNote error={agents.error ?? calls.error} />
            {agents.data?.length === 0 && <p className="muted">No agents yet: create one under Agents.</p>}
            <div className="cards">
              {agents.data?.map((agent) => <AgentCard key={agent.id} agent={agent} activeCall={activeByAgent.get(agent.id)} start={start} />)}
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
                  {note.kind === "human_requested" && note.call_id && <TakeOverButton callId={note.call_id} channel={channelOf.get(note.call_id)} />}
                  <small className="muted">{when(note.created_at)}</small>
                </li>
              ))}
            </ul>
          </aside>
        </div>
      </div>
    </TakeOverProvider>
  );
}

/**
 * A customer asked for a person: take their call over from here, as the agent card does (a voice call's
 * room joined with the microphone); the card then has the composer.
 */
function TakeOverButton({ callId, channel }: { callId: string; channel: string | undefined }) {
  const { takeOver, voice, voiceCall } = useTakeOver();
  const [state, setState] = useState<"idle" | "taking" | "taken">("idle");
  const [error, setError] = useState<unknown>(null);
  const take = async () => {
    setError(null);
    setState("taking");
    try {
      setState((await takeOver(callId, channel)) ? "taken" : "idle");
    } catch (failure) {
      setState("idle");
      setError(failure);
    }
  };
  return (
    <div>
      {state === "taken" ? <span className="notice" role="status">You have this call: write on its agent card</span>
        : <button type="button" onClick={() => void take()} disabled={state === "taking"}>Take over</button>}
      <ErrorNote error={error ?? (voiceCall === callId ? voice.problem : null)} />
    </div>
  );
}

function ToolRequests({ requests, onDecided }: { requests: PendingRequest[]; onDecided: (id: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const decide = async (id: string, allow: boolean) => {
    setError(null);
    try {
      await ok(api.POST("/api/tool-requests/{request_id}/decision", { params: { path: { request_id: id } }, body: { allow, note: "" } }));
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
