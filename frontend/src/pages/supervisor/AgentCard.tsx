import { useEffect, useRef, useState } from "react";
import { api, ok } from "../../api/client";
import type { Agent, AgentStatusChanged, LiveCall, SatisfactionScore, SentimentScore, StreamEvent } from "../../api/types";
import { ConnectionBadge } from "../../components/ConnectionBadge";
import { ErrorNote } from "../../components/ErrorNote";
import { brainName, decimal } from "../../components/format";
import { mergeLines, type Line } from "../../components/transcript";
import { VoiceStatus } from "../../components/VoiceStatus";
import { useEventStream, type StreamStart } from "../../live/useEventStream";
import { useVoiceRoom } from "../../live/useVoiceRoom";
import { useTakeOver } from "./takeOver";

const STREAM_TYPES = [
  "call.started",
  "call.ended",
  "transcript.chunk",
  "sentiment.score",
  "satisfaction.score",
  "whisper.ack",
  "agent.status",
  "call.taken_over",
  "call.handed_back",
] as const;

/** An event of the agent's stream. */
export type CardEvent = StreamEvent<(typeof STREAM_TYPES)[number]>;

type WhisperStage = "none" | "pausing" | "paused" | "received" | "resumed";

/** Who handles the call instead of the agent: their id, and their name when known. */
interface Holder {
  id: string;
  name: string | null;
}

interface CallView {
  id: string;
  caller: string;
  channel: string;
  brain: string | null; // known once the agent has spoken (or from the call's record)
  lines: Line[];
  sentiment: SentimentScore | null;
  satisfaction: SatisfactionScore | null;
  satisfactionTrend: number;
  whisper: WhisperStage;
  takenOverBy: Holder | null; // until handed back
  ended: boolean;
  endReason: string | null;
}

function newCall(id: string, caller: string, channel: string, brain: string | null = null, takenOverBy: Holder | null = null): CallView {
  return { id, caller, channel, brain, lines: [], sentiment: null, satisfaction: null, satisfactionTrend: 0, whisper: "none", takenOverBy, ended: false, endReason: null };
}

/**
 * The card's call after one event of the agent's stream: a call that starts replaces the last one;
 * the rest apply to the call shown, and events of any other call are ignored. An event applied twice
 * (replayed from the floor's reads, or after a reconnect) changes nothing the second time.
 */
export function reduceCall(view: CallView | null, event: CardEvent): CallView | null {
  // The start of the call shown already (a stream replaying what the card read) keeps what the card knows.
  if (event.type === "call.started") return view?.id === event.call_id ? view : newCall(event.call_id, event.caller, event.channel);
  if (event.type === "agent.status" || !view || view.id !== event.call_id) return view;
  switch (event.type) {
    case "transcript.chunk":
      return { ...view, lines: mergeLines(view.lines, [event]), brain: view.brain ?? event.brain ?? null };
    case "sentiment.score":
      return { ...view, sentiment: event };
    case "satisfaction.score": {
      const trend = view.satisfaction ? event.score - view.satisfaction.score : 0;
      return { ...view, satisfaction: event, satisfactionTrend: trend === 0 ? view.satisfactionTrend : trend };
    }
    case "whisper.ack":
      return { ...view, whisper: event.stage };
    case "call.taken_over": // a whisper pause ends there: the person has the call, the agent is silent
      return { ...view, takenOverBy: { id: event.by, name: event.by_name }, whisper: "none" };
    case "call.handed_back":
      return { ...view, takenOverBy: null };
    case "call.ended":
      return { ...view, ended: true, endReason: event.reason };
  }
}

// Why a call ended, as the supervisor reads it.
const END_REASONS: Record<string, string> = {
  customer_hangup: "the customer hung up", agent_resolved: "the agent ended it", supervisor_ended: "a supervisor ended it",
  abandoned_in_queue: "the caller left the queue", abandoned: "abandoned: the customer left without hanging up",
  error: "a problem on our side",
};

function trendArrow(trend: number) {
  return trend > 0.05 ? "↑" : trend < -0.05 ? "↓" : "→";
}

/**
 * One agent, live: status, the current call's transcript, sentiment and satisfaction, and the whisper panel.
 * ``start``: the floor's, whose reads ``agent`` and ``activeCall`` come from (without it, from now).
 */
