import { useEffect, useState } from "react";
import { api, ok, readHealth } from "../api/client";
import type { PlatformHealth } from "../api/types";
import { ErrorNote } from "./ErrorNote";
import { when } from "./format";
import { useLoad } from "./useLoad";

const POLL_MS = 15_000;
// What a service says about itself that an admin can act on (its heartbeat carries more, for ops).
const DETAILS = ["brain", "speech_to_text", "text_to_speech", "livekit_rooms", "summariser", "satisfaction", "model"] as const;

/** The gateway's /health, polled: is every service up, and which AI paths are in use; and the
 * messages a service could not use (dead letters), which otherwise take the nats CLI to see. */
export function PlatformStatus() {
  const [health, setHealth] = useState<PlatformHealth | null>(null);
  const [unreachable, setUnreachable] = useState(false);
  const letters = useLoad(() => ok(api.GET("/api/admin/dead-letters", { params: { query: { limit: 5 } } })), []);
  const reloadLetters = letters.reload;
  const [replayNote, setReplayNote] = useState("");
  const [replayError, setReplayError] = useState<unknown>(null);
  const replay = async (sequence: number) => {
    setReplayError(null);
    try {
      const sent = await ok(api.POST("/api/admin/dead-letters/{sequence}/replay", { params: { path: { sequence } } }));
      setReplayNote(`Letter ${sequence} sent again to ${sent.consumer}.`);
    } catch (failure) {
      setReplayNote("");
      setReplayError(failure);
    }
  };

  useEffect(() => {
    let stopped = false;
    const check = async () => {
      try {
        const report = await readHealth();
        if (!stopped) {
          setHealth(report);
          setUnreachable(false);
        }
      } catch {
        if (!stopped) setUnreachable(true);
      }
    };
    void check();
    const timer = setInterval(() => {
      void check();
      void reloadLetters();
    }, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [reloadLetters]);
  const letterCount = Object.values(letters.data?.by_consumer ?? {}).reduce((sum, n) => sum + n, 0);

  return (
    <section aria-labelledby="platform-title">
      <h2 id="platform-title">Platform</h2>
      {unreachable && (
        <p className="error" role="alert">
          The platform's health cannot be read (the gateway is unreachable); checking again every 15 seconds.
        </p>
      )}
      {health && (
        <>
          <p>
            <span className={`badge ${health.status === "healthy" ? "badge-live" : "badge-reconnecting"}`}>
              <span className="dot" />
              {health.status === "healthy" ? "All services up" : "Degraded"}
            </span>{" "}
            <span className="muted">
              Database {health.database} · bus {health.nats} · LiveKit {health.livekit} ·{" "}
              {Object.entries(health.ai_services).map(([name, state]) => `${name}: ${state}`).join(" · ")}
            </span>
          </p>
          <table className="table" aria-label="Services">
            <thead>
              <tr><th>Service</th><th>Status</th><th>Last seen</th><th>Details</th></tr>
            </thead>
            <tbody>
              {Object.entries(health.services).map(([name, service]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td className={service.status === "up" ? "pos" : "neg"}>{service.status}</td>
                  <td>{when(service.last_seen)}</td>
                  <td>
                    {DETAILS.filter((key) => service[key] !== undefined)
                      .map((key) => `${key.replace("_", " ")}: ${String(service[key])}`)
                      .join(" · ")}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h3>Dead letters</h3>
      <ErrorNote error={letters.error ?? replayError} />
      {replayNote && <p role="status">{replayNote}</p>}
      {letters.data && (
        <>
          <p data-testid="dead-letter-count">
            {letterCount === 0
              ? "None: every message was used."
              : `${letterCount} in the last 30 days (${Object.entries(letters.data.by_consumer).map(([consumer, n]) => `${consumer}: ${n}`).join(", ")}).`}
          </p>
          {letters.data.items.length > 0 && (
            <table className="table" aria-label="Newest dead letters">
              <thead>
                <tr><th>When</th><th>Consumer</th><th>Subject</th><th>Reason</th><th /></tr>
              </thead>
              <tbody>
                {letters.data.items.map((letter) => (
                  <tr key={letter.sequence}>
                    <td>{when(letter.received_at)}</td>
                    <td>{letter.consumer}</td>
                    <td><code>{letter.original_subject}</code></td>
                    <td>{letter.reason}</td>
                    <td>
                      <button type="button" onClick={() => void replay(letter.sequence)}
                              title="Send it again to this consumer once the cause is mended">Replay</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
