import { useEffect, useRef, useState, type FormEvent } from "react";
import { anonymous, api, ApiError, asCaller, ok, readHealth } from "../../api/client";
import type { CallEnded, CallIn, CallOut } from "../../api/types";
import { ConnectionBadge } from "../../components/ConnectionBadge";
import { ErrorNote } from "../../components/ErrorNote";
import { mergeLines, type Line } from "../../components/transcript";
import { useLoad } from "../../components/useLoad";
import { VoiceStatus } from "../../components/VoiceStatus";
import { useEventStream } from "../../live/useEventStream";
import { useVoiceRoom, type VoiceRoom } from "../../live/useVoiceRoom";

// How long the customer waits for the agent before being told it is taking longer than usual.
export const SLOW_ANSWER_MS = 10_000;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "+", "0", "-"];
const STREAM_TYPES = ["call.queued", "call.started", "transcript.chunk", "call.ended", "call.taken_over", "call.handed_back"] as const;

type Phase = "idle" | "dialling" | "queued" | "connected" | "ended";
type Channel = NonNullable<CallIn["channel"]>;

export const VOICE_NOT_CONFIGURED = "Voice calls are not available on this server (LiveKit is not configured); call by chat.";

/** Why the call ended, in the customer's words. */
export function endedMessage(ended: Pick<CallEnded, "reason" | "ended_by">): string {
  if (ended.reason === "abandoned_in_queue") return "You left the queue.";
  if (ended.reason === "abandoned") return "The call ended: we had not heard from you for a while. Call again whenever you like.";
  if (ended.ended_by === "customer") return "You hung up.";
  if (ended.reason === "error") return "The call was cut off by a problem on our side. Please call again.";
  return ended.ended_by === "supervisor" ? "A supervisor ended the call." : "The agent ended the call.";
}

/**
 * Why voice calls cannot be made here, or null while they can (or nobody knows yet). /health says
 * whether LiveKit is configured (with 503 and the same report while a service is down). A 422
 * voice_unavailable later says so too.
 */
function useVoiceUnavailable(): [string | null, (reason: string) => void] {
  const [reason, setReason] = useState<string | null>(null);
  useEffect(() => {
    readHealth()
      .then((health) => {
        if (health.livekit?.startsWith("not configured")) setReason(VOICE_NOT_CONFIGURED);
      })
      .catch(() => undefined); // unknown: the call itself will say
  }, []);
  return [reason, setReason];
}

