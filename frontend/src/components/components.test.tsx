import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConnectionBadge } from "./ConnectionBadge";
import { Countdown } from "./Countdown";
import { duration, percent } from "./format";

afterEach(() => vi.useRealTimers());

describe("ConnectionBadge", () => {
  it("says when it will try again", () => {
    render(<ConnectionBadge status={{ state: "reconnecting", retryInSeconds: 4 }} label="Notifications" />);
    expect(screen.getByRole("status", { name: "Notifications: Reconnecting in 4 s" })).toBeInTheDocument();
  });

  it("shows a live stream as live", () => {
    render(<ConnectionBadge status={{ state: "live", retryInSeconds: null }} />);
    expect(screen.getByRole("status")).toHaveTextContent("Live");
  });
});

describe("Countdown", () => {
  it("counts down to the deadline and turns urgent, then expired", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-11-25T10:00:00Z"));
    render(<Countdown until="2026-11-25T10:00:12Z" />);
    expect(screen.getByText("12 s left")).not.toHaveClass("urgent");
    act(() => vi.advanceTimersByTime(3000));
    expect(screen.getByText("9 s left")).toHaveClass("urgent");
    act(() => vi.advanceTimersByTime(10_000));
    expect(screen.getByText("expired")).toBeInTheDocument();
  });
});

describe("formatting", () => {
  it("shows missing figures as a dash", () => {
    expect([percent(null), percent(0.684), duration(307), duration(undefined)]).toEqual(["–", "68%", "5:07", "–"]);
  });
});
