import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router-dom";
import { vi } from "vitest";
import { AuthProvider } from "./auth/AuthProvider";

/** Answers fetch by path: a JSON body (status 200) or [status, body]; anything else is 404. */
export function stubFetch(routes: Record<string, unknown>) {
  const calls: string[] = [];
  vi.stubGlobal("fetch", vi.fn(async (input: string | URL | Request) => {
    const path = new URL(input instanceof Request ? input.url : String(input), "http://localhost").pathname;
    calls.push(path);
    const answer = routes[path];
    const [status, body] = Array.isArray(answer) && typeof answer[0] === "number" ? answer : [answer === undefined ? 404 : 200, answer ?? { message: "not found" }];
    return new Response(JSON.stringify(body), { status: status as number, headers: { "content-type": "application/json" } });
  }));
  return calls;
}

/** EventSource does not exist in jsdom; this one never connects, which is all the page tests need. */
export class SilentEventSource {
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {}
  addEventListener() {}
  close() {}
}

export function renderAt(path: string, ui: ReactNode) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider>{ui}</AuthProvider>
    </MemoryRouter>,
  );
}
