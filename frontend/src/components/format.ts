export const percent = (value: number | null | undefined) =>
  value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`;
export const decimal = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "–" : value.toFixed(digits);
export const duration = (seconds: number | null | undefined) => {
  if (seconds === null || seconds === undefined) return "–";
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;
};
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : "–");
export const isoDay = (date: Date) => date.toISOString().slice(0, 10);
export const daysAgo = (days: number) => isoDay(new Date(Date.now() - days * 86_400_000));

// Which dialogue engine served a call (the agent-worker's names), for people.
const BRAINS: Record<string, string> = {
  "local-minilm": "local engine (MiniLM)",
  gemini: "Gemini",
  "openai-compatible": "self-hosted model",
};
export const brainName = (brain: string | null | undefined) => (brain ? BRAINS[brain] ?? brain : "–");
