import { renderHook, waitFor } from "@testing-library/react";
import { useEffect } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StreamEvent } from "../api/types";
import { FakeEventSource, stubFetch } from "../test-helpers";
import { api } from "../api/client";
import { backoffMs, useEventStream, useStreamStart } from "./useEventStream";

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("reconnect back-off", () => {
  it("doubles from one second and stops at thirty", () => {
    const middle = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffMs(attempt, middle))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("spreads clients by up to 20% either way", () => {
    expect(backoffMs(2, () => 0)).toBe(3200);
    expect(backoffMs(2, () => 1)).toBe(4800);
  });
});

describe("useEventStream", () => {
  const TYPES = ["call.queued", "call.ended"] as const;

  it("opens the stream with a fresh token and hands over each event typed by its name", async () => {
    stubFetch({ "/api/stream-token": { token: "t-1", expires_in: 300 } });
    const seen: StreamEvent<(typeof TYPES)[number]>[] = [];
    const { result } = renderHook(() => useEventStream("/api/stream/supervisor", TYPES, (event) => seen.push(event)));
    const stream = await FakeEventSource.at("/api/stream/supervisor");
    expect(stream.query.get("token")).toBe("t-1");
    expect(result.current.state).toBe("connecting");
    stream.ready();
    expect(result.current.state).toBe("live");
    stream.emit("call.queued", { call_id: "c1", agent_id: "a1", supervisor_id: "s1", position: 2, reason: "agent_busy" });
    expect(seen).toEqual([{ type: "call.queued", call_id: "c1", agent_id: "a1", supervisor_id: "s1", position: 2, reason: "agent_busy" }]);
  });

  it("calls the latest handler without reconnecting", async () => {
    stubFetch({});
    const first = vi.fn();
    const second = vi.fn();
    const { rerender } = renderHook(({ onEvent }) => useEventStream("/api/stream/admin", TYPES, onEvent), { initialProps: { onEvent: first } });
    const stream = await FakeEventSource.at("/api/stream/admin");
    rerender({ onEvent: second });
    stream.emit("call.queued", { call_id: "c1", agent_id: "a1", supervisor_id: "s1", position: 1, reason: "agent_busy" });
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    expect(FakeEventSource.opened).toHaveLength(1);
  });

  it("reconnects after a drop and resumes after the last event it saw", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0); // the shortest wait: 0.8 s
    stubFetch({});
    const { result } = renderHook(() => useEventStream("/api/stream/supervisor", TYPES, () => undefined));
    const stream = await FakeEventSource.at("/api/stream/supervisor");
    stream.emit("call.queued", { call_id: "c1", agent_id: "a1", supervisor_id: "s1", position: 1, reason: "agent_busy" }, "41");
    stream.fail();
    expect(stream.closed).toBe(true);
    expect(result.current).toEqual({ state: "reconnecting", retryInSeconds: 1 });
    await waitFor(() => expect(FakeEventSource.opened).toHaveLength(2), { timeout: 3000 });
    expect(FakeEventSource.opened[1].query.get("last_event_id")).toBe("41");
  });

  it("stays closed without a path, and closes on unmount", async () => {
    stubFetch({});
    const { rerender, unmount } = renderHook(({ path }) => useEventStream(path, TYPES, () => undefined), {
      initialProps: { path: null as string | null },
    });
    await new Promise((settle) => setTimeout(settle, 20));
    expect(FakeEventSource.opened).toHaveLength(0);
    rerender({ path: "/api/calls/c1/stream" });
    const stream = await FakeEventSource.at("/api/calls/c1/stream");
    unmount();
    expect(stream.closed).toBe(true);
  });
});

describe("a stream that follows a view's reads", () => {
  const TYPES = ["call.handed_back"] as const;
  const HANDED_BACK = { call_id: "c1", agent_id: "a1", supervisor_id: "s1", by: "admin-1", agent_name: "Orders" };

  /** A view built from the live calls and the agents (and a read that fails), following the admin stream. */
  function view(onEvent: (event: StreamEvent<(typeof TYPES)[number]>) => void = () => undefined) {
    return renderHook(() => {
      const start = useStreamStart();
      const { read } = start;
      useEffect(() => {
        for (const pending of [read(api.GET("/api/calls")), read(api.GET("/api/agents")), read(api.GET("/api/notifications"))]) {
          pending.catch(() => undefined);
        }
      }, [read]);
      return { start, stream: useEventStream("/api/stream/admin", TYPES, onEvent, { start }) };
    });
  }

  it("opens once every read has answered, just after the earliest event they reflect", async () => {
    stubFetch({ "/api/calls": [200, [], { "X-Last-Event-ID": "41" }], "/api/agents": [200, [], { "X-Last-Event-ID": "37" }] });
    const seen: string[] = [];
    const { result } = view((event) => seen.push(event.type));
    const stream = await FakeEventSource.at("/api/stream/admin");
    expect(result.current.start).toMatchObject({ known: true, after: "37" });
    expect(FakeEventSource.opened).toHaveLength(1); // never from now first
    expect(stream.query.get("last_event_id")).toBe("37");
    expect(result.current.stream.state).toBe("connecting");
    stream.open(); // from a position the gateway sends no ready event: its answer is enough
    expect(result.current.stream.state).toBe("live");
    stream.emit("call.handed_back", HANDED_BACK, "38"); // published between the reads and the stream
    expect(seen).toEqual(["call.handed_back"]);
  });

  it("resumes from the reads' position after a drop before any event came", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    stubFetch({ "/api/calls": [200, [], { "X-Last-Event-ID": "41" }], "/api/agents": [200, [], { "X-Last-Event-ID": "37" }] });
    view();
    const stream = await FakeEventSource.at("/api/stream/admin");
    stream.fail();
    await waitFor(() => expect(FakeEventSource.opened).toHaveLength(2), { timeout: 3000 });
    expect(FakeEventSource.opened[1].query.get("last_event_id")).toBe("37");
  });

  it("opens from now when no read says where it stood", async () => {
    stubFetch({ "/api/calls": [], "/api/agents": [] });
    const { result } = view();
    const stream = await FakeEventSource.at("/api/stream/admin");
    expect(result.current.start).toMatchObject({ known: true, after: null });
    expect(stream.query.has("last_event_id")).toBe(false);
    stream.open();
    expect(result.current.stream.state).toBe("connecting"); // from now: live once the gateway reads the bus
    stream.ready();
    expect(result.current.stream.state).toBe("live");
  });
});
