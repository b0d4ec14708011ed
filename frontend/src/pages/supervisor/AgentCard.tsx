import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import type { Agent, LiveCall, LiveCallDetail, SatisfactionScore, SentimentScore, TranscriptChunk, WhisperAck } from "../../api/types";
import { ConnectionBadge } from "../../components/ConnectionBadge";
import { ErrorNote } from "../../components/ErrorNote";
import { brainName, decimal } from "../../components/format";
import { mergeLines, type Line } from "../../components/transcript";
import { VoiceStatus } from "../../components/VoiceStatus";
import { useEventStream } from "../../live/useEventStream";
import { useVoiceRoom, type LiveKitJoin } from "../../live/useVoiceRoom";

const STREAM_TYPES = [
  "call.started",
  "call.ended",
  "transcript.chunk",
  "sentiment.score",
  "satisfaction.score",
  "whisper.ack",
  "agent.status",
] as const;

type WhisperStage = "none" | "pausing" | "paused" | "received" | "resumed";

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
  ended: boolean;
}

function newCall(id: string, caller: string, channel: string, brain: string | null = null): CallView {
  return { id, caller, channel, brain, lines: [], sentiment: null, satisfaction: null, satisfactionTrend: 0, whisper: "none", ended: false };
}

function trendArrow(trend: number) {
  return trend > 0.05 ? "↑" : trend < -0.05 ? "↓" : "→";
}

/** One agent, live: status, the current call's transcript, sentiment and satisfaction, and the whisper panel. */
export function AgentCard({ agent, activeCall }: { agent: Agent; activeCall: LiveCall | undefined }) {
  const [call, setCall] = useState<CallView | null>(null);
  const [status, setStatus] = useState<string>(agent.status);
  const transcriptEnd = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!activeCall) return;
    setCall((current) => (current?.id === activeCall.id ? current : newCall(activeCall.id, activeCall.caller, activeCall.channel, activeCall.brain)));
    // A dashboard opened mid-call starts from the transcript so far.
    api<LiveCallDetail>(`/api/calls/${activeCall.id}`)
      .then((detail) =>
        setCall((current) =>
          current && current.id === detail.id
            ? { ...current, lines: mergeLines(current.lines, detail.transcript), brain: current.brain ?? detail.brain }
            : current,
        ),
      )
      .catch(() => undefined);
  }, [activeCall?.id]);

  const onEvent = useCallback((type: string, data: any) => {
    if (type === "agent.status") return setStatus(data.status);
    if (type === "call.started") {
      setStatus("busy");
      return setCall(newCall(data.call_id, data.caller, data.channel));
    }
    setCall((current) => {
      const view = current && current.id === data.call_id ? current : null;
      if (!view) return current;
      switch (type) {
        case "transcript.chunk":
          return { ...view, lines: mergeLines(view.lines, [data as TranscriptChunk]), brain: view.brain ?? data.brain ?? null };
        case "sentiment.score":
          return { ...view, sentiment: data as SentimentScore };
        case "satisfaction.score": {
          const next = data as SatisfactionScore;
          const trend = view.satisfaction ? next.score - view.satisfaction.score : 0;
          return { ...view, satisfaction: next, satisfactionTrend: trend === 0 ? view.satisfactionTrend : trend };
        }
        case "whisper.ack":
          return { ...view, whisper: (data as WhisperAck).stage };
        case "call.ended":
          return { ...view, ended: true };
        default:
          return view;
      }
    });
  }, []);
  const stream = useEventStream(`/api/stream/agents/${agent.id}`, STREAM_TYPES, onEvent);

  useEffect(() => {
    transcriptEnd.current?.scrollIntoView?.({ block: "nearest" });
  }, [call?.lines.length]);

  const paused = call && !call.ended && (call.whisper === "paused" || call.whisper === "pausing" || call.whisper === "received");
  const shownStatus = paused ? "paused" : call && !call.ended ? "in call" : status === "busy" ? "in call" : "idle";
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
              Call with {call.caller} · {call.channel} · answered by {brainName(call.brain)}{call.ended ? " — ended" : ""}
            </p>
            {call.lines.map((line) => (
              <p key={line.seq} className={`line line-${line.speaker}`}>
                <b>{line.speaker}:</b> {line.text}
              </p>
            ))}
            <div ref={transcriptEnd} />
          </div>
          {!call.ended && call.channel === "voice" && <ListenPanel callId={call.id} />}
          {!call.ended && <WhisperPanel callId={call.id} stage={call.whisper} onStage={(stage) => setCall((v) => (v ? { ...v, whisper: stage } : v))} />}
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
      await voice.join(await api<LiveKitJoin>(`/api/calls/${callId}/listen`, { method: "POST" }));
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

function WhisperPanel({ callId, stage, onStage }: { callId: string; stage: WhisperStage; onStage: (stage: WhisperStage) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const pause = async () => {
    setError(null);
    onStage("pausing");
    try {
      await api(`/api/calls/${callId}/whisper`, { method: "POST" });
    } catch (failure) {
      onStage("none");
      setError(failure);
    }
  };
  const inject = async () => {
    setError(null);
    try {
      await api(`/api/calls/${callId}/inject`, { method: "POST", body: { instructions: text } });
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
