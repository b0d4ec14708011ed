import { afterEach, describe, expect, it, vi } from "vitest";
import { sentTo, stubFetch } from "../test-helpers";
import { anonymous, api, ApiError, asCaller, ok, readHealth, registerSessionSource, type Session } from "./client";

const SESSION: Session = { accessToken: "old-token", refreshToken: "refresh", expiresAt: Date.now() + 60_000 };

function signedIn(refreshed: Session | null = { ...SESSION, accessToken: "new-token" }) {
  const refresh = vi.fn(async () => refreshed);
  registerSessionSource({ current: () => SESSION, refresh });
  return refresh;
}

afterEach(() => {
  registerSessionSource(null);
  vi.unstubAllGlobals();
});

describe("the typed client", () => {
  it("sends the session's token, the path's parameters and the query, leaving out empty filters", async () => {
    signedIn();
    stubFetch({ "/api/archive": { items: [], total: 0, page: 2, page_size: 20 } });
    const page = await ok(api.GET("/api/archive", { params: { query: { q: "refund", tag: "", agent_id: undefined, page: 2 } } }));
    expect(page.page).toBe(2);
    const [request] = sentTo("/api/archive");
    expect(request.authorization).toBe("Bearer old-token");
    expect(Object.fromEntries(request.query)).toEqual({ q: "refund", page: "2" });
  });

  it("refreshes the session once on a 401 and sends the same request again, body included", async () => {
    const refresh = signedIn();
    stubFetch({ "/api/agents": [401, { error: "unauthorized", message: "expired" }] });
    const record = vi.mocked(fetch).getMockImplementation()!; // records each request, then answers 401
    vi.mocked(fetch)
      .mockImplementationOnce(record)
      .mockImplementationOnce(async (input, init) => {
        await record(input, init);
        return new Response(JSON.stringify({ id: "a1" }), { status: 201 });
      });
    await ok(api.POST("/api/agents", { body: { name: "Orders", phone_number: "+1-555-0101" } }));
    expect(refresh).toHaveBeenCalledTimes(1);
    const [first, second] = sentTo("/api/agents", "POST");
    expect(first.authorization).toBe("Bearer old-token");
    expect(second.authorization).toBe("Bearer new-token");
    expect(second.body).toEqual({ name: "Orders", phone_number: "+1-555-0101" });
  });

  it("turns a refusal into an ApiError with the gateway's message and code", async () => {
    signedIn(null);
    stubFetch({ "/api/tool-requests/r1/decision": [409, { error: "already_decided", message: "too late: already timed out" }] });
    const failure = await ok(
      api.POST("/api/tool-requests/{request_id}/decision", { params: { path: { request_id: "r1" } }, body: { allow: true } }),
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 409, code: "already_decided", message: "too late: already timed out" });
  });

  it("says when to wait after too many requests", async () => {
    stubFetch({ "/api/directory": [429, { error: "rate_limited", message: "slow down" }] });
    await expect(ok(api.GET("/api/directory"))).rejects.toThrow("slow down (too many requests; wait a moment)");
  });

  it("explains an unreachable server in words", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));
    await expect(ok(anonymous.POST("/api/auth/login", { body: { email: "a@b.c", password: "secret" } }))).rejects.toMatchObject({
      status: 0, code: "offline", message: "the server cannot be reached; check your connection and try again",
    });
  });

  it("sends no session token for sign-in, and the call's own token for a call", async () => {
    signedIn();
    stubFetch({ "/api/auth/login": { access_token: "t" }, "/api/calls/c1/end": [202, { event_id: "e1" }] });
    await ok(anonymous.POST("/api/auth/login", { body: { email: "a@b.c", password: "secret" } }));
    await ok(asCaller("call-token").POST("/api/calls/{call_id}/end", { params: { path: { call_id: "c1" } } }));
    expect(sentTo("/api/auth/login")[0].authorization).toBeNull();
    expect(sentTo("/api/calls/c1/end")[0].authorization).toBe("Bearer call-token");
  });

  it("answers nothing for a 204", async () => {
    signedIn();
    stubFetch({ "/api/agents/a1": [204, null] });
    await expect(ok(api.DELETE("/api/agents/{agent_id}", { params: { path: { agent_id: "a1" } } }))).resolves.toBeUndefined();
  });

  it("reads the health report from a 503 too", async () => {
    stubFetch({ "/health": [503, { status: "degraded", livekit: "not configured" }] });
    await expect(readHealth()).resolves.toMatchObject({ status: "degraded" });
  });
});
