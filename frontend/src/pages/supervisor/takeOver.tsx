import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from "react";
import { api, ok } from "../../api/client";
import type { TakenOver } from "../../api/types";
import { useVoiceRoom, type VoiceRoom } from "../../live/useVoiceRoom";

/**
 * Taking a call over, wherever the supervisor presses Take over (the agent card, a customer's request for
 * a person in the notifications): one way, so a voice call always joins its room with the microphone.
 * The room belongs to the dashboard, not to the button pressed, so the agent card shows it and hands
 * the call back whichever button took it.
 */
export interface TakeOver {
  /** The signed-in supervisor, to tell "you have this call" from someone else having it. */
  me: string | null;
  /** The room of the voice call taken over (one at a time: a supervisor has one voice). */
  voice: VoiceRoom;
  /** Which call ``voice`` is the room of; null when none. */
  voiceCall: string | null;
  /**
   * Call from the click's handler, before anything is awaited (the microphone and sound need the
   * user's gesture). A voice call joins its room publishing the microphone; null when the microphone
   * was refused or missing (``voice.problem`` says which) and the call was left to the agent.
   */
  takeOver(callId: string, channel: string | undefined): Promise<TakenOver | null>;
  /** Give the call back to the agent, with instructions if any, and leave its room. */
  handBack(callId: string, instructions: string | null): Promise<void>;
  /** Leave the call's room, if it is the one joined (the call ended). */
  leave(callId: string): Promise<void>;
}

const TakeOverContext = createContext<TakeOver | null>(null);

export function TakeOverProvider({ me, children }: { me: string | null; children: ReactNode }) {
  const voice = useVoiceRoom();
  const { prepare, join, leave: leaveRoom } = voice;
  const [voiceCall, setVoiceCall] = useState<string | null>(null);
  const roomOf = useRef<string | null>(null); // voiceCall, for callbacks that must not wait for a render

  const enter = useCallback((callId: string | null) => {
    roomOf.current = callId;
    setVoiceCall(callId);
  }, []);

  const leave = useCallback(async (callId: string) => {
    if (roomOf.current !== callId) return;
    enter(null);
    await leaveRoom();
  }, [leaveRoom, enter]);

  const takeOver = useCallback(async (callId: string, channel: string | undefined) => {
    const voiceCallKnown = channel === "voice";
    if (voiceCallKnown) {
      enter(callId);
      if (!(await prepare({ microphone: true }))) return null;
    }
    let taken: TakenOver;
    try {
      taken = await ok(api.POST("/api/calls/{call_id}/takeover", { params: { path: { call_id: callId } } }));
    } catch (failure) {
      await leave(callId);
      throw failure;
    }
    if (taken.livekit) {
      // A voice call nobody said was one (a notification of a call no longer listed): open the microphone now.
      if (!voiceCallKnown) {
        enter(callId);
        if (!(await prepare({ microphone: true }))) return taken;
      }
      await join(taken.livekit);
    } else {
      await leave(callId); // the gateway has no rooms (voice not configured): nothing to speak in
    }
    return taken;
  }, [prepare, join, enter, leave]);

  const handBack = useCallback(async (callId: string, instructions: string | null) => {
    await ok(api.POST("/api/calls/{call_id}/handback", { params: { path: { call_id: callId } }, body: { instructions } }));
    await leave(callId);
  }, [leave]);

  const value = useMemo(() => ({ me, voice, voiceCall, takeOver, handBack, leave }), [me, voice, voiceCall, takeOver, handBack, leave]);
  return <TakeOverContext.Provider value={value}>{children}</TakeOverContext.Provider>;
}

export function useTakeOver(): TakeOver {
  const takeOver = useContext(TakeOverContext);
  if (!takeOver) throw new Error("useTakeOver outside TakeOverProvider");
  return takeOver;
}
