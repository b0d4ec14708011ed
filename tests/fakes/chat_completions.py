"""A local server speaking the chat-completions protocol at both Groq's path (/openai/v1/...) and the
OpenAI-compatible one (/v1/...), answering each request with the next scripted reply, so the real groq
and openai SDKs can be tested on rate limits and malformed answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class ScriptedChatCompletions:
    """Each reply is a JSON-able object (sent as the message content), a string (sent as is, for
    malformed answers), or an HTTP status (an error with Retry-After: 0.1)."""

    replies: list[Any]
    model: str = "scripted-model"
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        async def chat(request: Request) -> Any:
            self.requests.append(await request.json())
            reply = self.replies.pop(0)
            if isinstance(reply, int):
                return JSONResponse({"error": {"message": "rate limited", "type": "tokens"}}, reply,
                                    headers={"retry-after": "0.1"})
            content = reply if isinstance(reply, str) else json.dumps(reply)
            return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": self.model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}

        app.post("/openai/v1/chat/completions")(chat)
        app.post("/v1/chat/completions")(chat)
        return app
