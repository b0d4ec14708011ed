import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventSource, renderAt, sentTo, signedInAs, stubFetch } from "../../test-helpers";
import { agent, archiveDetail, archiveItem } from "../../test-fixtures";
import { ArchiveBrowser } from "./ArchiveBrowser";
import { ArchiveCall } from "./ArchiveCall";

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
  vi.stubGlobal("ResizeObserver", class { observe() {} unobserve() {} disconnect() {} });
});
afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

const page = (fields: object = {}) => ({ items: [archiveItem()], total: 1, page: 1, page_size: 20, ...fields });

function browser(role: "admin" | "supervisor", archive: unknown = page()) {
  signedInAs(role);
  const requests = stubFetch({ "/api/agents": [agent()], "/api/archive": archive });
  renderAt("/supervisor/archive", <ArchiveBrowser />);
  return requests;
}

describe("the archive browser", () => {
  it("lists archived calls with their summary, tags and figures, linked to each call", async () => {
    browser("supervisor");
    expect(await screen.findByText("1 calls")).toHaveAttribute("role", "status");
    const link = screen.getByRole("link", { name: /Orders · jo@example.com/ });
    expect(link).toHaveAttribute("href", "/supervisor/archive/c1");
    const item = link.closest("li")!;
    expect(item).toHaveTextContent("Refunded a damaged order.");
    expect(item).toHaveTextContent("refund CSAT 4.0 · FCR yes · 4:00");
  });

  it("searches with the filters filled in, whole days, and leaves out the rest", async () => {
    browser("supervisor");
    await screen.findByRole("option", { name: "Orders" });
    const form = screen.getByRole("form", { name: "Search the archive" });
    await userEvent.type(within(form).getByLabelText("Words"), "broken");
    await userEvent.selectOptions(within(form).getByLabelText("Agent"), "Orders");
    await userEvent.selectOptions(within(form).getByLabelText("Sentiment"), "negative");
    await userEvent.type(within(form).getByLabelText("From"), "2026-11-01");
    await userEvent.click(within(form).getByRole("button", { name: "Search" }));
    await waitFor(() => expect(sentTo("/api/archive")).toHaveLength(2));
    expect(Object.fromEntries(sentTo("/api/archive")[1].query)).toEqual({
      q: "broken", agent_id: "a1", sentiment: "negative", from: "2026-11-01T00:00:00Z", page: "1", page_size: "20",
    });
  });

  it("pages through the results", async () => {
    browser("supervisor", page({ total: 45 }));
    expect(await screen.findByText("Page 1 of 3")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Previous" })).toBeDisabled();
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(screen.getByText("Page 2 of 3")).toBeInTheDocument();
    await waitFor(() => expect(sentTo("/api/archive").at(-1)?.query.get("page")).toBe("2"));
  });

  it("says a count is a lower bound when the server only knows that many", async () => {
    browser("supervisor", page({ total: 1000, total_is_lower_bound: true }));
    expect(await screen.findByText("1000+ calls")).toBeInTheDocument();
  });

  it("shows a newly archived call without a reload: the admin's archive.saved", async () => {
    browser("admin");
    const stream = await FakeEventSource.at("/api/stream/admin");
    await waitFor(() => expect(sentTo("/api/archive")).toHaveLength(1));
    stream.emit("archive.saved", {
      call_id: "c9", agent_id: "a1", supervisor_id: "s1", agent_name: "Orders", fcr: true, handle_seconds: 60, resolved: true,
      started_at: "2026-11-25T11:00:00Z", summary: "Tracked a parcel", summary_source: "local", tags: [],
    });
    await waitFor(() => expect(sentTo("/api/archive")).toHaveLength(2));
  });

  it("... and the supervisor's call-ended notification, not any other", async () => {
    browser("supervisor");
    const stream = await FakeEventSource.at("/api/stream/supervisor");
    await waitFor(() => expect(sentTo("/api/archive")).toHaveLength(1));
    const note = { supervisor_id: "s1", notification_id: "n1", title: "Queue building", kind: "queue_building" as const };
    stream.emit("notification.created", note);
    stream.emit("notification.created", { ...note, notification_id: "n2", title: "Call ended", kind: "call_ended" });
    await waitFor(() => expect(sentTo("/api/archive")).toHaveLength(2));
    await new Promise((settle) => setTimeout(settle, 50));
    expect(sentTo("/api/archive")).toHaveLength(2);
  });

  it("shows why the search failed", async () => {
    browser("supervisor", [422, { error: "invalid_request", message: "Invalid request: from: Input should be a valid datetime" }]);
    expect(await screen.findByRole("alert")).toHaveTextContent("Input should be a valid datetime");
  });
});

describe("an archived call", () => {
  function call(answer: unknown) {
    signedInAs("supervisor");
    stubFetch({ "/api/archive/c1": answer });
    renderAt("/supervisor/archive/c1", <Routes><Route path="/supervisor/archive/:callId" element={<ArchiveCall />} /></Routes>);
  }

  it("shows its summary, figures, sentiment timeline, tool decisions and transcript", async () => {
    call(archiveDetail({ brain: "gemini", csat: null, fcr: false }));
    expect(await screen.findByRole("heading", { name: "Orders · jo@example.com" })).toBeInTheDocument();
    expect(screen.getByTestId("summary")).toHaveTextContent("Refunded a damaged order.");
    expect(screen.getByTestId("brain")).toHaveTextContent("Gemini");
    const facts = screen.getByRole("region", { name: "Summary" });
    expect(facts).toHaveTextContent("CSAT–FCRnoResolvedyes");
    expect(screen.getByRole("figure", { name: "Customer sentiment during the call" })).toBeInTheDocument();
    expect(screen.getByRole("region", { name: "Tool decisions" })).toHaveTextContent('refund_order {"order_id":"ORD-1042"} — executed (ok)');
    const lines = within(screen.getByRole("region", { name: "Transcript" })).getAllByText(/:/).map((b) => b.parentElement?.textContent);
    expect(lines).toEqual(["agent: Hello, Orders here.", "customer: My parcel arrived broken."]);
  });

  it("says so when nothing was recorded", async () => {
    call(archiveDetail({ sentiment_timeline: [], tool_requests: [] }));
    expect(await screen.findByText("No sentiment was recorded.")).toBeInTheDocument();
    expect(screen.getByText("No tools were used.")).toBeInTheDocument();
  });

  it("shows the gateway's reason when the call cannot be read", async () => {
    call([404, { error: "not_found", message: "archived call not found" }]);
    expect(await screen.findByRole("alert")).toHaveTextContent("archived call not found");
  });
});
