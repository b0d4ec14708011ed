import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes, useLocation } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { FakeEventSource, renderAt, signedInAs, stubFetch } from "../test-helpers";
import { Conversation, Dialer, SLOW_ANSWER_MS, endedMessage } from "./dialer/Dialer";
import { Login } from "./Login";

beforeEach(() => {
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
});
afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

function Where() {
  return <output data-testid="where">{useLocation().pathname}</output>;
}

describe("Login", () => {
  it("shows the gateway's reason when sign-in is refused", async () => {
    stubFetch({ "/api/auth/login": [401, { error: "unauthorized", message: "wrong email or password" }] });
    renderAt("/login", <Login />);
    await userEvent.type(screen.getByLabelText("Email"), "dana@demo.local");
    await userEvent.type(screen.getByLabelText("Password"), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("wrong email or password");
  });

  it("explains an unreachable server in words", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    renderAt("/login", <Login />);
    await userEvent.type(screen.getByLabelText("Email"), "dana@demo.local");
    await userEvent.type(screen.getByLabelText("Password"), "secret-password");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the server cannot be reached");
  });
});

describe("role-based routes", () => {
  it("sends a supervisor who opens an admin page to their own dashboard", async () => {
    signedInAs("supervisor");
    stubFetch({ "/api/agents": [], "/api/calls": [], "/api/notifications": [], "/api/tool-requests": [] });
    renderAt("/admin/supervisors", <><App /><Routes><Route path="*" element={<Where />} /></Routes></>);
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/supervisor"));
    expect(await screen.findByRole("heading", { name: "Live floor" })).toBeInTheDocument();
  });

  it("sends someone signed out to the sign-in page", async () => {
    renderAt("/supervisor/archive", <><App /><Routes><Route path="*" element={<Where />} /></Routes></>);
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/login"));
  });
});

describe("the mock dialer", () => {
  it("lists the numbers a customer can call", async () => {
    stubFetch({ "/api/directory": [{ name: "Orders & Shipping", phone_number: "+1-555-0101" }] });
    renderAt("/dial", <Dialer />);
    expect(await screen.findByRole("button", { name: "Call Orders & Shipping" })).toBeInTheDocument();
    expect(screen.getByText("+1-555-0101")).toBeInTheDocument();
  });

  it("explains a wrong number", async () => {
    stubFetch({
      "/api/directory": [],
      "/api/calls": [404, { error: "not_found", message: "no agent answers +1-555-9999; check the number" }],
    });
    renderAt("/dial", <Dialer />);
    await userEvent.type(screen.getByLabelText("Number"), "+1-555-9999");
    await userEvent.click(screen.getByRole("button", { name: "Call (chat)" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("no agent answers +1-555-9999");
  });

  it("shows the agent answering, then says when it takes longer than usual", () => {
    vi.useFakeTimers();
    const props = { agentName: "Orders", phase: "connected" as const, position: null, endNote: "", callId: "c", callToken: "t",
                    streamStatus: { state: "live" as const, retryInSeconds: null }, onHangUp: () => {}, onError: () => {} };
    const view = render(<Conversation {...props} lines={[]} />);
    expect(screen.getByTestId("agent-answering")).toHaveTextContent("Orders is typing…");
    act(() => vi.advanceTimersByTime(SLOW_ANSWER_MS));
    expect(screen.getByTestId("agent-answering")).toHaveTextContent("taking longer than usual");
    view.rerender(<Conversation {...props} lines={[{ seq: 0, speaker: "agent", text: "Hello!" }]} />);
    expect(screen.queryByTestId("agent-answering")).toBeNull();
    view.rerender(<Conversation {...props} lines={[{ seq: 0, speaker: "agent", text: "Hello!" }, { seq: 1, speaker: "customer", text: "Hi" }]} />);
    expect(screen.getByTestId("agent-answering")).toHaveTextContent("Orders is typing…");
    vi.useRealTimers();
  });

  it("offers a long waiter to keep waiting or leave, and says who the customer is talking to", () => {
    const left = vi.fn();
    const props = { agentName: "Orders", endNote: "", callId: "c", callToken: "t", lines: [],
                    streamStatus: { state: "live" as const, retryInSeconds: null }, onHangUp: left, onError: () => {} };
    const view = render(<Conversation {...props} phase="queued" position={1} longWait />);
    expect(screen.getByTestId("long-wait")).toHaveTextContent("Sorry for the long wait");
    fireEvent.click(screen.getByRole("button", { name: "Leave the queue" }));
    expect(left).toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Keep waiting" }));
    expect(screen.queryByTestId("long-wait")).toBeNull();
    view.rerender(<Conversation {...props} phase="connected" position={null} talkingWith="Dana, supervisor" />);
    expect(screen.getByTestId("call-status")).toHaveTextContent("You are talking with Dana, supervisor");
    view.rerender(<Conversation {...props} phase="connected" position={null} agentBack />);
    expect(screen.getByTestId("call-status")).toHaveTextContent("Orders is back with you");
    expect(endedMessage({ reason: "abandoned", ended_by: "customer" })).toContain("had not heard from you");
  });

  it("says why a call ended", () => {
    expect(endedMessage({ reason: "customer_hangup", ended_by: "customer" })).toBe("You hung up.");
    expect(endedMessage({ reason: "abandoned_in_queue", ended_by: "customer" })).toBe("You left the queue.");
    expect(endedMessage({ reason: "agent_resolved", ended_by: "agent" })).toBe("The agent ended the call.");
  });
});

describe("the session", () => {
  it("survives a refresh attempt while the server is unreachable", async () => {
    signedInAs("supervisor", 30_000); // due for refresh at once
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    renderAt("/supervisor", <><App /><Routes><Route path="*" element={<Where />} /></Routes></>);
    const refreshed = () => vi.mocked(fetch).mock.calls.some(([request]) => (request instanceof Request ? request.url : String(request)).includes("/api/auth/refresh"));
    await waitFor(() => expect(refreshed()).toBe(true));
    await new Promise((settle) => setTimeout(settle, 50)); // let the failed refresh finish
    expect(localStorage.getItem("cs-agents.session")).not.toBeNull();
    expect(screen.getByTestId("where")).toHaveTextContent("/supervisor");
  });

  it("ends when the refresh token is refused", async () => {
    signedInAs("supervisor", 30_000);
    stubFetch({ "/api/auth/refresh": [401, { error: "unauthorized", message: "session ended" }] });
    renderAt("/supervisor", <><App /><Routes><Route path="*" element={<Where />} /></Routes></>);
    await waitFor(() => expect(screen.getByTestId("where")).toHaveTextContent("/login"));
    expect(localStorage.getItem("cs-agents.session")).toBeNull();
  });
});
