import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeRoom, fakeMicrophone, fakeRemoteAudioTrack, livekitFake } from "../../live/livekitFake";
import { MICROPHONE_REFUSED, ROOM_DISCONNECTED, ROOM_UNREACHABLE } from "../../live/useVoiceRoom";
import { FakeEventSource, renderAt, stubFetch } from "../../test-helpers";
import { Dialer, VOICE_NOT_CONFIGURED } from "./Dialer";

vi.mock("livekit-client", async (original) => ({ ...(await original<object>()), ...(await import("../../live/livekitFake")).livekitFake }));

const CALL_STARTED = {
  call_id: "c1", agent_id: "a1", supervisor_id: "s1", agent_name: "Orders", caller: "anonymous", channel: "voice" as const,
};
const JOIN = { url: "ws://rooms.test", room: "call-c1", token: "room-token" };
const VOICE_CALL = {
  call_id: "c1", call_token: "call-token", expires_in: 14_400, status: "connected", queue_position: null,
  agent: { name: "Orders" }, stream_url: "/api/calls/c1/stream?token=call-token", livekit: JOIN,
};

beforeEach(() => {
  FakeRoom.reset();
  FakeEventSource.reset();
  vi.stubGlobal("EventSource", FakeEventSource);
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.clearAllMocks();
});

async function placeVoiceCall(routes: Record<string, unknown> = {}) {
  const calls = stubFetch({ "/api/directory": [], "/health": { livekit: "configured" }, "/api/calls": [201, VOICE_CALL],
                            "/api/calls/c1/end": [202, { event_id: "e1" }], ...routes });
  renderAt("/dial", <Dialer />);
  await userEvent.type(screen.getByLabelText("Number"), "+1-555-0101");
  await userEvent.click(screen.getByRole("button", { name: "Voice call" }));
  return calls;
}

