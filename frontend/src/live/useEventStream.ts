import { useEffect, useEffectEvent, useState } from "react";
import { api, ok } from "../api/client";
import type { EventType, StreamEvent } from "../api/types";

export type StreamState = "connecting" | "live" | "reconnecting";

export interface StreamStatus {
  state: StreamState;
  retryInSeconds: number | null;
}

const MAX_BACKOFF_MS = 30_000;

/** The wait before reconnect attempt ``attempt`` (0-based): 1 s, 2 s, 4 s ... capped, with jitter. */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

interface Options {
  /** A call token (the customer's stream); otherwise a stream token is fetched for the signed-in user. */
  callToken?: string;
}

/**
 * Follows one SSE stream of the gateway: each bus event of the ``types`` asked for arrives as
 * ``onEvent(event)``, typed by the generated event union (``event.type`` says which). On a drop it
 * reconnects with exponential back-off and resumes after the last event it saw (the gateway replays
 * what was missed), fetching a fresh stream token each time. ``path`` null: not connected.
 * ``onEvent`` always sees the latest render's state, and a new one does not reconnect.
 */
export function useEventStream<T extends EventType>(
  path: string | null,
  types: readonly T[],
  onEvent: (event: StreamEvent<T>) => void,
  options: Options = {},
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>({ state: "connecting", retryInSeconds: null });
  const deliver = useEffectEvent(onEvent);
  const typeKey = types.join(",");
  const callToken = options.callToken;

  useEffect(() => {
    if (!path) return;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let lastEventId = "";
    let stopped = false;

    const connect = async () => {
      setStatus((s) => ({ state: s.state === "live" ? "reconnecting" : s.state, retryInSeconds: null }));
      let token = callToken;
      try {
        token ??= (await ok(api.POST("/api/stream-token"))).token;
      } catch {
        return retry();
      }
      if (stopped) return;
      const url = new URL(path, window.location.origin);
      url.searchParams.set("token", token);
      if (lastEventId) url.searchParams.set("last_event_id", lastEventId);
      source = new EventSource(url);
      const seen = (event: MessageEvent) => {
        if (event.lastEventId) lastEventId = event.lastEventId;
        attempt = 0;
        setStatus({ state: "live", retryInSeconds: null });
      };
      source.addEventListener("ready", seen as EventListener);
      for (const type of typeKey.split(",") as T[]) {
        source.addEventListener(type, ((event: MessageEvent<string>) => {
          seen(event);
          // The gateway sends the event as its contract serialises it; the stream's event name is its type.
          deliver({ ...JSON.parse(event.data), type } as StreamEvent<T>);
        }) as EventListener);
      }
      source.onerror = () => {
        source?.close();
        retry();
      };
    };

    const retry = () => {
      if (stopped) return;
      const wait = backoffMs(attempt++);
      setStatus({ state: "reconnecting", retryInSeconds: Math.ceil(wait / 1000) });
      timer = setTimeout(() => void connect(), wait);
    };

    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [path, typeKey, callToken]);

  return status;
}
