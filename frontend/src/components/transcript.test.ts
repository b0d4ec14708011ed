import { describe, expect, it } from "vitest";
import { mergeLines } from "./transcript";

describe("mergeLines", () => {
  it("keeps each utterance once, in call order", () => {
    const current = [{ seq: 2, speaker: "agent", text: "c" }];
    const merged = mergeLines(current, [{ seq: 0, speaker: "agent", text: "a" }, { seq: 2, speaker: "agent", text: "c" }]);
    expect(merged.map((l) => l.seq)).toEqual([0, 2]);
    expect(mergeLines(merged, [{ seq: 2, speaker: "agent", text: "c" }])).toBe(merged); // nothing new: unchanged
  });
});
