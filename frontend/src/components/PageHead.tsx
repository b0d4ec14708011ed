import type { StreamStatus } from "../live/useEventStream";
import { ConnectionBadge } from "./ConnectionBadge";

/** A page's title with the state of the live data it shows. */
export function PageHead({ title, status, label }: { title: string; status: StreamStatus; label?: string }) {
  return (
    <div className="page-head">
      <h1>{title}</h1>
      <ConnectionBadge status={status} label={label} />
    </div>
  );
}
