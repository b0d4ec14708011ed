"""`make bench` (speech): how well and how fast the offline speech components work on customer calls.

- WER of the offline STT (Whisper tiny.en + the transcript normaliser) on customer-service sentences,
  spoken by two synthetic voices (Piper joe; espeak-ng when /usr/bin/espeak-ng exists), clean and
  through a telephone band (8 kHz, 300-3400 Hz);
- STT latency per utterance, Piper's time to first audio;
- resident memory of each loaded model;
- end of turn: livekit's local audio turn detector (v1-mini) on finished sentences and on sentences cut
  mid-way (a customer pausing to think), against VAD silence, which ends the turn at any pause.

Synthetic voices are cleaner than callers, so the WER here is a floor, not a promise. Prints a JSON dict
of figures and writes it to bench/results/speech_wer.json; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
from livekit import rtc

from agent_worker.offline_speech import offline_tts, offline_vad
from agent_worker.piper_voice import VoiceFiles, piper_voice
from agent_worker.spoken_text import normalise_transcript
from agent_worker.whisper_stt import WhisperSTT, WhisperWeights, whisper_model

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "speech_wer.json"
ESPEAK = Path("/usr/bin/espeak-ng")
PHONE_RATE = 8000
PHONE_BAND_HZ = (300.0, 3400.0)
EOT_RATE = 16000
EOT_WINDOW_SECONDS = 1.2  # the most audio livekit's local end-of-turn model takes
EOT_UNLIKELY_THRESHOLD_EN = 0.36  # livekit-agents' own English threshold for the mini model
VAD_TRAILING_SILENCE_SECONDS = 0.25  # the silence the turn detector waits for before it predicts

# (what the customer says, what the transcript should read)
UTTERANCES = [
    ("Where is my order ORD-1042?", "where is my order ORD-1042"),
    ("Hi, I'm calling about order ORD-2001, it still hasn't arrived.",
     "hi i'm calling about order ORD-2001 it still hasn't arrived"),
    ("Can you tell me when order ORD-3003 will be delivered?", "can you tell me when order ORD-3003 will be delivered"),
    ("I'd like a refund for my order please.", "i'd like a refund for my order please"),
    ("I was charged twenty five dollars twice for the same order.",
     "i was charged $25 twice for the same order"),
    ("Please refund forty dollars to my card.", "please refund $40 to my card"),
    ("The item arrived broken and I want my money back.", "the item arrived broken and i want my money back"),
    ("I need to change the delivery address for my order.", "i need to change the delivery address for my order"),
    ("Please send it to twelve High Street, Leeds instead.", "please send it to 12 high street leeds instead"),
    ("My new address is forty two Baker Street, London.", "my new address is 42 baker street london"),
    ("My email is jo at example dot com.", "my email is jo@example.com"),
    ("You can reach me at sam dot lee at example dot com.", "you can reach me at sam.lee@example.com"),
    ("I never received a confirmation email.", "i never received a confirmation email"),
    ("This is the third time I have called about this problem.",
     "this is the third time i have called about this problem"),
    ("Your courier left the parcel in the rain.", "your courier left the parcel in the rain"),
    ("I am really not happy with the service.", "i am really not happy with the service"),
    ("Can I speak to a manager please?", "can i speak to a manager please"),
    ("How long does a refund usually take?", "how long does a refund usually take"),
    ("I want to cancel my order before it ships.", "i want to cancel my order before it ships"),
    ("What are your opening hours on Saturday?", "what are your opening hours on saturday"),
    ("The wrong size was delivered, I ordered a medium.", "the wrong size was delivered i ordered a medium"),
    ("Can you open a ticket for me?", "can you open a ticket for me"),
    ("Yes, please go ahead.", "yes please go ahead"),
    ("No, that's everything, thank you.", "no that's everything thank you"),
]


def words(text: str) -> list[str]:
    """Lowercased words; punctuation around them dropped, the ones inside codes and emails kept."""
    return [w.strip(".,-") for w in re.sub(r"[^\w@.$'-]+", " ", text.lower()).split() if w.strip(".,-")]


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + insertions + deletions (Levenshtein over words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def samples_of(frames: list[rtc.AudioFrame]) -> tuple[np.ndarray, int]:
    frame = rtc.combine_audio_frames(frames)
    return np.frombuffer(frame.data, dtype=np.int16).copy(), frame.sample_rate


def frame_of(samples: np.ndarray, rate: int) -> rtc.AudioFrame:
    return rtc.AudioFrame(samples.astype(np.int16).tobytes(), rate, 1, len(samples))


def resampled(samples: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    resampler = rtc.AudioResampler(rate, to_rate, num_channels=1, quality=rtc.AudioResamplerQuality.HIGH)
    frames = resampler.push(frame_of(samples, rate)) + resampler.flush()
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])


def telephone(samples: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """What a phone line leaves of it: 8 kHz, and only 300-3400 Hz (an FFT mask: zero-phase, exact)."""
    narrow = resampled(samples, rate, PHONE_RATE).astype(np.float64)
    spectrum = np.fft.rfft(narrow)
    frequencies = np.fft.rfftfreq(len(narrow), 1 / PHONE_RATE)
    spectrum[(frequencies < PHONE_BAND_HZ[0]) | (frequencies > PHONE_BAND_HZ[1])] = 0
    return np.clip(np.fft.irfft(spectrum, len(narrow)), -32768, 32767).astype(np.int16), PHONE_RATE


def piper_speaks(text: str) -> tuple[np.ndarray, int]:
    return samples_of(list(offline_tts().sentences(text)))


def espeak_speaks(text: str) -> tuple[np.ndarray, int]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run([str(ESPEAK), "-v", "en-us", "-w", out.name, text], check=True)
        with wave.open(out.name) as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).copy(), wav.getframerate()


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def model_memory() -> dict[str, float]:
    """Resident memory each model adds when loaded (in this order), in MB."""
    from livekit.local_inference import init_eot

    loads: list[tuple[str, Callable[[], object]]] = [
        ("whisper_tiny_en", lambda: whisper_model(WhisperWeights.tiny_en())),
        ("piper_joe", lambda: piper_voice(VoiceFiles.joe())),
        ("silero_vad", offline_vad),
        ("turn_detector_v1_mini", init_eot),
    ]
    added = {}
    for name, load in loads:
        before = resident_mb()
        load()
        added[name] = round(resident_mb() - before, 1)
    return added


def recognition(voices: dict[str, Callable[[str], tuple[np.ndarray, int]]]) -> dict[str, object]:
    stt = WhisperSTT()
    stt.transcribe([frame_of(*piper_speaks("Warming up."))])
    table: dict[str, dict[str, float]] = {}
    latencies: list[tuple[float, float]] = []  # (audio seconds, recognition seconds), clean Piper
    misheard: list[dict[str, str]] = []
    for voice, speak in voices.items():
        for condition in ("clean", "telephone"):
            errors = total = 0
            for said, expected in UTTERANCES:
                samples, rate = speak(said)
                if condition == "telephone":
                    samples, rate = telephone(samples, rate)
                started = time.perf_counter()
                heard = normalise_transcript(stt.transcribe([frame_of(samples, rate)]).text)
                if voice == "piper_joe" and condition == "clean":
                    latencies.append((len(samples) / rate, time.perf_counter() - started))
                reference = words(expected)
                errors += word_errors(reference, words(heard))
                total += len(reference)
                if words(heard) != reference:
                    misheard.append({"voice": voice, "condition": condition, "expected": expected, "heard": heard})
            table.setdefault(voice, {})[condition] = round(errors / total, 3)
    around_3s = [took for seconds, took in latencies if 2.5 <= seconds <= 3.5]
    return {
        "wer": table,
        "utterances": len(UTTERANCES),
        "stt_latency_seconds": {
            "median": round(statistics.median(t for _, t in latencies), 3),
            "max": round(max(t for _, t in latencies), 3),
            "median_for_2.5_to_3.5_s_of_speech": round(statistics.median(around_3s), 3) if around_3s else None,
            "median_audio_seconds": round(statistics.median(s for s, _ in latencies), 2),
            "real_time_factor_median": round(statistics.median(t / s for s, t in latencies), 3),
        },
        "misheard": misheard,
    }


async def time_to_first_audio() -> dict[str, float]:
    """Piper, through the livekit TTS interface: one sentence, and a three-sentence reply."""
    tts = offline_tts()

    async def first_and_all(text: str) -> tuple[float, float]:
        started, first = time.perf_counter(), 0.0
        async for _ in tts.synthesize(text):
            first = first or time.perf_counter() - started
        return first, time.perf_counter() - started

    single = [await first_and_all(said) for said, _ in UTTERANCES[:10]]
    reply = [await first_and_all("Thank you for waiting. I can see that order ORD-1042 shipped yesterday. "
                                 "It should arrive by Thursday.") for _ in range(5)]
    return {
        "one_sentence_first_audio_median": round(statistics.median(f for f, _ in single), 3),
        "three_sentence_reply_first_audio_median": round(statistics.median(f for f, _ in reply), 3),
        "three_sentence_reply_complete_median": round(statistics.median(t for _, t in reply), 3),
    }


def end_of_turn() -> dict[str, object]:
    """The mini turn detector on each Piper sentence finished, and cut at half (followed by the silence
    after which it is asked); VAD silence ends both, so it is right on every finished one and wrong on
    every cut one."""
    from livekit.local_inference import EOT

    detector = EOT()
    silence = np.zeros(int(VAD_TRAILING_SILENCE_SECONDS * EOT_RATE), dtype=np.int16)
    window = int(EOT_WINDOW_SECONDS * EOT_RATE)
    finished, cut, took = [], [], []
    for said, _ in UTTERANCES:
        samples = resampled(*piper_speaks(said), EOT_RATE)
        for ending, scores in ((samples, finished), (samples[: len(samples) // 2], cut)):
            started = time.perf_counter()
            scores.append(float(detector.predict(np.concatenate([ending, silence])[-window:])))
            took.append(time.perf_counter() - started)
    detector.close()
    finished_right = sum(p >= EOT_UNLIKELY_THRESHOLD_EN for p in finished) / len(finished)
    cut_right = sum(p < EOT_UNLIKELY_THRESHOLD_EN for p in cut) / len(cut)
    return {
        "turn_detector_v1_mini": {
            "finished_recognised_as_finished": round(finished_right, 3),
            "cut_recognised_as_unfinished": round(cut_right, 3),
            "accuracy": round((finished_right + cut_right) / 2, 3),
            "median_probability_finished": round(statistics.median(finished), 3),
            "median_probability_cut": round(statistics.median(cut), 3),
            "inference_seconds_median": round(statistics.median(took), 4),
        },
        "vad_silence": {"finished_recognised_as_finished": 1.0, "cut_recognised_as_unfinished": 0.0,
                        "accuracy": 0.5, "inference_seconds_median": 0.0},
    }


def main() -> None:
    figures: dict[str, object] = {"model_memory_mb": model_memory()}
    voices = {"piper_joe": piper_speaks}
    if ESPEAK.exists() and shutil.which(str(ESPEAK)):
        voices["espeak_ng"] = espeak_speaks
    else:
        figures["espeak_ng"] = f"not measured: {ESPEAK} is not installed (apt-get install espeak-ng)"
    figures.update(recognition(voices))
    figures["tts_time_to_first_audio_seconds"] = asyncio.run(time_to_first_audio())
    figures["end_of_turn"] = end_of_turn()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
