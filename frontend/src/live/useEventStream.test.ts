import { describe, expect, it } from "vitest";
import { backoffMs } from "./useEventStream";

describe("reconnect back-off", () => {
  it("doubles from one second and stops at thirty", () => {
    const middle = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffMs(attempt, middle))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it("spreads clients by up to 20% either way", () => {
    expect(backoffMs(2, () => 0)).toBe(3200);
    expect(backoffMs(2, () => 1)).toBe(4800);
  });
});
