import { act, render, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { vi } from "vitest";
import type { EventType, StreamEvent } from "./api/types";
import { AuthProvider } from "./auth/AuthProvider";
import { TakeOverProvider } from "./pages/supervisor/takeOver";
import { IDS } from "./test-fixtures";

/** A request the app sent through the stubbed fetch. */
export interface Sent {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The JSON body, parsed; undefined without one. */
  body: unknown;
  authorization: string | null;
}

let sent: Sent[] = [];

/** The requests sent since the last stubFetch, optionally only those to ``path`` (and with ``method``). */
export function sentTo(path?: string, method?: string): Sent[] {
  return sent.filter((request) => (path === undefined || request.path === path) && (method === undefined || request.method === method));
}

/**
 * Answers fetch by path ("/api/agents"), or by method and path ("POST /api/agents") where one path
 * answers differently: a JSON body (status 200) or [status, body] or [status, body, headers]; anything
 * else is 404. A stream token is handed out unless the routes say otherwise. Returns the paths asked
 * for, in order.
 */
export function stubFetch(routes: Record<string, unknown>) {
  const calls: string[] = [];
  sent = [];
  const answers: Record<string, unknown> = { "/api/stream-token": { token: "stream-token", expires_in: 300 }, ...routes };
  vi.stubGlobal("fetch", vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url);
    const text = await request.clone().text();
    calls.push(url.pathname);
    sent.push({ method: request.method, path: url.pathname, query: url.searchParams, body: text ? JSON.parse(text) : undefined,
                authorization: request.headers.get("Authorization") });
    const answer = answers[`${request.method} ${url.pathname}`] ?? answers[url.pathname];
    const [status, body, headers] = Array.isArray(answer) && typeof answer[0] === "number" ? answer : [answer === undefined ? 404 : 200, answer ?? { message: "not found" }];
    return new Response(status === 204 ? null : JSON.stringify(body), {
      status: status as number, headers: { "content-type": "application/json", ...(headers as Record<string, string> | undefined) },
    });
  }));
  return calls;
}

/**
 * EventSource does not exist in jsdom. This one records every stream the app opens, and the test
 * speaks through it: ``open`` is the gateway's answer, ``emit`` delivers one event as the gateway would
 * (its name, its JSON, an id), ``fail`` drops the connection.
 */
export class FakeEventSource {
  static opened: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  private readonly listeners = new Map<string, ((event: MessageEvent) => void)[]>();
  private nextId = 1;

  constructor(readonly url: string | URL) {
    FakeEventSource.opened.push(this);
  }

  static reset() {
    FakeEventSource.opened = [];
  }

  /** The newest stream whose path is ``path``, once the app has opened it (it fetches a token first). */
  static async at(path: string): Promise<FakeEventSource> {
    let found: FakeEventSource | undefined;
    await waitFor(() => {
      found = [...FakeEventSource.opened].reverse().find((source) => new URL(source.url, "http://localhost").pathname === path && !source.closed);
      if (!found) throw new Error(`no open stream at ${path}; opened: ${FakeEventSource.opened.map((s) => String(s.url)).join(", ")}`);
    });
    return found!;
  }

  get query(): URLSearchParams {
    return new URL(this.url, "http://localhost").searchParams;
  }

  addEventListener(type: string, listener: (event: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close() {
    this.closed = true;
  }

  /** The gateway has answered: the stream is open. */
  open() {
    act(() => this.onopen?.());
  }

  /** The gateway's first event on a stream read from now. */
  ready() {
    this.dispatch("ready", "{}");
  }

  /** One bus event on this stream, as the gateway sends it (without ``type``: the event's name says it). */
  emit<T extends EventType>(type: T, data: Omit<StreamEvent<T>, "type">, id = String(this.nextId++)) {
    this.dispatch(type, JSON.stringify(data), id);
  }

  fail() {
    act(() => this.onerror?.());
  }

  private dispatch(type: string, data: string, lastEventId = "") {
    act(() => {
      for (const listener of this.listeners.get(type) ?? []) listener(new MessageEvent(type, { data, lastEventId }));
    });
  }
}

export function renderAt(path: string, ui: ReactNode) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider>{ui}</AuthProvider>
    </MemoryRouter>,
  );
}

/** Where an agent card lives: the dashboard's take-over (one voice room), for the supervisor IDS.supervisor. */
export function OnTheFloor({ children }: { children: ReactNode }) {
  return <TakeOverProvider me={IDS.supervisor}>{children}</TakeOverProvider>;
}

/** A signed-in user in localStorage, as the auth provider keeps one. */
export function signedInAs(role: "admin" | "supervisor", expiresInMs = 3_600_000) {
  localStorage.setItem("cs-agents.session", JSON.stringify({
    accessToken: "access-token", refreshToken: "refresh-token", expiresAt: Date.now() + expiresInMs,
    user: { id: "u1", email: `${role}@test.local`, role },
  }));
}