export function AgentCard({ agent, activeCall, start }: { agent: Agent; activeCall: LiveCall | undefined; start?: StreamStart }) {
  const [call, setCall] = useState<CallView | null>(null);
  const [status, setStatus] = useState<Agent["status"] | AgentStatusChanged["status"]>(agent.status);
  const transcriptEnd = useRef<HTMLDivElement>(null);

  // The floor's list of live calls names the agent's call (a dashboard opened mid-call, or a call the
  // stream announced before this card was there): show it, unless the stream already did.
  const activeId = activeCall?.id;
  const activeCaller = activeCall?.caller ?? "";
  const activeChannel = activeCall?.channel ?? "";
  const activeBrain = activeCall?.brain ?? null;
  const activeHolder = activeCall?.taken_over_by ?? null;
  const activeHolderName = activeCall?.taken_over_by_name ?? null;
  useEffect(() => {
    if (!activeId) return;
    setCall((current) =>
      current?.id === activeId
        ? current
        : newCall(activeId, activeCaller, activeChannel, activeBrain, activeHolder ? { id: activeHolder, name: activeHolderName } : null),
    );
  }, [activeId, activeCaller, activeChannel, activeBrain, activeHolder, activeHolderName]);

  // ... starting from the transcript so far, once per call.
  useEffect(() => {
    if (!activeId) return;
    ok(api.GET("/api/calls/{call_id}", { params: { path: { call_id: activeId } } }))
      .then((detail) =>
        setCall((current) =>
          current && current.id === detail.id
            ? { ...current, lines: mergeLines(current.lines, detail.transcript), brain: current.brain ?? detail.brain }
            : current,
        ),
      )
      .catch(() => undefined);
  }, [activeId]);

  const { leave } = useTakeOver();
  const stream = useEventStream(`/api/stream/agents/${agent.id}`, STREAM_TYPES, (event) => {
    if (event.type === "agent.status") setStatus(event.status);
    else if (event.type === "call.started") setStatus("busy");
    // Handed back by someone else (an admin): a voice room joined to speak in is no longer ours to speak in.
    else if (event.type === "call.handed_back") void leave(event.call_id);
    setCall((current) => reduceCall(current, event));
  }, { start });

  useEffect(() => {
    transcriptEnd.current?.scrollIntoView?.({ block: "nearest" });
  }, [call?.lines.length]);

  const paused = call && !call.ended && (call.whisper === "paused" || call.whisper === "pausing" || call.whisper === "received");
  const live = call && !call.ended;
  const shownStatus = live && call.takenOverBy ? "taken over" : paused ? "paused" : live ? "in call" : status === "busy" ? "in call" : "idle";
  return (
    <article className="card agent-card" aria-label={`Agent ${agent.name}`}>
      <header className="card-head">
        <h3>{agent.name}</h3>
        <span className={`pill pill-${shownStatus.replace(" ", "-")}`} data-testid="agent-status">{shownStatus}</span>
        <ConnectionBadge status={stream} />
      </header>
      <p className="muted">{agent.phone_number}</p>
      {call ? (
        <>
          <div className="scores">
            <div>
              <span className="muted">Sentiment</span>{" "}
              <strong className={call.sentiment?.label === "negative" ? "neg" : call.sentiment?.label === "positive" ? "pos" : ""} data-testid="sentiment">
                {call.sentiment ? `${call.sentiment.label} ${decimal(call.sentiment.score, 2)} ${trendArrow(call.sentiment.trend)}` : "–"}
              </strong>
            </div>
            <div>
              <span className="muted">Satisfaction</span>{" "}
              <strong data-testid="satisfaction">{call.satisfaction ? `${decimal(call.satisfaction.score)} / 5 ${trendArrow(call.satisfactionTrend)}` : "–"}</strong>
              {call.satisfaction && <small className="muted"> {(call.satisfaction.reasons ?? []).slice(0, 2).join("; ")}</small>}
            </div>
          </div>
          <div className="transcript" aria-label={`Live transcript, ${agent.name}`} aria-live="polite">
            <p className="muted" data-testid="call-line">
              Call with {call.caller} · {call.channel} · answered by {brainName(call.brain)}{call.ended ? ` — ended${call.endReason ? ` (${END_REASONS[call.endReason] ?? call.endReason})` : ""}` : ""}
            </p>
            {call.lines.map((line) => (
              <p key={line.seq} className={`line line-${line.speaker}`}>
                <b>{line.speaker}:</b> {line.text}
              </p>
            ))}
            <div ref={transcriptEnd} />
          </div>
          {!call.ended && call.channel === "voice" && !call.takenOverBy && <ListenPanel callId={call.id} />}
          {!call.ended && !call.takenOverBy && (
            <WhisperPanel callId={call.id} stage={call.whisper} onStage={(stage) => setCall((v) => (v ? { ...v, whisper: stage } : v))} />
          )}
          {!call.ended && (
            <TakeOverPanel
              callId={call.id}
              channel={call.channel}
              holder={call.takenOverBy}
              onChange={(takenOverBy) => setCall((v) => (v ? { ...v, takenOverBy } : v))}
            />
          )}
        </>
      ) : (
        <p className="muted">Waiting for a call.</p>
      )}
    </article>
  );
}

