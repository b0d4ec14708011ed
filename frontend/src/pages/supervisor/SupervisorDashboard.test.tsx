import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Agent, LiveCall } from "../../api/types";
import { FakeRoom, livekitFake } from "../../live/livekitFake";
import { FakeEventSource, OnTheFloor, renderAt, signedInAs, stubFetch } from "../../test-helpers";
import { AgentCard } from "./AgentCard";
import { SupervisorDashboard } from "./SupervisorDashboard";

vi.mock("livekit-client", async (original) => ({ ...(await original<object>()), ...(await import("../../live/livekitFake")).livekitFake }));

const REQUEST = {
  id: "r1", call_id: "c1", agent_id: "a1", tool_name: "refund_order", arguments: { order_id: "ORD-1042" },
  reason: "damaged", requires_approval: true, status: "pending", requested_at: "2026-11-25T10:00:00Z",
  expires_at: new Date(Date.now() + 60_000).toISOString(), decided_at: null, decided_by: null, note: "",
  result: null, error: null,
};

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
});
afterEach(() => vi.unstubAllGlobals());

function dashboardWith(decision: unknown) {
  stubFetch({
    "/api/agents": [], "/api/calls": [], "/api/notifications": [], "/api/tool-requests": [REQUEST],
    "/api/tool-requests/r1/decision": decision,
  });
  renderAt("/supervisor", <SupervisorDashboard />);
}

