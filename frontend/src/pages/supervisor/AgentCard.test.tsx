import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeRoom, livekitFake } from "../../live/livekitFake";
import { FakeEventSource, OnTheFloor, sentTo, stubFetch } from "../../test-helpers";
import { agent, IDS, liveCall } from "../../test-fixtures";
import { AgentCard, reduceCall, type CardEvent } from "./AgentCard";

vi.mock("livekit-client", async (original) => ({ ...(await original<object>()), ...(await import("../../live/livekitFake")).livekitFake }));

const ON_CALL = { call_id: IDS.call, agent_id: IDS.agent, supervisor_id: IDS.supervisor };
const STARTED = { ...ON_CALL, agent_name: "Orders", caller: "jo@example.com", channel: "chat" as const };
const chunk = (seq: number, speaker: "agent" | "customer", text: string, brain: string | null = null) => ({ ...ON_CALL, seq, speaker, text, brain });
const sentiment = (score: number, label: "negative" | "neutral" | "positive", trend: number) =>
  ({ ...ON_CALL, score, label, trend, model: "lexicon", utterances: 2 });
const satisfaction = (score: number) => ({ ...ON_CALL, score, source: "estimate", reasons: ["waited", "refund promised", "third"] as [string, string, string] });
const ENDED = {
  ...ON_CALL, caller: "jo@example.com", channel: "chat" as const, duration_seconds: 60, started_at: "2026-11-25T10:00:00Z",
  ended_at: "2026-11-25T10:01:00Z", ended_by: "customer" as const, reason: "customer_hangup" as const,
};

beforeEach(() => {
  FakeEventSource.reset();
  FakeRoom.reset();
  livekitFake.createLocalAudioTrack.mockClear();
  vi.stubGlobal("EventSource", FakeEventSource);
});
afterEach(() => vi.unstubAllGlobals());

async function cardOnItsStream() {
  render(<AgentCard agent={agent()} activeCall={undefined} />, { wrapper: OnTheFloor });
  return FakeEventSource.at(`/api/stream/agents/${IDS.agent}`);
}

