import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderAt, SilentEventSource, stubFetch } from "../../test-helpers";
import { SupervisorDashboard } from "./SupervisorDashboard";

const REQUEST = {
  id: "r1", call_id: "c1", agent_id: "a1", tool_name: "refund_order", arguments: { order_id: "ORD-1042" },
  reason: "damaged", requires_approval: true, status: "pending", requested_at: "2026-11-25T10:00:00Z",
  expires_at: new Date(Date.now() + 60_000).toISOString(), decided_at: null, decided_by: null, note: "",
  result: null, error: null,
};

beforeEach(() => vi.stubGlobal("EventSource", SilentEventSource));
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
    dashboardWith([409, { code: "already_decided", message: "too late: this request has already timed out (denied)" }]);
    await userEvent.click(await screen.findByRole("button", { name: "Deny" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("too late");
    expect(screen.queryByRole("group", { name: "Tool request refund_order" })).not.toBeInTheDocument();
  });

  it("keep the request when the decision could not be sent", async () => {
    dashboardWith([503, { code: "unavailable", message: "the bus is restarting; try again" }]);
    await userEvent.click(await screen.findByRole("button", { name: "Allow" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("try again");
    expect(screen.getByRole("group", { name: "Tool request refund_order" })).toBeInTheDocument();
  });
});
