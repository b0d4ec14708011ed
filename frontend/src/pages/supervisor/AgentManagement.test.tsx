import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CatalogTool } from "../../api/types";
import { renderAt, sentTo, stubFetch } from "../../test-helpers";
import { agent } from "../../test-fixtures";
import { AgentManagement } from "./AgentManagement";

const CATALOG: CatalogTool[] = [
  { name: "refund_order", description: "Refund an order", approval_suggested: true },
  { name: "track_order", description: "Where an order is", approval_suggested: false },
];
const BILLING = agent({ id: "a2", name: "Billing", phone_number: "+1-555-0102", tools: [], knowledge: [], tag_taxonomy: [] });

afterEach(() => vi.unstubAllGlobals());

function page(routes: Record<string, unknown> = {}) {
  const requests = stubFetch({ "/api/agents": [agent(), BILLING], "/api/tool-catalog": CATALOG, ...routes });
  renderAt("/supervisor/agents", <AgentManagement />);
  return requests;
}

describe("agent management", () => {
  it("lists the agents with their tools and knowledge", async () => {
    page();
    const orders = await screen.findByRole("listitem", { name: "Agent Orders" });
    expect(orders).toHaveTextContent("+1-555-0101 · 1 tools · 1 knowledge entries");
    expect(screen.getByRole("listitem", { name: "Agent Billing" })).toHaveTextContent("0 tools");
  });

  it("creates an agent with the tools, approvals, tags and knowledge chosen", async () => {
    page({ "POST /api/agents": [201, agent({ id: "a3", name: "Returns" })] });
    await userEvent.click(screen.getByRole("button", { name: "New agent" }));
    const form = screen.getByRole("form", { name: "New agent" });
    await userEvent.type(within(form).getByLabelText("Name"), "Returns");
    await userEvent.type(within(form).getByLabelText("Mock phone number"), "+1-555-0103");
    await userEvent.type(within(form).getByLabelText("Tags (comma-separated)"), "return, label , ,");
    await userEvent.click(await within(form).findByRole("checkbox", { name: /refund_order/ }));
    await userEvent.click(within(form).getByRole("checkbox", { name: /track_order/ }));
    const approvals = within(form).getAllByRole("checkbox", { name: "needs my approval" });
    expect(approvals.map((box) => (box as HTMLInputElement).checked)).toEqual([true, false]); // as the catalog suggests
    await userEvent.click(approvals[0]);
    await userEvent.click(within(form).getByRole("button", { name: "Add knowledge entry" }));
    await userEvent.type(within(form).getByLabelText("Knowledge title 1"), "Labels");
    await userEvent.type(within(form).getByLabelText("Knowledge text 1"), "Printed at the post office.");
    await userEvent.click(within(form).getByRole("button", { name: "Create agent" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Created Returns");
    const [created] = sentTo("/api/agents", "POST");
    expect(created.body).toEqual({
      name: "Returns", phone_number: "+1-555-0103", greeting: "", instructions: "", tag_taxonomy: ["return", "label"],
      tools: [
        { name: "refund_order", description: "Refund an order", requires_approval: false, source: "builtin" },
        { name: "track_order", description: "Where an order is", requires_approval: false, source: "builtin" },
      ],
      knowledge: [{ title: "Labels", content: "Printed at the post office." }],
    });
    expect(screen.queryByRole("form")).toBeNull();
  });

  it("edits an agent from its own values, and starts afresh for another", async () => {
    page({ "/api/agents/a1": agent({ name: "Orders & Shipping" }) });
    await userEvent.click(within(await screen.findByRole("listitem", { name: "Agent Orders" })).getByRole("button", { name: "Edit" }));
    let form = screen.getByRole("form", { name: "Edit Orders" });
    expect(within(form).getByLabelText("Tags (comma-separated)")).toHaveValue("refund, delivery");
    await userEvent.type(within(form).getByLabelText("Name"), " & Shipping");

    await userEvent.click(within(screen.getByRole("listitem", { name: "Agent Billing" })).getByRole("button", { name: "Edit" }));
    form = screen.getByRole("form", { name: "Edit Billing" });
    expect(within(form).getByLabelText("Name")).toHaveValue("Billing"); // not the other agent's unsaved draft

    await userEvent.click(within(screen.getByRole("listitem", { name: "Agent Orders" })).getByRole("button", { name: "Edit" }));
    form = screen.getByRole("form", { name: "Edit Orders" });
    await userEvent.type(within(form).getByLabelText("Name"), " & Shipping");
    await userEvent.click(within(form).getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Saved Orders & Shipping");
    const [saved] = sentTo("/api/agents/a1", "PATCH");
    expect(saved.body).toMatchObject({ name: "Orders & Shipping", tag_taxonomy: ["refund", "delivery"], knowledge: [{ title: "Returns", content: "30 days." }] });
  });

  it("shows why a save was refused and keeps the form", async () => {
    page({ "POST /api/agents": [409, { error: "conflict", message: "That value is already in use (agents_phone_number_key)" }] });
    await userEvent.click(screen.getByRole("button", { name: "New agent" }));
    const form = screen.getByRole("form", { name: "New agent" });
    await userEvent.type(within(form).getByLabelText("Name"), "Twin");
    await userEvent.type(within(form).getByLabelText("Mock phone number"), "+1-555-0101");
    await userEvent.click(within(form).getByRole("button", { name: "Create agent" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("That value is already in use");
    expect(screen.getByRole("form", { name: "New agent" })).toBeInTheDocument();
  });

  it("deletes an agent only once confirmed", async () => {
    page({ "/api/agents/a2": [204, null] });
    const confirm = vi.fn(() => false);
    vi.stubGlobal("confirm", confirm);
    const billing = await screen.findByRole("listitem", { name: "Agent Billing" });
    await userEvent.click(within(billing).getByRole("button", { name: "Delete" }));
    expect(confirm).toHaveBeenCalledWith("Delete Billing? Its number stops answering.");
    expect(sentTo("/api/agents/a2", "DELETE")).toHaveLength(0);
    confirm.mockReturnValue(true);
    await userEvent.click(within(billing).getByRole("button", { name: "Delete" }));
    expect(await screen.findByRole("status")).toHaveTextContent("Deleted Billing");
    expect(sentTo("/api/agents/a2", "DELETE")).toHaveLength(1);
    await waitFor(() => expect(sentTo("/api/agents", "GET").length).toBeGreaterThan(1)); // the list is read again
  });
});
