import type { StreamStatus } from "../live/useEventStream";

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting" } as const;

export function ConnectionBadge({ status, label = "Live updates" }: { status: StreamStatus; label?: string }) {
  const text =
    status.state === "reconnecting" && status.retryInSeconds
      ? `Reconnecting in ${status.retryInSeconds} s`
      : LABELS[status.state];
  return (
    <span className={`badge badge-${status.state}`} role="status" aria-label={`${label}: ${text}`}>
      <span className="dot" aria-hidden="true" /> {text}
    </span>
  );
}
