"""Local servers speaking the HTTP protocols of Gemini (generativelanguage) and of an
OpenAI-compatible chat-completions server, so the real SDKs and livekit plugins run against them.

Their "model" is a script, enough to exercise the protocol: a message naming an order number gets a
function call to order_lookup; a tool result gets a reply quoting it; anything else is echoed. Every
text reply is streamed in several chunks. Requests are kept for the tests to inspect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

ORDER = re.compile(r"ORD-\d+")


def words(text: str) -> list[str]:
    """A reply in pieces, as a model streams it."""
    parts = text.split(" ")
    return [part + (" " if i < len(parts) - 1 else "") for i, part in enumerate(parts)]


def scripted(last_user_text: str | None, tool_result: str | None) -> tuple[str, dict[str, Any]] | str:
    """A function call (name, arguments) or the text to say."""
    if tool_result is not None:
        return f"Here is what I found: {tool_result}"
    order = ORDER.search(last_user_text or "")
    if order:
        return "order_lookup", {"order_id": order.group()}
    return f"You said: {last_user_text}"


def sse(payloads: Iterator[dict[str, Any] | str]) -> StreamingResponse:
    def lines() -> Iterator[str]:
        for payload in payloads:
            yield f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream")


@dataclass
class FakeOpenAI:
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> Any:
            return {"object": "list", "data": [{"id": "local-model", "object": "model", "owned_by": "me"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            messages = body["messages"]
            last = messages[-1]
            user = next((m for m in reversed(messages) if m["role"] == "user"), None)
            decision = scripted(_text(user["content"]) if user else None,
                                _text(last["content"]) if last["role"] == "tool" else None)
            if not body.get("stream"):
                return JSONResponse({"error": {"message": "this fake streams only"}}, 400)
            return sse(self._chunks(body["model"], decision))

        return app

    def _chunks(self, model: str, decision: tuple[str, dict[str, Any]] | str) -> Iterator[dict[str, Any] | str]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
        if isinstance(decision, tuple):
            name, arguments = decision
            call = {"index": 0, "id": "call_fake_1", "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)}}
            yield {**base, "choices": [{"index": 0, "finish_reason": None,
                                        "delta": {"role": "assistant", "tool_calls": [call]}}]}
            finish = "tool_calls"
        else:
            for piece in words(decision):
                yield {**base, "choices": [{"index": 0, "finish_reason": None,
                                            "delta": {"role": "assistant", "content": piece}}]}
            finish = "stop"
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        yield {**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
        yield "[DONE]"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


@dataclass
class FakeGemini:
    requests: list[dict[str, Any]] = field(default_factory=list)
    api_keys: set[str] = field(default_factory=set)

    def app(self) -> FastAPI:
        app = FastAPI()

        # The SDK picks the API version (v1 or v1beta); both are served alike.
        @app.get("/{version}/models")
        async def models(version: str, request: Request) -> Any:
            self.api_keys.add(request.headers.get("x-goog-api-key", ""))
            return {"models": []}

        @app.post("/{version}/models/{model_and_method:path}")
        async def generate(version: str, model_and_method: str, request: Request) -> Any:
            self.api_keys.add(request.headers.get("x-goog-api-key", ""))
            model, _, method = model_and_method.partition(":")
            if method != "streamGenerateContent":
                return JSONResponse({"error": {"code": 400, "message": f"this fake streams only, not {method}"}}, 400)
            body = await request.json()
            self.requests.append(body)
            contents = body["contents"]
            parts = contents[-1]["parts"]
            response = next((p["functionResponse"] for p in parts if "functionResponse" in p), None)
            user = next((c for c in reversed(contents) if c["role"] == "user"
                         and any("text" in p for p in c["parts"])), None)
            decision = scripted(" ".join(p.get("text", "") for p in user["parts"]) if user else None,
                                json.dumps(response["response"]) if response else None)
            return sse(self._chunks(model, decision))

        return app

    def _chunks(self, model: str, decision: tuple[str, dict[str, Any]] | str) -> Iterator[dict[str, Any]]:
        def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            return {"candidates": [candidate], "modelVersion": model,
                    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}

        if isinstance(decision, tuple):
            name, arguments = decision
            yield chunk([{"functionCall": {"name": name, "args": arguments}}], "STOP")
            return
        pieces = words(decision)
        for piece in pieces[:-1]:
            yield chunk([{"text": piece}])
        yield chunk([{"text": pieces[-1]}], "STOP")
