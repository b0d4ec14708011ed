import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventSource, renderAt, sentTo, signedInAs, stubFetch } from "../../test-helpers";
import { kpis, liveCall, supervisorCard } from "../../test-fixtures";
import { AdminDashboard } from "./AdminDashboard";

const FLOOR = { supervisor_id: "s1", active_calls: 1, queued_calls: 0, agents_total: 3, agents_busy: 1, longest_wait_seconds: 0 };
const ON_CALL = { agent_id: "a1", supervisor_id: "s1" };

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
  // recharts' ResponsiveContainer watches its size; jsdom has no ResizeObserver.
  vi.stubGlobal("ResizeObserver", class { observe() {} unobserve() {} disconnect() {} });
});
afterEach(() => vi.unstubAllGlobals());

function dashboard(routes: Record<string, unknown> = {}) {
  const requests = stubFetch({
    "/api/calls": [],
    "/api/admin/overview": { live_calls: 1, queued_calls: 0, supervisors: [supervisorCard(), supervisorCard({ id: "s2", email: "lee@demo.local", full_name: "", active: false })] },
    "/api/analytics/live": { active_calls: 1, queued_calls: 0, agents_busy: 1, agents_total: 3, supervisors: [FLOOR] },
    "/api/analytics/kpis": { scope: "overall", id: null, from: "2026-11-01", to: "2026-11-30", kpis: kpis(), breakdown: [] },
    "/api/analytics/leaderboard": {
      by: "supervisor", from: "2026-11-01", to: "2026-11-30",
      entries: [{ id: "s1", name: "Dana", rank: 1, kpis: kpis({ performance_score: 90.2 }) }, { id: "s2", name: "Lee", rank: 2, kpis: kpis({ calls: 3 }) }],
    },
    "/api/analytics/timeseries": { scope: "overall", id: null, from: "2026-11-01", to: "2026-11-30", bucket: "day", points: [{ start: "2026-11-01", kpis: kpis() }] },
    "/api/admin/dead-letters": { by_consumer: {}, items: [] },
    "/health": { status: "healthy", database: "connected", nats: "connected", livekit: "configured", ai_services: {}, services: {} },
    ...routes,
  });
  renderAt("/admin", <AdminDashboard />);
  return requests;
}

describe("the admin dashboard", () => {
  it("shows each supervisor's card, the KPIs and the leaderboard", async () => {
    dashboard();
    const dana = await screen.findByRole("article", { name: "Supervisor Dana" });
    expect(await within(dana).findByText("1 busy / 3")).toBeInTheDocument();
    expect(dana).toHaveTextContent("CSAT today4.5");
    expect(dana).toHaveTextContent("FCR today80%");
    expect(dana).toHaveTextContent("AHT today3:20");
    const lee = screen.getByRole("article", { name: "Supervisor lee@demo.local" });
    expect(lee).toHaveTextContent("Deactivated");
    const kpiSection = screen.getByRole("region", { name: "KPIs" });
    expect(await within(kpiSection).findByText("75%")).toBeInTheDocument();
    expect(kpiSection).toHaveTextContent("CSAT4.20");
    expect(kpiSection).toHaveTextContent("AHT3:05");
    const rows = within(screen.getByRole("region", { name: "Leaderboard" })).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.textContent)).toEqual(["1Dana90.21275%4.203:05", "2Lee81.5375%4.203:05"]);
  });

  it("asks for the KPIs of the range chosen", async () => {
    dashboard();
    await screen.findByRole("article", { name: "Supervisor Dana" });
    const from = screen.getByLabelText("From");
    await userEvent.clear(from);
    await userEvent.type(from, "2026-10-01");
    await waitFor(() => expect(sentTo("/api/analytics/kpis").at(-1)?.query.get("from")).toBe("2026-10-01"));
    for (const path of ["/api/analytics/leaderboard", "/api/analytics/timeseries"]) {
      expect(sentTo(path).at(-1)?.query.get("from")).toBe("2026-10-01");
      expect(sentTo(path).at(-1)?.query.get("to")).toMatch(/^\d{4}-\d\d-\d\d$/);
    }
  });

  it("keeps the live totals and each card's live sentiment from the stream", async () => {
    dashboard();
    await screen.findByRole("article", { name: "Supervisor Dana" });
    const stream = await FakeEventSource.at("/api/stream/admin");
    expect(screen.getByTestId("total-live")).toHaveTextContent("1");
    stream.emit("analytics.counters", { ...FLOOR, active_calls: 3, queued_calls: 2, agents_busy: 3 });
    stream.emit("analytics.counters", { ...FLOOR, supervisor_id: "s2", active_calls: 1 });
    expect(screen.getByTestId("total-live")).toHaveTextContent("4");
    const dana = screen.getByRole("article", { name: "Supervisor Dana" });
    expect(dana).toHaveTextContent("Agents3 busy / 3");
    expect(dana).toHaveTextContent("Queued2");

    const mood = (callId: string, score: number) => ({ ...ON_CALL, call_id: callId, score, label: "neutral" as const, trend: 0, model: "lexicon", utterances: 1 });
    stream.emit("sentiment.score", mood("c1", -0.6));
    stream.emit("sentiment.score", mood("c2", -0.2));
    expect(dana).toHaveTextContent("Live sentiment-0.40");
    expect(within(dana).getByText("-0.40")).toHaveClass("neg");
    stream.emit("call.ended", {
      ...ON_CALL, call_id: "c1", caller: "jo", channel: "chat", duration_seconds: 30, started_at: "2026-11-25T10:00:00Z",
      ended_at: "2026-11-25T10:00:30Z", ended_by: "agent", reason: "agent_resolved",
    });
    expect(dana).toHaveTextContent("Live sentiment-0.20");
  });

  it("refreshes today's figures once a burst of archived calls settles", async () => {
    const requests = dashboard();
    await screen.findByRole("article", { name: "Supervisor Dana" });
    const stream = await FakeEventSource.at("/api/stream/admin");
    const overviews = () => requests.filter((path) => path === "/api/admin/overview").length;
    const before = overviews();
    const saved = {
      ...ON_CALL, call_id: "c1", agent_name: "Orders", fcr: true, handle_seconds: 60, resolved: true, started_at: "2026-11-25T10:00:00Z",
      summary: "Refund", summary_source: "local", tags: [],
    };
    stream.emit("archive.saved", saved);
    stream.emit("archive.saved", { ...saved, call_id: "c2" });
    await waitFor(() => expect(overviews()).toBe(before + 1), { timeout: 3000 });
    await new Promise((settle) => setTimeout(settle, 200));
    expect(overviews()).toBe(before + 1);
  });
});