describe("tool requests on the supervisor dashboard", () => {
  it("show a countdown, and go once decided", async () => {
    dashboardWith({ ...REQUEST, status: "allowed" });
    const request = await screen.findByRole("group", { name: "Tool request refund_order" });
    expect(within(request).getByText(/s left/)).toBeInTheDocument();
    await userEvent.click(within(request).getByRole("button", { name: "Allow" }));
    expect(screen.queryByRole("group", { name: "Tool request refund_order" })).not.toBeInTheDocument();
  });

  it("explain a decision that came too late, and drop the request", async () => {
    dashboardWith([409, { error: "already_decided", message: "too late: this request has already timed out (denied)" }]);
    await userEvent.click(await screen.findByRole("button", { name: "Deny" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("too late");
    expect(screen.queryByRole("group", { name: "Tool request refund_order" })).not.toBeInTheDocument();
  });

  it("keep the request when the decision could not be sent", async () => {
    dashboardWith([503, { error: "unavailable", message: "the bus is restarting; try again" }]);
    await userEvent.click(await screen.findByRole("button", { name: "Allow" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("try again");
    expect(screen.getByRole("group", { name: "Tool request refund_order" })).toBeInTheDocument();
  });
});

describe("the supervisor dashboard's stream", () => {
  const ON_CALL = { call_id: "c1", agent_id: "a1", supervisor_id: "s1" };

  async function dashboardOnItsStream() {
    const requests = stubFetch({ "/api/agents": [], "/api/calls": [], "/api/notifications": [], "/api/tool-requests": [] });
    renderAt("/supervisor", <SupervisorDashboard />);
    return { requests, stream: await FakeEventSource.at("/api/stream/supervisor") };
  }

  it("opens its stream and each agent card's just after the earliest event its reads reflect", async () => {
    const at = (position: string, body: unknown) => [200, body, { "X-Last-Event-ID": position }];
    stubFetch({
      "/api/agents": at("64", [{ id: "a1", name: "Orders", phone_number: "+1-555-0101", status: "idle" }]), "/api/calls": at("61", []),
      "/api/notifications": at("63", []), "/api/tool-requests": at("62", []),
    });
    renderAt("/supervisor", <SupervisorDashboard />);
    for (const path of ["/api/stream/supervisor", "/api/stream/agents/a1"]) {
      expect((await FakeEventSource.at(path)).query.get("last_event_id")).toBe("61");
    }
    expect(FakeEventSource.opened).toHaveLength(2);
  });

  it("adds a tool request as it arrives, and drops it once decided elsewhere", async () => {
    const { stream } = await dashboardOnItsStream();
    stream.emit("tool.permission.request", {
      ...ON_CALL, request_id: "r2", tool_name: "cancel_order", arguments: { order_id: "ORD-7" }, reason: "changed mind",
      expires_at: new Date(Date.now() + 30_000).toISOString(),
    });
    const request = screen.getByRole("group", { name: "Tool request cancel_order" });
    expect(request).toHaveTextContent('{"order_id":"ORD-7"}');
    expect(request).toHaveTextContent("changed mind");
    stream.emit("tool.permission.decision", { ...ON_CALL, request_id: "r2", allowed: false, decided_by: "timeout" });
    expect(screen.queryByRole("group", { name: "Tool request cancel_order" })).toBeNull();
  });

  it("shows a notification once, newest first", async () => {
    const { stream } = await dashboardOnItsStream();
    const note = { supervisor_id: "s1", notification_id: "n1", kind: "queue_building" as const, title: "Queue building", body: "3 waiting" };
    stream.emit("notification.created", note);
    stream.emit("notification.created", note); // replayed after a reconnect
    stream.emit("notification.created", { ...note, notification_id: "n2", kind: "call_ended", title: "Call ended", body: "" });
    const notes = screen.getAllByRole("listitem").map((item) => item.querySelector("strong")?.textContent);
    expect(notes).toEqual(["Call ended", "Queue building"]);
  });

  it("shows the floor's counters, and reloads the calls when one starts", async () => {
    const { requests, stream } = await dashboardOnItsStream();
    stream.emit("analytics.counters", {
      supervisor_id: "s1", active_calls: 4, queued_calls: 2, agents_total: 5, agents_busy: 4, longest_wait_seconds: 41.6,
    });
    const floor = screen.getByRole("region", { name: "Floor now" });
    expect(floor).toHaveTextContent("Live calls4");
    expect(floor).toHaveTextContent("Queued2");
    expect(floor).toHaveTextContent("Longest wait42 s");
    const before = requests.filter((path) => path === "/api/calls").length;
    stream.emit("call.started", { ...ON_CALL, agent_name: "Orders", caller: "jo@example.com", channel: "chat" });
    await waitFor(() => expect(requests.filter((path) => path === "/api/calls").length).toBe(before + 1));
  });
});

describe("Listen on an agent card", () => {
  const agent = { id: "a1", name: "Orders", phone_number: "+1-555-0101", status: "busy" } as Agent;
  const liveCall = (channel: string) =>
    ({ id: "c1", agent_id: "a1", agent_name: "Orders", channel, caller: "jo@example.com", status: "active", brain: null } as LiveCall);
  const join = { url: "ws://rooms.test", room: "call-c1", token: "listen-token" };

  beforeEach(() => FakeRoom.reset());

  it("is offered for a live voice call only", () => {
    stubFetch({});
    const view = render(<AgentCard agent={agent} activeCall={liveCall("chat")} />, { wrapper: OnTheFloor });
    expect(screen.queryByRole("button", { name: "Listen" })).toBeNull();
    view.rerender(<AgentCard agent={agent} activeCall={{ ...liveCall("voice"), id: "c2" }} />);
    expect(screen.getByRole("button", { name: "Listen" })).toBeInTheDocument();
  });

  it("joins the room without a microphone, plays it, and stops", async () => {
    const requests = stubFetch({ "/api/calls/c1/listen": join });
    render(<AgentCard agent={agent} activeCall={liveCall("voice")} />, { wrapper: OnTheFloor });
    await userEvent.click(screen.getByRole("button", { name: "Listen" }));
    expect(await screen.findByTestId("voice-state")).toHaveTextContent("Audio connected");
    const room = FakeRoom.last();
    expect(requests).toContain("/api/calls/c1/listen");
    expect(room.startAudio).toHaveBeenCalled();
    expect(room.connect).toHaveBeenCalledWith(join.url, join.token);
    expect(livekitFake.createLocalAudioTrack).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Stop listening" }));
    expect(room.disconnect).toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Listen" })).toBeInTheDocument();
  });

  it("shows why listening was refused", async () => {
    stubFetch({ "/api/calls/c1/listen": [409, { message: "the call is ended; only a live voice call can be listened to" }] });
    render(<AgentCard agent={agent} activeCall={liveCall("voice")} />, { wrapper: OnTheFloor });
    await userEvent.click(screen.getByRole("button", { name: "Listen" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("only a live voice call can be listened to");
    expect(FakeRoom.last().connect).not.toHaveBeenCalled();
  });
});

describe("Take over on a customer's request for a person", () => {
  const agent = { id: "a1", name: "Orders", phone_number: "+1-555-0101", status: "busy" } as Agent;
  const call = (channel: string) =>
    ({ id: "c1", agent_id: "a1", agent_name: "Orders", channel, caller: "jo@example.com", status: "active", brain: null, taken_over_by: null } as LiveCall);
  const asked = {
    id: "n1", supervisor_id: "s1", call_id: "c1", kind: "human_requested", title: "jo@example.com asks for a person", body: "",
    data: { takeover_path: "/api/calls/c1/takeover" }, created_at: "2026-11-25T10:00:00Z", read_at: null,
  };
  const ON_CALL = { call_id: "c1", agent_id: "a1", supervisor_id: "s1" };

  beforeEach(() => {
    FakeRoom.reset();
    livekitFake.createLocalAudioTrack.mockClear();
    signedInAs("supervisor"); // user u1
  });
  afterEach(() => localStorage.clear());

  async function takeOverFromTheNotification(channel: string, livekit: unknown) {
    stubFetch({
      "/api/agents": [agent], "/api/calls": [call(channel)], "/api/notifications": [asked], "/api/tool-requests": [],
      "/api/calls/c1": { ...call(channel), transcript: [], tool_requests: [] },
      "/api/calls/c1/takeover": { call_id: "c1", taken_over_by: "u1", name: "Dana", livekit },
    });
    renderAt("/supervisor", <SupervisorDashboard />);
    const notes = await screen.findByRole("list");
    await userEvent.click(await within(notes).findByRole("button", { name: "Take over" }));
    expect(await within(notes).findByText("You have this call: write on its agent card")).toBeInTheDocument();
    // The agent's stream says who took it over; the card then has the composer.
    const stream = await FakeEventSource.at("/api/stream/agents/a1");
    stream.emit("call.taken_over", { ...ON_CALL, by: "u1", by_name: "Dana" });
    const card = screen.getByRole("article", { name: "Agent Orders" });
    expect(within(card).getByText("You have this call: the agent is silent until you hand it back")).toBeInTheDocument();
    expect(within(card).getByLabelText("Message to the customer")).toBeInTheDocument();
    return card;
  }

  it("joins a voice call's room with the microphone, as the agent card does", async () => {
    const join = { url: "ws://rooms.test", room: "call-c1", token: "speak-token" };
    const card = await takeOverFromTheNotification("voice", join);
    const room = FakeRoom.last();
    expect(room.connect).toHaveBeenCalledWith(join.url, join.token);
    expect(livekitFake.createLocalAudioTrack).toHaveBeenCalled();
    expect(room.localParticipant.publishTrack).toHaveBeenCalled();
    expect(await within(card).findByTestId("voice-state")).toHaveTextContent("Audio connected");
  });

  it("opens no room for a chat call: the card's composer is the way to the customer", async () => {
    await takeOverFromTheNotification("chat", null);
    expect(FakeRoom.made).toEqual([]);
    expect(screen.queryByTestId("voice-state")).toBeNull();
  });
});
