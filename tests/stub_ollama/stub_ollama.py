#!/usr/bin/env python3
"""Stand-in Ollama backend for hx.litellm tests (Python standard library only).

Implements what LiteLLM's ollama_chat/ and ollama/ providers call -- /api/chat and
/api/generate (streaming NDJSON included), /api/show, /api/tags, /api/version -- and
answers "hello from <name>" so a test can see which backend served a request.

A small control surface drives fault-injection tests:
  POST /_stub/mode  {"mode": "ok" | "error500" | "hang"}
  GET  /_stub/stats  request counts per path and per model
"""

import argparse
import datetime
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mode": "ok", "stats": {}, "models": {}}
LOCK = threading.Lock()
HANG_SECONDS = 600


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _count(key, table="stats"):
    with LOCK:
        STATE[table][key] = STATE[table].get(key, 0) + 1


class Handler(BaseHTTPRequestHandler):
    server_version = "stub-ollama/1.0"
    protocol_version = "HTTP/1.1"

    # -- helpers ---------------------------------------------------------
    def log_message(self, fmt, *args):  # one line per request, no bodies
        sys.stdout.write("%s %s %s\n" % (self.server.name, self.address_string(), fmt % args))
        sys.stdout.flush()

    def _json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def _fault(self):
        """Apply the injected fault; return True when the request was answered."""
        mode = STATE["mode"]
        if mode == "error500":
            self._json(500, {"error": "injected failure on %s" % self.server.name})
            return True
        if mode == "hang":
            time.sleep(HANG_SECONDS)
            self._json(503, {"error": "hung"})
            return True
        return False

    def _known(self, model):
        return not self.server.models or model in self.server.models or model.split(":")[0] in self.server.models

    # -- routes ----------------------------------------------------------
    def do_GET(self):  # noqa: N802 (http.server API)
        _count("GET " + self.path)
        if self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/api/version":
            self._json(200, {"version": "0.5.7"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [self._tag(m) for m in self.server.models]})
        elif self.path == "/_stub/stats":
            with LOCK:
                self._json(200, {"name": self.server.name, "mode": STATE["mode"],
                                 "paths": dict(STATE["stats"]), "models": dict(STATE["models"])})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        _count("POST " + self.path)
        req = self._body()
        if req is None:
            self._json(400, {"error": "invalid JSON body"})
            return
        if self.path == "/_stub/mode":
            mode = req.get("mode")
            if mode not in ("ok", "error500", "hang"):
                self._json(400, {"error": "mode must be ok, error500 or hang"})
                return
            with LOCK:
                STATE["mode"] = mode
            self._json(200, {"mode": mode})
            return
        if self.path == "/api/show":
            model = req.get("model") or req.get("name") or ""
            if not self._known(model):
                self._json(404, {"error": "model '%s' not found" % model})
                return
            self._json(200, {
                "modelfile": "FROM %s" % model,
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": {"format": "gguf", "family": "llama", "parameter_size": "1B",
                            "quantization_level": "Q8_0"},
                "model_info": {"general.architecture": "llama", "llama.context_length": 4096},
            })
            return
        if self.path not in ("/api/chat", "/api/generate"):
            self._json(404, {"error": "not found"})
            return
        model = req.get("model") or ""
        if not self._known(model):
            self._json(404, {"error": "model '%s' not found, try pulling it first" % model})
            return
        if self._fault():
            return
        _count(model, "models")
        if self.server.delay:
            time.sleep(self.server.delay)
        text = "hello from %s" % self.server.name
        chat = self.path == "/api/chat"
        if req.get("stream", True):
            self._stream(model, text, chat)
        else:
            self._json(200, self._final(model, text, chat))

    # -- payloads --------------------------------------------------------
    def _tag(self, model):
        return {"name": model, "model": model, "modified_at": _now(), "size": 1024,
                "digest": "sha256:" + "0" * 64,
                "details": {"format": "gguf", "family": "llama", "parameter_size": "1B",
                            "quantization_level": "Q8_0"}}

    def _final(self, model, text, chat):
        out = {"model": model, "created_at": _now(), "done": True, "done_reason": "stop",
               "total_duration": 1000000, "load_duration": 1000, "prompt_eval_count": 3,
               "prompt_eval_duration": 1000, "eval_count": len(text.split()), "eval_duration": 1000}
        if chat:
            out["message"] = {"role": "assistant", "content": text}
        else:
            out["response"] = text
        return out

    def _stream(self, model, text, chat):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunk = {"model": model, "created_at": _now(), "done": False}
            if chat:
                chunk["message"] = {"role": "assistant", "content": piece}
            else:
                chunk["response"] = piece
            self._chunk(json.dumps(chunk) + "\n")
        final = self._final(model, "", chat)
        final["eval_count"] = len(words)
        self._chunk(json.dumps(final) + "\n")
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data):
        raw = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--name", default=socket.gethostname(), help="name put in every answer")
    parser.add_argument("--models", default="", help="comma-separated models served (default: any)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    args = parser.parse_args(argv)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.name = args.name
    server.models = [m for m in args.models.split(",") if m]
    server.delay = args.delay
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print("stub-ollama %s listening on %s:%d (models: %s)" % (
        args.name, args.host, args.port, ",".join(server.models) or "any"), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
