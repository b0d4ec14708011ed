// livekit-client's Room and microphone as tests drive them: the test says how connecting and the
// microphone go, then fires the room's events by hand. Use with
//   vi.mock("livekit-client", async (original) => ({ ...(await original()), ...livekitFake }))
import { vi } from "vitest";

type Handler = (...args: unknown[]) => void;

export class FakeRoom {
  /** The rooms the code under test made, newest last. */
  static made: FakeRoom[] = [];
  /** Set to make connect() fail with this message. */
  static connectFailure: string | null = null;

  readonly handlers = new Map<string, Handler[]>();
  readonly remoteParticipants = new Map();
  canPlaybackAudio = true;
  readonly localParticipant = { publishTrack: vi.fn(async () => undefined) };
  readonly connect = vi.fn(async (_url: string, _token: string) => {
    if (FakeRoom.connectFailure) throw new Error(FakeRoom.connectFailure);
  });
  readonly disconnect = vi.fn(async () => this.emit("disconnected"));
  readonly startAudio = vi.fn(async () => undefined);

  constructor() {
    FakeRoom.made.push(this);
  }

  on(event: string, handler: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), handler]);
    return this;
  }

  emit(event: string, ...args: unknown[]): void {
    for (const handler of this.handlers.get(event) ?? []) handler(...args);
  }

  static last(): FakeRoom {
    const room = FakeRoom.made.at(-1);
    if (!room) throw new Error("no room was made");
    return room;
  }

  static reset(): void {
    FakeRoom.made = [];
    FakeRoom.connectFailure = null;
  }
}

export function fakeMicrophone() {
  const track = {
    isMuted: false,
    mute: vi.fn(async () => void (track.isMuted = true)),
    unmute: vi.fn(async () => void (track.isMuted = false)),
    stop: vi.fn(),
  };
  return track;
}

/**
 * A remote audio track as livekit-client hands it over: ``attach`` makes an <audio> element, and
 * ``detach`` names the elements still attached, none once the library has detached them itself.
 */
export function fakeRemoteAudioTrack() {
  let attached: HTMLAudioElement[] = [];
  return {
    kind: "audio",
    attach: vi.fn(() => {
      const element = document.createElement("audio");
      attached.push(element);
      return element;
    }),
    detach: vi.fn(() => {
      const detached = attached;
      attached = [];
      return detached;
    }),
  };
}

export const livekitFake = { Room: FakeRoom, createLocalAudioTrack: vi.fn(async () => fakeMicrophone()) };
