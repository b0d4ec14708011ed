// One way to call the gateway: a client typed by the OpenAPI document (openapi-fetch over the
// generated `paths`), so each call's path, parameters, body and answer are checked together. The
// signed-in user's token is attached (refreshed ahead of expiry, and once more on a 401), and every
// failure becomes an ApiError whose message can be shown as is.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "../generated/api";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = "error",
  ) {
    super(message);
  }
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // epoch ms
}

type SessionSource = {
  current(): Session | null;
  refresh(): Promise<Session | null>;
};

let sessions: SessionSource | null = null;

/** The auth provider registers itself so every request can find and refresh the session. */
export function registerSessionSource(source: SessionSource | null): void {
  sessions = source;
}

/** What the gateway answers every refusal with (the OpenAPI document's one error schema). */
type ApiErrorBody = components["schemas"]["ApiErrorBody"];

async function errorFrom(response: Response): Promise<ApiError> {
  let body: Partial<ApiErrorBody> = {};
  try {
    body = (await response.json()) as ApiErrorBody;
  } catch {
    // not JSON (a proxy's page, say): the status line says what there is to say
  }
  let message = body.message || `${response.status} ${response.statusText}`.trim();
  if (response.status === 429) message = `${message} (too many requests; wait a moment)`;
  return new ApiError(response.status, message, body.error ?? "error");
}

async function attempt(request: Request, token: string | null | undefined): Promise<Response> {
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  try {
    // Looked up on each call, not once, so tests can stand in for fetch.
    return await globalThis.fetch(request);
  } catch {
    throw new ApiError(0, "the server cannot be reached; check your connection and try again", "offline");
  }
}

/** Whose token a client sends: the signed-in user's session, a call's own token, or none. */
type Bearer = { session: true } | { token: string | null };

async function send(request: Request, bearer: Bearer): Promise<Response> {
  if (!("session" in bearer)) {
    const response = await attempt(request, bearer.token);
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
  const again = request.clone(); // a body can be sent once; the retry after a refresh needs its own
  let response = await attempt(request, sessions?.current()?.accessToken);
  if (response.status === 401 && sessions?.current()) {
    const renewed = await sessions.refresh();
    if (renewed) response = await attempt(again, renewed.accessToken);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** Query strings leave out what a form left empty, as the gateway reads a missing filter as "any". */
function querySerializer(query: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  return search.toString();
}

function clientFor(bearer: Bearer): Client<paths> {
  return createClient<paths>({
    // Absolute, so a Request can be built outside a page too (tests); the page's own origin in the app.
    baseUrl: globalThis.location?.origin ?? "",
    headers: { Accept: "application/json" },
    querySerializer,
    fetch: (request) => send(request, bearer),
  });
}

/** The signed-in user's client. */
export const api = clientFor({ session: true });

/** No token at all: signing in, refreshing, placing a call. */
export const anonymous = clientFor({ token: null });

/** The customer's client for one call, with the call token the gateway gave when it was placed. */
export function asCaller(callToken: string): Client<paths> {
  return clientFor({ token: callToken });
}

/**
 * The answer of a successful call. The clients above throw ApiError for every failure, so this only
 * narrows the type (`data` is undefined for a 204, whose type is `undefined` too).
 */
export async function ok<Data>(pending: Promise<{ data?: Data; error?: unknown; response: Response }>): Promise<Data> {
  const { data, error, response } = await pending;
  // Unreachable through the clients above; a client that let failures through would land here.
  if (error !== undefined) throw new ApiError(response.status, `${response.status} ${response.statusText}`.trim());
  return data as Data;
}

/** Answers as they come, failures included: only for /health below. */
const bare = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  headers: { Accept: "application/json" },
  fetch: (request) => attempt(request, null),
});

/**
 * The platform's health (/health): its report comes with 200 when every service is up and with 503
 * when one is not, so a 503 is an answer here, not a failure. No token: anyone may ask.
 */
export async function readHealth(): Promise<components["schemas"]["HealthReport"]> {
  const { data, error, response } = await bare.GET("/health");
  const report = data ?? error;
  if (!report || (response.status !== 200 && response.status !== 503)) {
    throw new ApiError(response.status, `the platform's health cannot be read (${response.status})`);
  }
  return report;
}