describe("the agent card, following the agent's stream", () => {
  it("shows a call from its start: transcript, brain, sentiment, satisfaction and its end", async () => {
    stubFetch({});
    const stream = await cardOnItsStream();
    expect(screen.getByText("Waiting for a call.")).toBeInTheDocument();
    expect(screen.getByTestId("agent-status")).toHaveTextContent("idle");

    stream.emit("call.started", STARTED);
    expect(screen.getByTestId("agent-status")).toHaveTextContent("in call");
    expect(screen.getByTestId("call-line")).toHaveTextContent("Call with jo@example.com · chat · answered by –");

    stream.emit("transcript.chunk", chunk(1, "customer", "My parcel arrived broken."));
    stream.emit("transcript.chunk", chunk(0, "agent", "Hello, Orders here.", "gemini"));
    stream.emit("transcript.chunk", chunk(1, "customer", "My parcel arrived broken.")); // a resumed stream repeats one
    const transcript = screen.getByLabelText("Live transcript, Orders");
    expect(within(transcript).getAllByText(/:/).map((line) => line.parentElement?.textContent)).toEqual([
      "agent: Hello, Orders here.",
      "customer: My parcel arrived broken.",
    ]);
    expect(screen.getByTestId("call-line")).toHaveTextContent("answered by Gemini");

    stream.emit("sentiment.score", sentiment(-0.42, "negative", -0.2));
    expect(screen.getByTestId("sentiment")).toHaveTextContent("negative -0.42 ↓");
    expect(screen.getByTestId("sentiment")).toHaveClass("neg");

    stream.emit("satisfaction.score", satisfaction(2.5));
    expect(screen.getByTestId("satisfaction")).toHaveTextContent("2.5 / 5 →");
    stream.emit("satisfaction.score", satisfaction(3.5));
    expect(screen.getByTestId("satisfaction")).toHaveTextContent("3.5 / 5 ↑");
    expect(screen.getByText("waited; refund promised")).toBeInTheDocument();

    stream.emit("call.ended", ENDED);
    expect(screen.getByTestId("call-line")).toHaveTextContent("— ended");
    expect(screen.queryByRole("button", { name: "Whisper" })).toBeNull();
  });

  it("follows the whisper's stages from the agent's acknowledgements", async () => {
    stubFetch({ [`/api/calls/${IDS.call}/whisper`]: [202, { event_id: "e1" }] });
    const stream = await cardOnItsStream();
    stream.emit("call.started", STARTED);
    stream.emit("whisper.ack", { ...ON_CALL, stage: "paused", message: "paused" });
    expect(screen.getByTestId("agent-status")).toHaveTextContent("paused");
    expect(screen.getByText("Agent paused: type your instructions")).toBeInTheDocument();
    stream.emit("whisper.ack", { ...ON_CALL, stage: "resumed", message: "resumed" });
    expect(screen.getByText("Received · agent resumed")).toBeInTheDocument();
    expect(screen.getByTestId("agent-status")).toHaveTextContent("in call");
  });

  it("takes a call over, writes to the customer and hands it back with instructions", async () => {
    stubFetch({
      [`/api/calls/${IDS.call}/takeover`]: { call_id: IDS.call, taken_over_by: IDS.supervisor, name: "Dana", livekit: null },
      [`/api/calls/${IDS.call}/supervisor-messages`]: [202, { event_id: "e1" }],
      [`/api/calls/${IDS.call}/handback`]: [202, { event_id: "e2" }],
    });
    const stream = await cardOnItsStream();
    stream.emit("call.started", STARTED);
    fireEvent.click(screen.getByRole("button", { name: "Take over" }));
    expect(await screen.findByText("You have this call: the agent is silent until you hand it back")).toBeInTheDocument();
    expect(screen.getByTestId("agent-status")).toHaveTextContent("taken over");
    expect(screen.queryByRole("button", { name: "Whisper" })).toBeNull();
    fireEvent.change(screen.getByLabelText("Message to the customer"), { target: { value: "Hi, I'm Dana." } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(sentTo(`/api/calls/${IDS.call}/supervisor-messages`)[0]?.body).toEqual({ text: "Hi, I'm Dana." }));
    fireEvent.change(screen.getByLabelText("Instructions for the agent (optional)"), { target: { value: "Offer a voucher." } });
    fireEvent.click(screen.getByRole("button", { name: "Hand back" }));
    expect(await screen.findByRole("button", { name: "Take over" })).toBeInTheDocument();
    expect(sentTo(`/api/calls/${IDS.call}/handback`)[0]?.body).toEqual({ instructions: "Offer a voucher." });
  });

  it("shows who has a call someone else took over, without the composer", async () => {
    stubFetch({});
    const stream = await cardOnItsStream();
    stream.emit("call.started", STARTED);
    stream.emit("call.taken_over", { ...ON_CALL, by: "admin-1", by_name: "Sam" });
    expect(screen.getByText("Sam has this call: the agent is silent until handed back")).toBeInTheDocument();
    expect(screen.queryByLabelText("Message to the customer")).toBeNull();
    expect(screen.queryByRole("button", { name: "Take over" })).toBeNull();
    stream.emit("call.handed_back", { ...ON_CALL, by: "admin-1", agent_name: "Orders" });
    expect(screen.getByRole("button", { name: "Take over" })).toBeInTheDocument();
  });

  it("names who has a call taken over when the dashboard opens after the take-over (a reload)", async () => {
    const held = liveCall({ taken_over_by: "admin-1", taken_over_by_name: "Sam" });
    stubFetch({ [`/api/calls/${IDS.call}`]: { ...held, tool_requests: [], transcript: [] } });
    render(<AgentCard agent={agent({ status: "busy" })} activeCall={held} />, { wrapper: OnTheFloor });
    expect(await screen.findByText("Sam has this call: the agent is silent until handed back")).toBeInTheDocument();
    expect(screen.getByTestId("agent-status")).toHaveTextContent("taken over");
    expect(screen.queryByText(/Another supervisor/)).toBeNull();
    expect(screen.queryByRole("button", { name: "Take over" })).toBeNull();
  });

  it("leaves the voice room when an admin hands the call back from under the supervisor", async () => {
    const join = { url: "ws://rooms.test", room: `call-${IDS.call}`, token: "speak-token" };
    stubFetch({ [`/api/calls/${IDS.call}/takeover`]: { call_id: IDS.call, taken_over_by: IDS.supervisor, name: "Dana", livekit: join } });
    const stream = await cardOnItsStream();
    stream.emit("call.started", { ...STARTED, channel: "voice" });
    fireEvent.click(screen.getByRole("button", { name: "Take over" }));
    expect(await screen.findByTestId("voice-state")).toHaveTextContent("Audio connected");
    stream.emit("call.handed_back", { ...ON_CALL, by: "admin-1", agent_name: "Orders" });
    expect(await screen.findByRole("button", { name: "Take over" })).toBeInTheDocument();
    await waitFor(() => expect(FakeRoom.last().disconnect).toHaveBeenCalled());
  });

  it("takes a voice call over into its room with the microphone, and leaves the room on hand-back", async () => {
    const join = { url: "ws://rooms.test", room: `call-${IDS.call}`, token: "speak-token" };
    stubFetch({
      [`/api/calls/${IDS.call}/takeover`]: { call_id: IDS.call, taken_over_by: IDS.supervisor, name: "Dana", livekit: join },
      [`/api/calls/${IDS.call}/handback`]: [202, { event_id: "e2" }],
    });
    const stream = await cardOnItsStream();
    stream.emit("call.started", { ...STARTED, channel: "voice" });
    fireEvent.click(screen.getByRole("button", { name: "Take over" }));
    expect(await screen.findByTestId("voice-state")).toHaveTextContent("Audio connected");
    const room = FakeRoom.last();
    expect(room.connect).toHaveBeenCalledWith(join.url, join.token);
    expect(livekitFake.createLocalAudioTrack).toHaveBeenCalled();
    expect(room.localParticipant.publishTrack).toHaveBeenCalled();
    expect(screen.getByText("You have this call: the agent is silent until you hand it back")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Hand back" }));
    expect(await screen.findByRole("button", { name: "Take over" })).toBeInTheDocument();
    expect(room.disconnect).toHaveBeenCalled();
  });

  it("ignores another call's events, and shows the agent's status between calls", async () => {
    stubFetch({});
    const stream = await cardOnItsStream();
    stream.emit("call.started", STARTED);
    stream.emit("transcript.chunk", { ...chunk(0, "customer", "Someone else's words"), call_id: "other-call" });
    stream.emit("call.ended", { ...ENDED, call_id: "other-call" });
    expect(screen.queryByText(/Someone else's words/)).toBeNull();
    expect(screen.getByTestId("call-line")).not.toHaveTextContent("ended");
    stream.emit("call.ended", ENDED);
    stream.emit("agent.status", { agent_id: IDS.agent, supervisor_id: IDS.supervisor, status: "idle" });
    expect(screen.getByTestId("agent-status")).toHaveTextContent("idle");
  });

  it("opened from the floor's reads, hears a hand-back made before it opened, and takes what they showed again in its stride", async () => {
    const held = liveCall({ taken_over_by: "admin-1", taken_over_by_name: "Sam" });
    stubFetch({
      [`/api/calls/${IDS.call}`]: {
        ...held, tool_requests: [],
        transcript: [{ seq: 0, speaker: "agent", text: "Hello, Orders here.", brain: "local", occurred_at: "2026-11-25T10:00:01Z" }],
      },
    });
    render(<AgentCard agent={agent({ status: "busy" })} activeCall={held} start={{ known: true, after: "41" }} />, { wrapper: OnTheFloor });
    expect(await screen.findByText("Hello, Orders here.")).toBeInTheDocument();
    const stream = await FakeEventSource.at(`/api/stream/agents/${IDS.agent}`);
    expect(stream.query.get("last_event_id")).toBe("41");
    // What the reads showed already, replayed: the call's start and its first line change nothing.
    stream.emit("call.started", STARTED);
    stream.emit("transcript.chunk", chunk(0, "agent", "Hello, Orders here.", "local"));
    expect(screen.getAllByText("Hello, Orders here.")).toHaveLength(1);
    expect(screen.getByText("Sam has this call: the agent is silent until handed back")).toBeInTheDocument();
    // The hand-back published between the reads and the stream's opening.
    stream.emit("call.handed_back", { ...ON_CALL, by: "admin-1", agent_name: "Orders" });
    expect(screen.getByRole("button", { name: "Take over" })).toBeInTheDocument();
  });

  it("waits for the floor's reads before opening", async () => {
    stubFetch({});
    const view = render(<AgentCard agent={agent()} activeCall={undefined} start={{ known: false, after: null }} />, { wrapper: OnTheFloor });
    await new Promise((settle) => setTimeout(settle, 20));
    expect(FakeEventSource.opened).toHaveLength(0);
    view.rerender(<AgentCard agent={agent()} activeCall={undefined} start={{ known: true, after: "7" }} />);
    expect((await FakeEventSource.at(`/api/stream/agents/${IDS.agent}`)).query.get("last_event_id")).toBe("7");
  });

  it("starts from the transcript so far when the dashboard opens mid-call", async () => {
    stubFetch({
      [`/api/calls/${IDS.call}`]: {
        ...liveCall(), tool_requests: [], brain: "local-minilm",
        transcript: [{ seq: 0, speaker: "agent", text: "Hello, Orders here.", brain: "local-minilm", occurred_at: "2026-11-25T10:00:01Z" }],
      },
    });
    render(<AgentCard agent={agent({ status: "busy" })} activeCall={liveCall()} />, { wrapper: OnTheFloor });
    expect(await screen.findByText("Hello, Orders here.")).toBeInTheDocument();
    expect(screen.getByTestId("call-line")).toHaveTextContent("answered by local engine (MiniLM)");
    const stream = await FakeEventSource.at(`/api/stream/agents/${IDS.agent}`);
    stream.emit("transcript.chunk", chunk(1, "customer", "Where is my order?"));
    expect(screen.getByText("Where is my order?")).toBeInTheDocument();
  });
});

describe("reduceCall", () => {
  const started = (callId: string): CardEvent => ({ type: "call.started", ...STARTED, call_id: callId });

  it("replaces the call shown when another starts, and leaves no call alone", () => {
    const first = reduceCall(null, started("c1"));
    const second = reduceCall(first, started("c2"));
    expect(second?.id).toBe("c2");
    expect(second?.lines).toEqual([]);
    expect(reduceCall(null, { type: "call.ended", ...ENDED })).toBeNull();
  });

  it("keeps what it knows of the call shown when that call's start comes again", () => {
    const taken = reduceCall(reduceCall(reduceCall(null, started("c1")), { type: "transcript.chunk", ...chunk(0, "agent", "Hello") }),
      { type: "call.taken_over", ...ON_CALL, by: "u1", by_name: "Dana" });
    expect(reduceCall(taken, started("c1"))).toBe(taken);
  });

  it("ends a whisper pause when the call is taken over: the person has it, the agent is silent", () => {
    const paused = reduceCall(reduceCall(null, started("c1")), { type: "whisper.ack", ...ON_CALL, stage: "paused", message: "paused" });
    const taken = reduceCall(paused, { type: "call.taken_over", ...ON_CALL, by: "u1", by_name: "Dana" });
    expect(taken?.whisper).toBe("none");
    expect(taken?.takenOverBy).toEqual({ id: "u1", name: "Dana" });
  });

  it("keeps the last direction of satisfaction when a score repeats", () => {
    let view = reduceCall(null, started("c1"));
    for (const score of [2, 4, 4]) view = reduceCall(view, { type: "satisfaction.score", ...satisfaction(score) });
    expect(view?.satisfactionTrend).toBe(2);
  });
});