/** Hear a live voice call as a hidden participant of its room; the panel going (call over) stops it. */
function ListenPanel({ callId }: { callId: string }) {
  const voice = useVoiceRoom();
  const [error, setError] = useState<unknown>(null);
  const listening = voice.state === "connecting" || voice.state === "connected" || voice.state === "reconnecting";
  const listen = async () => {
    setError(null);
    await voice.prepare({ microphone: false });
    try {
      await voice.join(await ok(api.POST("/api/calls/{call_id}/listen", { params: { path: { call_id: callId } } })));
    } catch (failure) {
      setError(failure);
      await voice.leave();
    }
  };
  return (
    <div className="listen" aria-label="Listen">
      {listening ? (
        <button type="button" onClick={() => void voice.leave()}>Stop listening</button>
      ) : (
        <button type="button" onClick={() => void listen()}>Listen</button>
      )}
      <VoiceStatus voice={voice} names={{ agent: "Agent", customer: "Customer" }} />
      <ErrorNote error={error ?? voice.problem} />
    </div>
  );
}

/**
 * Step into the call: the agent tells the customer a person is joining and stays silent; whoever took it
 * over writes to the customer (and, on a voice call, speaks in its room) until handing the call back,
 * with instructions for the agent if they like. A call someone else has shows who.
 */
function TakeOverPanel({ callId, channel, holder, onChange }: {
  callId: string; channel: string; holder: Holder | null; onChange: (holder: Holder | null) => void;
}) {
  const { me, voice, voiceCall, takeOver, handBack, leave } = useTakeOver();
  const [text, setText] = useState("");
  const [instructions, setInstructions] = useState("");
  const [error, setError] = useState<unknown>(null);
  // The panel goes when the call ends: so does its room.
  useEffect(() => () => void leave(callId), [leave, callId]);
  const attempt = async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure);
    }
  };
  const take = () => attempt(async () => {
    const taken = await takeOver(callId, channel);
    if (taken) onChange({ id: taken.taken_over_by, name: taken.name });
  });
  const send = () => attempt(async () => {
    await ok(api.POST("/api/calls/{call_id}/supervisor-messages", { params: { path: { call_id: callId } }, body: { text } }));
    setText("");
  });
  const giveBack = () => attempt(async () => {
    await handBack(callId, instructions.trim() || null);
    setInstructions("");
    onChange(null);
  });
  const inRoom = voiceCall === callId;
  if (!holder) {
    return (
      <div className="takeover" aria-label="Take over">
        <button type="button" onClick={() => void take()}>Take over</button>
        {inRoom && <ErrorNote error={voice.problem} />}
        <ErrorNote error={error} />
      </div>
    );
  }
  if (holder.id !== me) {
    return (
      <div className="takeover" aria-label="Taken over">
        <span className="notice" role="status">{holder.name ?? "Another supervisor"} has this call: the agent is silent until handed back</span>
      </div>
    );
  }
  return (
    <div className="takeover" aria-label="Taken over">
      <span className="notice" role="status">You have this call: the agent is silent until you hand it back</span>
      {inRoom && <VoiceStatus voice={voice} names={{ agent: "Agent", customer: "Customer" }} />}
      {inRoom && <ErrorNote error={voice.problem} />}
      <label>
        Message to the customer
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} />
      </label>
      <button type="button" onClick={() => void send()} disabled={!text.trim()}>Send</button>
      <label>
        Instructions for the agent (optional)
        <textarea value={instructions} onChange={(e) => setInstructions(e.target.value)} rows={2} />
      </label>
      <button type="button" onClick={() => void giveBack()}>Hand back</button>
      <ErrorNote error={error} />
    </div>
  );
}

function WhisperPanel({ callId, stage, onStage }: { callId: string; stage: WhisperStage; onStage: (stage: WhisperStage) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const pause = async () => {
    setError(null);
    onStage("pausing");
    try {
      await ok(api.POST("/api/calls/{call_id}/whisper", { params: { path: { call_id: callId } } }));
    } catch (failure) {
      onStage("none");
      setError(failure);
    }
  };
  const inject = async () => {
    setError(null);
    try {
      await ok(api.POST("/api/calls/{call_id}/inject", { params: { path: { call_id: callId } }, body: { instructions: text } }));
      setText("");
    } catch (failure) {
      setError(failure);
    }
  };
  const open = stage === "pausing" || stage === "paused";
  return (
    <div className="whisper" aria-label="Whisper">
      {!open && (
        <button type="button" onClick={pause}>
          Whisper
        </button>
      )}
      {stage === "pausing" && <span className="muted">Pausing the agent…</span>}
      {stage === "paused" && <span className="notice">Agent paused: type your instructions</span>}
      {stage === "received" && <span className="notice" role="status">Received</span>}
      {stage === "resumed" && <span className="notice" role="status">Received · agent resumed</span>}
      {open && (
        <>
          <label>
            Instructions for the agent
            <textarea value={text} onChange={(e) => setText(e.target.value)} rows={2} />
          </label>
          <button type="button" onClick={inject} disabled={!text.trim()}>
            Inject
          </button>
        </>
      )}
      <ErrorNote error={error} />
    </div>
  );
}