describe("a voice call from the dialer", () => {
  it("joins the call's room with the microphone and shows who is speaking", async () => {
    const microphone = fakeMicrophone();
    livekitFake.createLocalAudioTrack.mockResolvedValueOnce(microphone);
    await placeVoiceCall();
    expect(await screen.findByTestId("voice-state")).toHaveTextContent("Audio connected");
    const room = FakeRoom.last();
    expect(room.startAudio).toHaveBeenCalled();
    expect(room.connect).toHaveBeenCalledWith(JOIN.url, JOIN.token);
    expect(room.localParticipant.publishTrack).toHaveBeenCalledWith(microphone);
    act(() => room.emit("activeSpeakersChanged", [{ identity: "agent-a1" }]));
    expect(screen.getByTestId("speaking-agent")).toHaveTextContent("Orders speaking");
    expect(screen.getByTestId("speaking-customer")).toHaveTextContent("You quiet");
    expect(screen.queryByLabelText("Message")).toBeNull(); // you talk; the transcript shows captions
  });

  it("says so when the microphone is refused, and places no call", async () => {
    livekitFake.createLocalAudioTrack.mockRejectedValueOnce(new DOMException("Permission denied", "NotAllowedError"));
    const requests = await placeVoiceCall();
    expect(await screen.findByRole("alert")).toHaveTextContent(MICROPHONE_REFUSED);
    expect(requests).not.toContain("/api/calls");
  });

  it("says so when the room cannot be reached", async () => {
    FakeRoom.connectFailure = "could not establish signal connection";
    await placeVoiceCall();
    expect(await screen.findByRole("alert")).toHaveTextContent(`${ROOM_UNREACHABLE} (could not establish signal connection)`);
    expect(screen.getByTestId("voice-state")).toHaveTextContent("Audio disconnected");
  });

  it("shows a dropped connection reconnecting, back, and lost", async () => {
    await placeVoiceCall();
    await screen.findByText(/Audio connected/);
    const room = FakeRoom.last();
    act(() => room.emit("reconnecting"));
    expect(screen.getByTestId("voice-state")).toHaveTextContent("Reconnecting…");
    act(() => room.emit("reconnected"));
    expect(screen.getByTestId("voice-state")).toHaveTextContent("Audio connected");
    act(() => room.emit("disconnected"));
    expect(screen.getByRole("alert")).toHaveTextContent(ROOM_DISCONNECTED);
  });

  it("mutes and unmutes the microphone", async () => {
    const microphone = fakeMicrophone();
    livekitFake.createLocalAudioTrack.mockResolvedValueOnce(microphone);
    await placeVoiceCall();
    await userEvent.click(await screen.findByRole("button", { name: "Mute" }));
    expect(microphone.mute).toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Unmute" }));
    expect(microphone.unmute).toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Mute" })).toBeInTheDocument();
  });

  it("hangs up through the call's route, then leaves the room and frees the microphone", async () => {
    const microphone = fakeMicrophone();
    livekitFake.createLocalAudioTrack.mockResolvedValueOnce(microphone);
    const requests = await placeVoiceCall();
    await screen.findByText(/Audio connected/);
    await userEvent.click(screen.getByRole("button", { name: "Hang up" }));
    expect(screen.getByTestId("call-status")).toHaveTextContent("You hung up.");
    expect(requests).toContain("/api/calls/c1/end");
    await waitFor(() => expect(FakeRoom.last().disconnect).toHaveBeenCalled());
    expect(microphone.stop).toHaveBeenCalled();
    expect(screen.queryByRole("alert")).toBeNull(); // leaving is not a dropped call
  });

  it("plays the agent through an audio element that goes with the call, also when the server closes the room first", async () => {
    await placeVoiceCall();
    await screen.findByText(/Audio connected/);
    const room = FakeRoom.last();
    const track = fakeRemoteAudioTrack();
    act(() => room.emit("trackSubscribed", track, {}, { identity: "agent-a1" }));
    expect(document.querySelector('audio[data-voice-participant="agent-a1"]')).not.toBeNull();
    // livekit-client detaches the track's elements before it reports the track unsubscribed.
    track.detach();
    act(() => room.emit("trackUnsubscribed", track));
    expect(document.querySelector("audio[data-voice-participant]")).toBeNull();
  });

  it("removes the audio elements when the room is cut off", async () => {
    await placeVoiceCall();
    await screen.findByText(/Audio connected/);
    const room = FakeRoom.last();
    act(() => room.emit("trackSubscribed", fakeRemoteAudioTrack(), {}, { identity: "agent-a1" }));
    act(() => room.emit("disconnected"));
    expect(document.querySelector("audio[data-voice-participant]")).toBeNull();
  });

  it("waits in the queue, then joins when the agent answers", async () => {
    await placeVoiceCall({ "/api/calls": [201, { ...VOICE_CALL, status: "queued", queue_position: 2 }] });
    expect(await screen.findByTestId("call-status")).toHaveTextContent("You are number 2 in the queue.");
    expect(FakeRoom.last().connect).not.toHaveBeenCalled();
    const stream = await FakeEventSource.at("/api/calls/c1/stream");
    expect(stream.query.get("token")).toBe("call-token");
    stream.emit("call.started", CALL_STARTED);
    await waitFor(() => expect(FakeRoom.last().connect).toHaveBeenCalledWith(JOIN.url, JOIN.token));
  });
});

describe("when voice is unavailable", () => {
  it("disables voice calls and says why, from the health report", async () => {
    stubFetch({ "/api/directory": [{ name: "Orders", phone_number: "+1-555-0101" }],
                "/health": [503, { status: "degraded", livekit: "not configured (chat only)" }] });
    renderAt("/dial", <Dialer />);
    expect(await screen.findByTestId("voice-unavailable")).toHaveTextContent(VOICE_NOT_CONFIGURED);
    await userEvent.type(screen.getByLabelText("Number"), "+1-555-0101");
    expect(screen.getByRole("button", { name: "Voice call" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Voice Orders" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Call (chat)" })).toBeEnabled();
  });

  it("disables voice calls with the server's message when it refuses one", async () => {
    const message = "voice calls need LiveKit (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET); use the chat channel";
    await placeVoiceCall({ "/api/calls": [422, { error: "voice_unavailable", message }] });
    expect(await screen.findByRole("alert")).toHaveTextContent(message);
    expect(screen.getByRole("button", { name: "Voice call" })).toBeDisabled();
    expect(screen.getByTestId("voice-unavailable")).toHaveTextContent(message);
  });
});