/** The customer's phone: dial a demo number, chat or talk with the agent, see the queue, hang up. */
export function Dialer() {
  const directory = useLoad(() => ok(api.GET("/api/directory")), []);
  const voice = useVoiceRoom();
  const [voiceUnavailable, setVoiceUnavailable] = useVoiceUnavailable();
  const [number, setNumber] = useState("");
  const [caller, setCaller] = useState(() => localStorage.getItem("cs-agents.caller") ?? "");
  const [call, setCall] = useState<CallOut | null>(null);
  const [phase, setPhase] = useState<Phase>("idle");
  const [position, setPosition] = useState<number | null>(null);
  const [longWait, setLongWait] = useState(false);
  const [talkingWith, setTalkingWith] = useState<string | null>(null); // a person who took the call over
  const [agentBack, setAgentBack] = useState(false);
  const [lines, setLines] = useState<Line[]>([]);
  const [endNote, setEndNote] = useState("");
  const [error, setError] = useState<unknown>(null);

  const dial = async (dialled: string, channel: Channel) => {
    setError(null);
    setLines([]);
    setEndNote("");
    setLongWait(false);
    setTalkingWith(null);
    setAgentBack(false);
    setPhase("dialling");
    await voice.leave(); // forget the last voice call's problem, if any
    if (caller) localStorage.setItem("cs-agents.caller", caller);
    // The microphone first, in the click: a customer who refuses it is not left in a call they cannot speak in.
    if (channel === "voice" && !(await voice.prepare({ microphone: true }))) {
      setPhase("idle");
      return;
    }
    try {
      const placed = await ok(anonymous.POST("/api/calls", { body: { number: dialled, caller: caller || "anonymous", channel } }));
      setCall(placed);
      setPosition(placed.queue_position ?? null);
      setPhase(placed.status === "connected" ? "connected" : placed.status === "queued" ? "queued" : "ended");
    } catch (failure) {
      void voice.leave();
      setPhase("idle");
      setError(failure);
      if (failure instanceof ApiError && failure.code === "voice_unavailable") setVoiceUnavailable(failure.message);
    }
  };

  // A voice call joins its room once the agent answers (at once, or when a queued call starts), and
  // leaves it however the call ends.
  const room = call?.livekit;
  const { join: joinRoom, leave: leaveRoom } = voice; // stable: the same functions on every render
  useEffect(() => {
    if (phase === "connected" && room) void joinRoom(room);
    if (phase === "ended") void leaveRoom();
  }, [phase, room, joinRoom, leaveRoom]);

  const stream = useEventStream(
    call && phase !== "ended" ? `/api/calls/${call.call_id}/stream` : null,
    STREAM_TYPES,
    (event) => {
      switch (event.type) {
        case "call.queued":
          setPhase("queued");
          setPosition(event.position);
          setLongWait(Boolean(event.long_wait));
          break;
        case "call.taken_over":
          setTalkingWith(`${event.by_name}, supervisor`);
          setAgentBack(false);
          break;
        case "call.handed_back":
          setTalkingWith(null);
          setAgentBack(true);
          break;
        case "call.started":
          setPhase("connected");
          setPosition(null);
          break;
        case "transcript.chunk":
          setLines((all) => mergeLines(all, [event]));
          break;
        case "call.ended":
          setPhase("ended");
          setEndNote(endedMessage(event));
          break;
      }
    },
    { callToken: call?.call_token },
  );

  const hangUp = async () => {
    if (!call) return;
    try {
      await ok(asCaller(call.call_token).POST("/api/calls/{call_id}/end", { params: { path: { call_id: call.call_id } } }));
    } catch (failure) {
      setError(failure);
    }
    setPhase("ended");
    setEndNote("You hung up.");
  };

  const inCall = phase === "dialling" || phase === "queued" || phase === "connected";
  return (
    <main className="dialer">
      <h1>Phone</h1>
      {!inCall && (
        <>
          <label>
            Your email (so the agent recognises you; optional)
            <input type="email" value={caller} onChange={(e) => setCaller(e.target.value)} />
          </label>
          <section aria-label="Demo numbers" className="card">
            <h2>Numbers you can call</h2>
            <ErrorNote error={directory.error} />
            <ul className="directory">
              {directory.data?.map((entry) => (
                <li key={entry.phone_number}>
                  <span>{entry.name}</span> <code>{entry.phone_number}</code>{" "}
                  <button type="button" onClick={() => void dial(entry.phone_number, "chat")} aria-label={`Call ${entry.name}`}>Call</button>{" "}
                  <button type="button" onClick={() => void dial(entry.phone_number, "voice")} aria-label={`Voice ${entry.name}`}
                          disabled={!!voiceUnavailable} title={voiceUnavailable ?? undefined}>Voice</button>
                </li>
              ))}
            </ul>
          </section>
          <form className="card keypad-form" onSubmit={(e: FormEvent) => { e.preventDefault(); void dial(number, "chat"); }} aria-label="Dial pad">
            <label>
              Number
              <input value={number} onChange={(e) => setNumber(e.target.value)} inputMode="tel" placeholder="+1-555-0101" />
            </label>
            <div className="keypad">
              {KEYS.map((key) => (
                <button key={key} type="button" className="key" onClick={() => setNumber(number + key)} aria-label={`Key ${key}`}>{key}</button>
              ))}
            </div>
            <button type="submit" disabled={!number}>Call (chat)</button>{" "}
            <button type="button" disabled={!number || !!voiceUnavailable} title={voiceUnavailable ?? undefined}
                    onClick={() => void dial(number, "voice")}>Voice call</button>
            {voiceUnavailable && <p className="muted" data-testid="voice-unavailable">{voiceUnavailable}</p>}
          </form>
        </>
      )}
      <ErrorNote error={error} />
      <ErrorNote error={voice.problem} />
      {call && phase !== "idle" && (
        <Conversation
          agentName={call.agent.name}
          phase={phase}
          position={position}
          longWait={longWait}
          talkingWith={talkingWith}
          agentBack={agentBack}
          lines={lines}
          endNote={endNote}
          streamStatus={stream}
          callId={call.call_id}
          callToken={call.call_token}
          onHangUp={hangUp}
          onError={setError}
          voice={call.livekit ? voice : undefined}
        />
      )}
    </main>
  );
}

