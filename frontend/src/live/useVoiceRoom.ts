import { useCallback, useEffect, useRef, useState } from "react";
import {
  createLocalAudioTrack,
  Room,
  RoomEvent,
  Track,
  type LocalAudioTrack,
  type Participant,
  type RemoteParticipant,
  type RemoteTrack,
} from "livekit-client";
import type { LiveKitJoin } from "../api/types";

export type VoiceState = "idle" | "connecting" | "connected" | "reconnecting" | "disconnected";
export type Speaker = "agent" | "customer";

export const MICROPHONE_REFUSED = "The microphone is blocked. Allow it for this site (the icon in the address bar), then call again.";
export const MICROPHONE_MISSING = "No microphone was found. Connect one, then call again.";
export const ROOM_UNREACHABLE = "The call's audio could not be reached";
export const ROOM_DISCONNECTED = "The call's audio was cut off.";

export interface VoiceRoom {
  state: VoiceState;
  /** What went wrong, in words to show as they are; null when nothing did. */
  problem: string | null;
  /** Who is talking right now. */
  speaking: ReadonlySet<Speaker>;
  muted: boolean;
  /** The browser would not play sound without a click: offer a button that calls ``startAudio``. */
  audioBlocked: boolean;
  /**
   * Call from the click's handler, before anything awaited: browsers let a page play sound (and ask for
   * the microphone) in answer to the user's gesture. False when the microphone was refused or missing.
   */
  prepare(options: { microphone: boolean }): Promise<boolean>;
  /** Connect to the room (publishing the microphone opened by ``prepare``, if any) and play what is said. */
  join(join: LiveKitJoin): Promise<void>;
  toggleMute(): Promise<void>;
  startAudio(): Promise<void>;
  /** Disconnect, release the microphone and the audio elements; nothing happens if not in a room. */
  leave(): Promise<void>;
}

/** Participants are named by the gateway's and router's tokens: customer-<call>, agent-<agent>. */
export function speakerOf(identity: string): Speaker | null {
  if (identity.startsWith("customer-")) return "customer";
  if (identity.startsWith("agent-")) return "agent";
  return null;
}

function microphoneProblem(failure: unknown): string {
  // getUserMedia rejects with a DOMException, which is not an Error in every engine.
  const name = typeof failure === "object" && failure !== null && "name" in failure ? String(failure.name) : "";
  if (name === "NotAllowedError" || name === "SecurityError") return MICROPHONE_REFUSED;
  if (name === "NotFoundError" || name === "OverconstrainedError") return MICROPHONE_MISSING;
  return `The microphone could not be opened: ${failure instanceof Error ? failure.message : String(failure)}`;
}

/**
 * The <audio> elements each room's remote tracks play through, kept by us: livekit-client detaches a
 * track's elements itself before it reports the track unsubscribed (the room server closing the room,
 * as it does when a call ends), so ``track.detach()`` would no longer name them then.
 */
const audioElements = new WeakMap<Room, Map<RemoteTrack, HTMLMediaElement>>();

function removeAudioElement(room: Room, track: RemoteTrack): void {
  track.detach();
  const elements = audioElements.get(room);
  elements?.get(track)?.remove();
  elements?.delete(track);
}

function removeAudioElements(room: Room): void {
  audioElements.get(room)?.forEach((_element, track) => removeAudioElement(room, track));
}

/**
 * One LiveKit room for a voice call: the dialer's customer (with a microphone) and the supervisor's
 * Listen (hidden, no microphone) both use it. Remote audio plays through <audio> elements appended to
 * the page (marked ``data-voice-participant``); they go when the track or the room does.
 */
