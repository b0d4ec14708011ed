import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConnectionBadge } from "./ConnectionBadge";
import { Countdown } from "./Countdown";
import { duration, percent } from "./format";
import { PlatformStatus } from "./PlatformStatus";
import { stubFetch } from "../test-helpers";

afterEach(() => vi.useRealTimers());

describe("ConnectionBadge", () => {
  it("says when it will try again", () => {
    render(<ConnectionBadge status={{ state: "reconnecting", retryInSeconds: 4 }} label="Notifications" />);
    expect(screen.getByRole("status", { name: "Notifications: Reconnecting in 4 s" })).toBeInTheDocument();
  });

  it("shows a live stream as live", () => {
    render(<ConnectionBadge status={{ state: "live", retryInSeconds: null }} />);
    expect(screen.getByRole("status")).toHaveTextContent("Live");
  });
});

describe("Countdown", () => {
  it("counts down to the deadline and turns urgent, then expired", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-25T10:00:00Z"));
    render(<Countdown until="2026-11-25T10:00:12Z" />);
    expect(screen.getByText("12 s left")).not.toHaveClass("urgent");
    act(() => vi.advanceTimersByTime(3000));
    expect(screen.getByText("9 s left")).toHaveClass("urgent");
    act(() => vi.advanceTimersByTime(10_000));
    expect(screen.getByText("expired")).toBeInTheDocument();
  });
});

describe("formatting", () => {
  it("shows missing figures as a dash", () => {
    expect([percent(null), percent(0.684), duration(307), duration(undefined)]).toEqual(["–", "68%", "5:07", "–"]);
  });
});

describe("PlatformStatus", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows a degraded platform and which service is down", async () => {
    stubFetch({
      "/health": [503, {
        status: "degraded", database: "connected", nats: "connected", livekit: "not configured (chat only)",
        ai_services: { gemini: "offline default (local dialogue engine)", groq: "configured" },
        services: {
          "agent-worker": { status: "up", last_seen: "2026-11-25T10:00:00Z", brain: "local-minilm", livekit_rooms: "not configured (chat only)" },
          sentiment: { status: "down", last_seen: null },
        },
      }],
      "/api/admin/dead-letters": {
        by_consumer: { postprocess: 2 },
        items: [{ sequence: 7, consumer: "postprocess", original_subject: "call.ended.s.a.c", reason: "invalid event: bad json",
                  payload: "{", deliveries: 1, received_at: "2026-11-25T10:00:00Z" }],
      },
    });
    render(<PlatformStatus />);
    expect(await screen.findByText("Degraded")).toBeInTheDocument();
    const rows = screen.getAllByRole("row");
    expect(rows[1]).toHaveTextContent("agent-worker");
    expect(rows[1]).toHaveTextContent("brain: local-minilm");
    expect(rows[2]).toHaveTextContent(/sentiment\s*down/);
    expect(screen.getByText(/groq: configured/)).toBeInTheDocument();
    expect(await screen.findByTestId("dead-letter-count")).toHaveTextContent("2 in the last 30 days (postprocess: 2)");
    expect(screen.getByRole("table", { name: "Newest dead letters" })).toHaveTextContent("invalid event: bad json");
  });

  it("replays a dead letter and says where it went, or why not", async () => {
    const letter = { sequence: 7, consumer: "postprocess", original_subject: "call.ended.s.a.c", reason: "handler failed 5 times",
                     payload: "{}", deliveries: 5, received_at: "2026-11-25T10:00:00Z" };
    stubFetch({
      "/health": { status: "healthy", database: "connected", nats: "connected", livekit: "x", ai_services: {}, services: {} },
      "/api/admin/dead-letters": { by_consumer: { postprocess: 1 }, items: [letter] },
      "/api/admin/dead-letters/7/replay": [202, { consumer: "postprocess", subject: "call.ended.s.a.c", event_id: "e" }],
    });
    render(<PlatformStatus />);
    await userEvent.click(await screen.findByRole("button", { name: "Replay" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Letter 7 sent again to postprocess.");
  });

  it("says so when the gateway cannot be reached", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    render(<PlatformStatus />);
    expect(await screen.findByText(/health cannot be read/)).toHaveAttribute("role", "alert");
  });
});
