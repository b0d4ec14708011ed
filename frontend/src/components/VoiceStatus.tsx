import type { Speaker, VoiceRoom, VoiceState } from "../live/useVoiceRoom";

const STATE_TEXT: Record<VoiceState, string> = {
  idle: "",
  connecting: "Connecting the audio…",
  connected: "Audio connected",
  reconnecting: "Reconnecting…",
  disconnected: "Audio disconnected",
};
const SPEAKERS: readonly Speaker[] = ["agent", "customer"];

/** A voice room as the dialer and Listen show it: the connection and who is speaking (problems: voice.problem). */
export function VoiceStatus({ voice, names }: { voice: VoiceRoom; names: Record<Speaker, string> }) {
  return (
    <div className="voice-status">
      {voice.state !== "idle" && (
        <p className="muted" data-testid="voice-state">
          {STATE_TEXT[voice.state]}
          {voice.state !== "disconnected" && (
            <>
              {" · "}
              {SPEAKERS.map((who) => (
                <span key={who}>
                  {" "}
                  <span
                    className={`pill ${voice.speaking.has(who) ? "pill-in-call" : ""}`}
                    data-testid={`speaking-${who}`}
                    data-speaking={voice.speaking.has(who)}
                  >
                    {names[who]} {voice.speaking.has(who) ? "speaking" : "quiet"}
                  </span>
                </span>
              ))}
            </>
          )}
        </p>
      )}
      {voice.audioBlocked && (
        <button type="button" onClick={() => void voice.startAudio()}>
          Turn on the sound
        </button>
      )}
    </div>
  );
}
