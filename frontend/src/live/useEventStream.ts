import { useCallback, useEffect, useEffectEvent, useMemo, useRef, useState } from "react";
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

/** The gateway's header on a read a view follows with a stream: the id of the last bus event the answer reflects. */
const LAST_EVENT_ID_HEADER = "X-Last-Event-ID";

/** Where a stream first opens: just after ``after``, or from now when it is null; not at all until ``known``. */
export interface StreamStart {
  known: boolean;
  after: string | null;
}

/** A view's start, and the way its reads note theirs. */
export interface ViewStart extends StreamStart {
  /** One of the reads the view is built from: its answer, as ``ok`` gives it, with its position noted. */
  read<Data>(pending: Promise<{ data?: Data; error?: unknown; response: Response }>): Promise<Data>;
}

/**
 * Where the stream of a view built from REST reads starts: just after the last bus event those reads
 * reflect (the lowest X-Last-Event-ID among them), so nothing published between a read and the stream's
 * opening is lost. Every read the view first shows goes through ``read``; the start is ``known`` once they
 * have all answered (a failed read has no position; with none at all the stream starts from now). Events
 * a read reflected already may come again: the view's handlers apply each event idempotently.
 */
export function useStreamStart(): ViewStart {
  const [start, setStart] = useState<StreamStart>({ known: false, after: null });
  const reads = useRef({ pending: 0, lowest: null as string | null, settled: false });
  const read = useCallback(async <Data,>(pending: Promise<{ data?: Data; error?: unknown; response: Response }>) => {
    const tally = reads.current;
    tally.pending += 1;
    try {
      const answer = await pending;
      const position = answer.response.headers.get(LAST_EVENT_ID_HEADER);
      if (position && (tally.lowest === null || Number(position) < Number(tally.lowest))) tally.lowest = position;
      return await ok(Promise.resolve(answer));
    } finally {
      tally.pending -= 1;
      // The view's first reads are all asked for in one render's effects, before any answers; later ones
      // (a list reloaded) come after the stream has opened and leave its start alone.
      if (tally.pending === 0 && !tally.settled) {
        tally.settled = true;
        setStart({ known: true, after: tally.lowest });
      }
    }
  }, []);
  return useMemo(() => ({ ...start, read }), [start, read]);
}

interface Options {
  /** A call token (the customer's stream); otherwise a stream token is fetched for the signed-in user. */
  callToken?: string;
  /** Where to open first (useStreamStart); without it, from now. Reconnects resume after the last event seen. */
  start?: StreamStart;
}

/**
 * Follows one SSE stream of the gateway: each bus event of the ``types`` asked for arrives as
 * ``onEvent(event)``, typed by the generated event union (``event.type`` says which). On a drop it
 * reconnects with exponential back-off and resumes after the last event it saw (the gateway replays
 * what was missed), fetching a fresh stream token each time. ``path`` null, or a ``start`` not yet known:
 * not connected.
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
  const waiting = options.start ? !options.start.known : false;
  const after = options.start?.after ?? "";

  useEffect(() => {
    if (!path || waiting) return;
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let lastEventId = after;
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
      const live = () => {
        attempt = 0;
        setStatus({ state: "live", retryInSeconds: null });
      };
      const seen = (event: MessageEvent) => {
        if (event.lastEventId) lastEventId = event.lastEventId;
        live();
      };
      // From a position the gateway replays from there and sends no ready event: it is live once it
      // answers. From now it is live at the ready event, once the gateway is reading the bus.
      if (lastEventId) source.onopen = live;
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
  }, [path, typeKey, callToken, waiting, after]);

  return status;
}