export function useVoiceRoom(): VoiceRoom {
  const [state, setState] = useState<VoiceState>("idle");
  const [problem, setProblem] = useState<string | null>(null);
  const [speaking, setSpeaking] = useState<ReadonlySet<Speaker>>(new Set());
  const [muted, setMuted] = useState(false);
  const [audioBlocked, setAudioBlocked] = useState(false);
  const roomRef = useRef<Room | null>(null);
  const microphone = useRef<LocalAudioTrack | null>(null);
  const joined = useRef(false);

  const release = useCallback(() => {
    const room = roomRef.current;
    roomRef.current = null;
    joined.current = false;
    microphone.current?.stop();
    microphone.current = null;
    setSpeaking(new Set());
    setMuted(false);
    setAudioBlocked(false);
    return room;
  }, []);

  /** The current room, or a new one whose events update this hook while it is the current one. */
  const currentRoom = useCallback((): Room => {
    if (roomRef.current) return roomRef.current;
    const room = new Room();
    const isCurrent = () => roomRef.current === room;
    const elements = new Map<RemoteTrack, HTMLMediaElement>();
    audioElements.set(room, elements);
    room
      .on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _publication: unknown, participant: RemoteParticipant) => {
        // A room left meanwhile plays nothing more.
        if (track.kind !== Track.Kind.Audio || !isCurrent()) return;
        const element = track.attach();
        element.dataset.voiceParticipant = participant.identity;
        elements.set(track, element);
        document.body.append(element);
      })
      .on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => removeAudioElement(room, track))
      .on(RoomEvent.ActiveSpeakersChanged, (speakers: Participant[]) => {
        if (!isCurrent()) return;
        setSpeaking(new Set(speakers.map((speaker) => speakerOf(speaker.identity)).filter((who): who is Speaker => who !== null)));
      })
      .on(RoomEvent.AudioPlaybackStatusChanged, () => isCurrent() && setAudioBlocked(!room.canPlaybackAudio))
      .on(RoomEvent.Reconnecting, () => isCurrent() && setState("reconnecting"))
      .on(RoomEvent.Reconnected, () => isCurrent() && setState("connected"))
      .on(RoomEvent.Disconnected, () => {
        // leave() forgets the room first, so only a drop nobody asked for lands here.
        if (!isCurrent()) return;
        removeAudioElements(room);
        release();
        setState("disconnected");
        setProblem(ROOM_DISCONNECTED);
      });
    roomRef.current = room;
    return room;
  }, [release]);

  const prepare = useCallback(async ({ microphone: withMicrophone }: { microphone: boolean }) => {
    setProblem(null);
    const room = currentRoom();
    // Unlocks playback while the click still counts; a refusal shows as audioBlocked, not as a failure.
    room.startAudio().catch(() => undefined);
    if (!withMicrophone || microphone.current) return true;
    try {
      microphone.current = await createLocalAudioTrack({ echoCancellation: true, noiseSuppression: true });
      return true;
    } catch (failure) {
      release();
      setProblem(microphoneProblem(failure));
      return false;
    }
  }, [currentRoom, release]);

  const join = useCallback(async ({ url, token }: LiveKitJoin) => {
    if (joined.current) return;
    joined.current = true;
    const room = currentRoom();
    setProblem(null);
    setState("connecting");
    try {
      await room.connect(url, token);
      if (microphone.current) await room.localParticipant.publishTrack(microphone.current);
    } catch (failure) {
      if (roomRef.current !== room) return; // left meanwhile
      release();
      await room.disconnect();
      setState("disconnected");
      setProblem(`${ROOM_UNREACHABLE} (${failure instanceof Error ? failure.message : String(failure)}). Try again in a moment.`);
      return;
    }
    if (roomRef.current === room) {
      setState("connected");
      setAudioBlocked(!room.canPlaybackAudio);
    }
  }, [currentRoom, release]);

  const toggleMute = useCallback(async () => {
    const track = microphone.current;
    if (!track) return;
    if (track.isMuted) await track.unmute();
    else await track.mute();
    setMuted(track.isMuted);
  }, []);

  const startAudio = useCallback(async () => {
    const room = roomRef.current;
    if (!room) return;
    await room.startAudio().catch(() => undefined);
    setAudioBlocked(!room.canPlaybackAudio);
  }, []);

  const leave = useCallback(async () => {
    const room = release();
    setState("idle");
    setProblem(null);
    if (!room) return;
    removeAudioElements(room);
    await room.disconnect();
  }, [release]);

  useEffect(() => () => void leave(), [leave]);

  return { state, problem, speaking, muted, audioBlocked, prepare, join, toggleMute, startAudio, leave };
}
