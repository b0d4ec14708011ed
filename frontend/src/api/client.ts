// One way to call the gateway: JSON in and out, the signed-in user's token attached (refreshed
// ahead of expiry), and every failure turned into an ApiError whose message can be shown as is.

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

async function errorFrom(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`.trim();
  let code = "error";
  try {
    const body = await response.json();
    message = body.message ?? body.detail ?? message;
    code = body.error ?? code; // the gateway's error body: {error: code, message, details?}
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 429) message = `${message} (too many requests; wait a moment)`;
  return new ApiError(response.status, message, code);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string | null; // a call token instead of the session's
  params?: Record<string, string | number | boolean | undefined | null>;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(options.params ?? {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const url = query.size ? `${path}?${query}` : path;
  const send = async (token: string | null | undefined) => {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await fetch(url, {
        method: options.method ?? "GET",
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError(0, "the server cannot be reached; check your connection and try again", "offline");
    }
  };
  const ownToken = options.token !== undefined;
  let response = await send(ownToken ? options.token : sessions?.current()?.accessToken);
  if (response.status === 401 && !ownToken && sessions?.current()) {
    const renewed = await sessions.refresh();
    if (renewed) response = await send(renewed.accessToken);
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
