import { useEffect, useState } from "react";

/** Seconds left until ``until``, ticking; "expired" at zero. */
export function Countdown({ until }: { until: string | null | undefined }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, []);
  if (!until) return null;
  const left = Math.max(0, Math.ceil((new Date(until).getTime() - now) / 1000));
  return (
    <span className={left <= 10 ? "countdown urgent" : "countdown"} aria-live="off">
      {left > 0 ? `${left} s left` : "expired"}
    </span>
  );
}
