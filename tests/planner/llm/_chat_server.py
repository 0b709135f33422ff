"""A real local HTTP server that speaks chat-completions (scripted replies), for the model planner tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

import pytest

# A scripted reply: a JSON body (200), (status, body) or (status, body, delay_s, headers), or a callable
Reply = Union[dict[str, Any], tuple[Any, ...], Callable[[dict[str, Any]], dict[str, Any]]]


class ChatServer:
    """http.server on 127.0.0.1 (random port, own thread) replaying scripted chat-completions replies."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                server.paths.append(self.path)
                reply = server.replies.pop(0) if server.replies else (500, {"error": "script exhausted"})
                if callable(reply):
                    reply = reply(body)
                status, payload, delay, headers = 200, reply, 0.0, {}
                if isinstance(reply, tuple):
                    status, payload = reply[0], reply[1]
                    delay = reply[2] if len(reply) > 2 else 0.0
                    headers = reply[3] if len(reply) > 3 else {}
                if delay:
                    time.sleep(delay)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[list[Reply]], ChatServer]]:
    servers: list[ChatServer] = []

    def start(replies: list[Reply]) -> ChatServer:
        s = ChatServer(replies)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def tool_call_reply(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    tcs = [
        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for i, (n, a) in enumerate(calls)
    ]
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": tcs},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }


def content_reply(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}


