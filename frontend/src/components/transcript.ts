export interface Line {
  seq: number;
  speaker: string;
  text: string;
}

/** ``lines`` with ``incoming`` added: each utterance once (a resumed stream may repeat one), in call order. */
export function mergeLines(lines: Line[], incoming: Line[]): Line[] {
  const known = new Set(lines.map((line) => line.seq));
  const fresh = incoming.filter((line) => !known.has(line.seq));
  if (!fresh.length) return lines;
  return [...lines, ...fresh.map(({ seq, speaker, text }) => ({ seq, speaker, text }))].sort((a, b) => a.seq - b.seq);
}
