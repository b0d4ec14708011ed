"""One AI agent session per call: dialogue, tools, whisper."""
