import { expect, test as base, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { bearer, freshNumber, PASSWORD, signIn } from "./desk";

// A voice call end to end: the customer talks from the dialer through Chromium's fake microphone,
// which plays a spoken question (made with the platform's own Piper voice); the supervisor's open
// dashboard shows the customer's words as the agent-worker heard them, the dialer plays the agent's
// voice (measured, not assumed), the supervisor listens in, and mute and hang-up do what they say.
// WebRTC needs a real interface: `make test` runs this inside the sealed network namespace.

const PYTHON = process.env.PLATFORM_PYTHON ?? "../.venv/bin/python";
/** A supervisor and a voice agent of their own, named for this run of the test. */
function voiceDesk() {
  const run = Date.now().toString(36);
  const agent = { name: `Voice desk ${run}`, number: freshNumber(8) };
  return {
    supervisor: { name: `Vera Voice ${run}`, email: `vera-${run}@e2e.local`, password: "vera-password-1" },
    agent,
    greeting: `Hello, this is ${agent.name}. How can I help?`,
  };
}

// The fake microphone loops this file: silence while the room is joined and the agent greets, the
// question, then silence for the answer. One loop is QUESTION_LOOP_MS long.
const QUESTION = "Hello. Where is my parcel? My order number is O R D three zero zero three.";
const SILENCE_BEFORE_S = 4;
const SILENCE_AFTER_S = 8;
const QUESTION_LOOP_MS = 20_000; // an upper bound: the speech itself is about 4 s
const QUESTION_WAV = resolve("test-results/voice/question.wav");
// Speech through WebRTC and the browser's output measures well above this; silence is 0.
const AUDIBLE_RMS = 0.01;

function speakQuestion(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  // Through the agent-worker's own Piper module: the one place the platform loads the (GPL) voice.
  const script = `
import io, sys, wave
from agent_worker.piper_voice import VoiceFiles, piper_voice

path, text, before, after = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
spoken = io.BytesIO()
with wave.open(spoken, "wb") as out:
    piper_voice(VoiceFiles.joe()).synthesize_wav(text, out)
spoken.seek(0)
with wave.open(spoken, "rb") as speech, wave.open(path, "wb") as out:
    out.setparams(speech.getparams())
    frame = speech.getsampwidth() * speech.getnchannels()
    silence = lambda seconds: bytes(int(seconds * speech.getframerate()) * frame)
    out.writeframes(silence(before) + speech.readframes(speech.getnframes()) + silence(after))
`;
  execFileSync(PYTHON, ["-c", script, path, QUESTION, String(SILENCE_BEFORE_S), String(SILENCE_AFTER_S)], { stdio: "inherit" });
}

// Chromium takes its microphone from the file at launch, so the file is made before this worker's browser.
const test = base.extend<object, object>({
  launchOptions: [
    async ({ launchOptions }, use) => {
      speakQuestion(QUESTION_WAV);
      await use({
        ...launchOptions,
        args: [...(launchOptions.args ?? []), "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               `--use-file-for-fake-audio-capture=${QUESTION_WAV}`],
      });
    },
    { scope: "worker" },
  ],
});

type Peaks = Record<string, number>;

/**
 * Records on the page, per remote participant (customer-…, agent-…), the loudest RMS of their audio
 * since it arrived: a WebAudio analyser on the MediaStream the app's <audio> element plays.
 */
function measureRemoteAudio(page: Page) {
  return page.addInitScript(() => {
    const w = window as unknown as { remoteAudioPeaks: Peaks };
    w.remoteAudioPeaks = {};
    // Looked for every 100 ms rather than on DOM changes: an element can be in the page before its
    // stream is attached (srcObject still null), and nothing in the DOM changes when it is.
    setInterval(() => {
      for (const element of document.querySelectorAll<HTMLAudioElement>("audio[data-voice-participant]:not([data-measured])")) {
        if (!(element.srcObject instanceof MediaStream)) continue;
        element.dataset.measured = "yes";
        const kind = (element.dataset.voiceParticipant ?? "").split("-")[0];
        w.remoteAudioPeaks[kind] ??= 0;
        const context = new AudioContext();
        const analyser = context.createAnalyser();
        analyser.fftSize = 2048;
        context.createMediaStreamSource(element.srcObject).connect(analyser);
        void context.resume();
        const samples = new Float32Array(analyser.fftSize);
        setInterval(() => {
          analyser.getFloatTimeDomainData(samples);
          const rms = Math.sqrt(samples.reduce((sum, sample) => sum + sample * sample, 0) / samples.length);
          w.remoteAudioPeaks[kind] = Math.max(w.remoteAudioPeaks[kind], rms);
        }, 50);
      }
    }, 100);
  });
}

/** The loudest the agent's or the customer's audio has been on ``page`` (-1: never arrived there). */
const loudest = (page: Page, kind: "agent" | "customer") =>
  page.evaluate((kind) => (window as unknown as { remoteAudioPeaks: Peaks }).remoteAudioPeaks[kind] ?? -1, kind);

test("a customer talks with the agent by voice while the supervisor reads and listens", async ({ browser, request }) => {
  test.setTimeout(360_000);
  const { supervisor, agent, greeting } = voiceDesk();
  const admin = await bearer(request, "admin@demo.local", PASSWORD);
  expect((await request.post("/api/supervisors", { headers: admin, data: { email: supervisor.email, password: supervisor.password, full_name: supervisor.name } })).ok()).toBeTruthy();
  const own = await bearer(request, supervisor.email, supervisor.password);
  const created = await request.post("/api/agents", {
    headers: own,
    data: { name: agent.name, phone_number: agent.number, greeting, tools: [{ name: "order_lookup", requires_approval: false }] },
  });
  expect(created.ok()).toBeTruthy();

  const desk = await (await browser.newContext()).newPage();
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await measureRemoteAudio(desk);
  await measureRemoteAudio(phone);
  await signIn(desk, supervisor.email, supervisor.password);
  const card = desk.getByRole("article", { name: `Agent ${agent.name}` });
  await expect(card.getByRole("status", { name: /Live updates: Live/ })).toBeVisible();

  await phone.goto("/dial");
  await phone.getByRole("textbox", { name: "Number" }).fill(agent.number);
  await phone.getByRole("button", { name: "Voice call" }).click();
  const call = phone.getByRole("region", { name: `Call with ${agent.name}` });
  await expect(call.getByTestId("call-status")).toHaveText("Connected");
  await expect(call.getByTestId("voice-state")).toContainText("Audio connected", { timeout: 30_000 });

  // The agent greets: its words as captions, and its voice as sound on the customer's page.
  await expect(call.getByText(greeting)).toBeVisible({ timeout: 90_000 });
  await expect.poll(() => loudest(phone, "agent"), { message: "the agent is heard on the dialer", timeout: 30_000 }).toBeGreaterThan(AUDIBLE_RMS);

  // The customer's spoken question reaches the supervisor's dashboard as words.
  const customerLines = card.locator(".line-customer");
  await expect(customerLines.filter({ hasText: /parcel/i }).first()).toBeVisible({ timeout: 90_000 });
  await expect(card.getByTestId("call-line")).toContainText("voice");
  await expect(call.locator(".bubble-customer").filter({ hasText: /parcel/i }).first()).toBeVisible(); // captions, both sides

  // The supervisor listens in: the call's audio (the customer's looping question, the agent's answers)
  // plays on the dashboard, then stops.
  await card.getByRole("button", { name: "Listen" }).click();
  await expect(card.getByTestId("voice-state")).toContainText("Audio connected", { timeout: 30_000 });
  for (const kind of ["customer", "agent"] as const) {
    await expect.poll(() => loudest(desk, kind), { message: `the ${kind} is heard by the listener`, timeout: 2 * QUESTION_LOOP_MS }).toBeGreaterThan(AUDIBLE_RMS);
  }
  await card.getByRole("button", { name: "Stop listening" }).click();
  await expect(card.getByRole("button", { name: "Listen" })).toBeVisible();
  await expect(desk.locator("audio[data-voice-participant]")).toHaveCount(0);

  // Muted, the looping question no longer reaches the agent; unmuted, it does again.
  await call.getByRole("button", { name: "Mute" }).click();
  await expect(call.getByRole("button", { name: "Unmute" })).toBeVisible();
  await phone.waitForTimeout(4_000); // an utterance cut by the mute may still be transcribed
  const heardBeforeMute = await customerLines.count();
  await phone.waitForTimeout(QUESTION_LOOP_MS);
  expect(await customerLines.count()).toBe(heardBeforeMute);
  await call.getByRole("button", { name: "Unmute" }).click();
  await expect.poll(() => customerLines.count(), { timeout: 2 * QUESTION_LOOP_MS + 30_000 }).toBeGreaterThan(heardBeforeMute);

  // Hang up: the call ends for both, and the dialer leaves the room.
  await call.getByRole("button", { name: "Hang up" }).click();
  await expect(call.getByTestId("call-status")).toHaveText("You hung up.");
  await expect(phone.locator("audio[data-voice-participant]")).toHaveCount(0);
  await expect(card.getByTestId("call-line")).toContainText("ended");
});