/** Whether the agent owes an answer, and whether it has owed it for longer than usual. */
function useAwaitedAnswer(owed: boolean, lineCount: number): { owed: boolean; slow: boolean } {
  const [slow, setSlow] = useState(false);
  useEffect(() => {
    setSlow(false);
    if (!owed) return;
    const timer = setTimeout(() => setSlow(true), SLOW_ANSWER_MS);
    return () => clearTimeout(timer);
  }, [owed, lineCount]);
  return { owed, slow };
}

export function Conversation(props: {
  agentName: string;
  phase: Phase;
  position: number | null;
  /** Waited past the platform's bound: offered to keep waiting or leave. */
  longWait?: boolean;
  /** A person handling the call instead of the agent. */
  talkingWith?: string | null;
  /** The person handed the call back to the agent. */
  agentBack?: boolean;
  lines: Line[];
  endNote: string;
  streamStatus: ReturnType<typeof useEventStream>;
  callId: string;
  callToken: string;
  onHangUp: () => void;
  onError: (error: unknown) => void;
  /** A voice call's room: captions instead of typing, and the audio controls. */
  voice?: VoiceRoom;
}) {
  const [text, setText] = useState("");
  const [keepWaiting, setKeepWaiting] = useState(false);
  // Owed: the greeting, or an answer to the customer's last line (a supervisor's line answers too).
  const lastSpeaker = props.lines.at(-1)?.speaker;
  const answer = useAwaitedAnswer(!props.voice && props.phase === "connected" && (lastSpeaker === undefined || lastSpeaker === "customer"),
                                  props.lines.length);
  const answerer = props.talkingWith ?? props.agentName;
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: "nearest" });
  }, [props.lines.length, answer.owed]);
  const send = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await ok(asCaller(props.callToken).POST("/api/calls/{call_id}/messages", { params: { path: { call_id: props.callId } }, body: { text } }));
      setText("");
    } catch (failure) {
      props.onError(failure);
    }
  };
  return (
    <section className="card conversation" aria-label={`Call with ${props.agentName}`}>
      <div className="page-head">
        <h2>{props.agentName}</h2>
        {props.phase !== "ended" && <ConnectionBadge status={props.streamStatus} label="Call" />}
      </div>
      <p role="status" className="call-status" data-testid="call-status">
        {props.phase === "dialling" && "Calling…"}
        {props.phase === "queued" && `All agents are busy. You are number ${props.position ?? "?"} in the queue.`}
        {props.phase === "connected" && (props.talkingWith ? `You are talking with ${props.talkingWith}`
          : props.agentBack ? `Connected · ${props.agentName} is back with you` : "Connected")}
        {props.phase === "ended" && props.endNote}
      </p>
      {props.phase === "queued" && props.longWait && !keepWaiting && (
        <div className="notice" role="alert" data-testid="long-wait">
          <p>Sorry for the long wait. Would you like to keep waiting, or leave and call back later?</p>
          <button type="button" onClick={() => setKeepWaiting(true)}>Keep waiting</button>{" "}
          <button type="button" className="danger" onClick={props.onHangUp}>Leave the queue</button>
        </div>
      )}
      <div className="transcript" aria-live="polite" aria-label="Conversation">
        {props.lines.map((line) => (
          <p key={line.seq} className={`bubble bubble-${line.speaker}`}>{line.text}</p>
        ))}
        {answer.owed && (
          <p className="muted" data-testid="agent-answering">
            {answer.slow ? `${answerer} is taking longer than usual to answer. Please stay on the line.` : `${answerer} is typing…`}
          </p>
        )}
        <div ref={end} />
      </div>
      {props.voice && props.phase === "connected" && (
        <div className="voice-controls" aria-label="Voice">
          <VoiceStatus voice={props.voice} names={{ agent: props.agentName, customer: "You" }} />
          <button type="button" onClick={() => void props.voice?.toggleMute()}>
            {props.voice.muted ? "Unmute" : "Mute"}
          </button>
        </div>
      )}
      {!props.voice && props.phase === "connected" && (
        <form onSubmit={send} className="send">
          <label className="grow">
            Message
            <input value={text} onChange={(e) => setText(e.target.value)} required />
          </label>
          <button type="submit">Send</button>
        </form>
      )}
      {props.phase !== "ended" ? (
        <button type="button" className="danger hangup" onClick={props.onHangUp}>Hang up</button>
      ) : (
        <p className="muted">Thank you for calling.</p>
      )}
    </section>
  );
}