describe("the admin dashboard's calls taken over", () => {
  // Dana's call, taken over by her colleague Sam.
  const samHasIt = liveCall({ taken_over_by: "sam-1", taken_over_by_name: "Sam" });
  const section = () => screen.getByRole("region", { name: "Calls taken over" });
  afterEach(() => {
    vi.restoreAllMocks();
    localStorage.clear();
  });

  it("asks the gateway for the calls taken over only", async () => {
    dashboard({ "/api/calls": [samHasIt] });
    await within(section()).findByRole("listitem", { name: "Taken over: Orders with jo@example.com" });
    expect(sentTo("/api/calls").map((request) => request.query.get("taken_over"))).toEqual(["true"]);
  });

  it("names who has each call and hands one back to its agent once the admin confirms", async () => {
    dashboard({ "/api/calls": [samHasIt], [`/api/calls/${samHasIt.id}/handback`]: [202, { event_id: "e1" }] });
    const call = await within(section()).findByRole("listitem", { name: "Taken over: Orders with jo@example.com" });
    expect(call).toHaveTextContent("Sam has this call");
    expect(await within(call).findByText("Orders · jo@example.com · chat · Dana's floor")).toBeInTheDocument();

    const confirm = vi.spyOn(window, "confirm").mockReturnValue(false);
    await userEvent.click(within(call).getByRole("button", { name: "Hand back" }));
    expect(confirm).toHaveBeenCalledWith("Hand this call back to Orders? Sam is handling it and will lose it.");
    expect(sentTo(`/api/calls/${samHasIt.id}/handback`)).toEqual([]);

    confirm.mockReturnValue(true);
    await userEvent.click(within(call).getByRole("button", { name: "Hand back" }));
    expect(await within(section()).findByText("None: every live call is with its agent.")).toBeInTheDocument();
    expect(sentTo(`/api/calls/${samHasIt.id}/handback`, "POST")[0]?.body).toEqual({ instructions: null });
  });

  it("hands back the admin's own call without asking, and shows a refusal", async () => {
    signedInAs("admin"); // user u1
    dashboard({
      "/api/calls": [liveCall({ taken_over_by: "u1", taken_over_by_name: "Ada Admin" })],
      [`/api/calls/${samHasIt.id}/handback`]: [409, { error: "already_handled", message: "the call is not taken over: the agent has it" }],
    });
    const call = await within(section()).findByRole("listitem", { name: "Taken over: Orders with jo@example.com" });
    expect(call).toHaveTextContent("You have this call");
    const confirm = vi.spyOn(window, "confirm");
    await userEvent.click(within(call).getByRole("button", { name: "Hand back" }));
    expect(await within(call).findByRole("alert")).toHaveTextContent("the call is not taken over: the agent has it");
    expect(confirm).not.toHaveBeenCalled();
  });

  it("follows take-overs, hand-backs and ends from the stream, from where its reads stood", async () => {
    dashboard({
      "/api/calls": [200, [], { "X-Last-Event-ID": "52" }],
      "/api/admin/overview": [200, { live_calls: 0, queued_calls: 0, supervisors: [supervisorCard()] }, { "X-Last-Event-ID": "50" }],
    });
    await screen.findByText("None: every live call is with its agent.");
    const stream = await FakeEventSource.at("/api/stream/admin");
    expect(stream.query.get("last_event_id")).toBe("50");
    stubFetch({ "/api/calls": [samHasIt] }); // the list once Sam took the call over
    stream.emit("call.taken_over", { ...ON_CALL, call_id: samHasIt.id, by: "sam-1", by_name: "Sam" });
    expect(await within(section()).findByText("Sam has this call")).toBeInTheDocument();
    expect(sentTo()).toHaveLength(1);
    stream.emit("call.ended", {
      ...ON_CALL, call_id: samHasIt.id, caller: "jo", channel: "chat", duration_seconds: 30, started_at: "2026-11-25T10:00:00Z",
      ended_at: "2026-11-25T10:00:30Z", ended_by: "customer", reason: "customer_hangup",
    });
    expect(within(section()).getByText("None: every live call is with its agent.")).toBeInTheDocument();
  });
});
