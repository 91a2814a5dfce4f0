#!/usr/bin/env python3
"""Stand-in Ollama backend for hx.litellm tests (Python 3 standard library only).

Serves what LiteLLM's ollama_chat/ and ollama/ providers call, with the field names
and shapes of a real Ollama server:

  GET  /                 "Ollama is running"
  GET  /api/version      {"version": ...}
  GET  /api/tags         the models given with --models
  POST /api/show         model details (LiteLLM posts it while loading its config)
  POST /api/chat         JSON, or NDJSON chunks when "stream" is true (Ollama's default)
  POST /api/generate     same, with "response" instead of "message"
  POST /api/embed        {"embeddings": [[...]]} (and the older /api/embeddings)

Every answer says "hello from <name>" so a test can tell which backend served it.
With --models, a model outside the list gets 404 {"error": "model 'x' not found"}.

Control surface for fault-injection tests (not part of Ollama):

  POST /_stub/mode   {"mode": "ok" | "error500" | "hang", "seconds": N}
                     error500: /api/show and the inference endpoints answer
                     500 (GET endpoints keep answering); hang: they wait
                     N seconds (default --hang-seconds) before answering 503, or
                     until the mode changes, whichever comes first.
  GET  /_stub/stats  request counts per path and per model, in-flight and peak
                     concurrent inference requests, the last request's shape
  POST /_stub/models {"models": [...]} replace the served list until restart ([]: any)
  POST /_stub/reset  zero the counters and go back to mode "ok"

One line per request goes to stdout (no message content, no headers). It runs in the
foreground and stops cleanly on SIGTERM or SIGINT, so it can be a systemd service.
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

OLLAMA_VERSION = "0.5.7"
MODES = ("ok", "error500", "hang")
INFERENCE_PATHS = ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings")


class State:
    """Mutable server state shared by the handler threads."""

    def __init__(self, hang_seconds):
        self.cond = threading.Condition()
        self.hang_seconds = hang_seconds
        self.reset()

    def reset(self):
        with self.cond:
            self.mode = "ok"
            self.mode_seconds = self.hang_seconds
            self.generation = 0  # bumped on every mode change, wakes hung requests
            self.paths = {}
            self.models = {}
            self.inflight = 0
            self.max_inflight = 0
            self.last_request = None
            self.cond.notify_all()

    def set_mode(self, mode, seconds):
        with self.cond:
            self.mode = mode
            self.mode_seconds = seconds
            self.generation += 1
            self.cond.notify_all()

    def count(self, table, key):
        with self.cond:
            table[key] = table.get(key, 0) + 1

    def enter(self):
        with self.cond:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def leave(self):
        with self.cond:
            self.inflight -= 1

    def hang(self):
        """Block until the hang time is up or the mode changes."""
        with self.cond:
            generation = self.generation
            deadline = time.monotonic() + self.mode_seconds
            while self.generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)

    def snapshot(self, name):
        with self.cond:
            return {"name": name, "mode": self.mode, "served_models": None, "paths": dict(self.paths),
                    "models": dict(self.models), "inflight": self.inflight,
                    "max_inflight": self.max_inflight, "last_request": self.last_request}


def _now():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"  # Ollama prints nanoseconds


def _words(text):
    return max(1, len(str(text).split()))


def _prompt_tokens(req):
    if isinstance(req.get("messages"), list):
        return sum(_words(m.get("content", "")) for m in req["messages"] if isinstance(m, dict))
    return _words(req.get("prompt", ""))


class Handler(BaseHTTPRequestHandler):
    server_version = "stub-ollama/2"
    protocol_version = "HTTP/1.1"

    # -- plumbing --------------------------------------------------------
    def log_message(self, fmt, *args):  # one line per request; never bodies or headers
        extra = getattr(self, "_log_extra", "")
        sys.stdout.write("%s %s %s %s%s\n" % (
            _now()[:23] + "Z", self.server.name, self.address_string(), fmt % args, extra))
        sys.stdout.flush()

    def version_string(self):
        return self.server_version

    def parse_request(self):
        self._log_extra = ""
        return super().parse_request()

    def _send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, payload):
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _text(self, status, text):
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _known(self, model):
        served = self.server.models
        if not served:
            return True
        return model in served or (":" not in model and model + ":latest" in served) \
            or (model.endswith(":latest") and model[:-7] in served)

    def _path(self):
        return self.path.split("?", 1)[0]

    # -- routes ----------------------------------------------------------
    def do_HEAD(self):  # noqa: N802 (http.server API)
        self.do_GET()

    def do_GET(self):  # noqa: N802
        path = self._path()
        self.server.state.count(self.server.state.paths, "GET " + path)
        if path == "/":
            self._text(200, "Ollama is running")
        elif path == "/api/version":
            self._json(200, {"version": OLLAMA_VERSION})
        elif path == "/api/tags":
            self._json(200, {"models": [self._tag(m) for m in self.server.models]})
        elif path == "/api/ps":
            self._json(200, {"models": []})
        elif path == "/_stub/stats":
            stats = self.server.state.snapshot(self.server.name)
            stats["served_models"] = list(self.server.models) or "any"
            self._json(200, stats)
        else:
            self._text(404, "404 page not found")

    def do_POST(self):  # noqa: N802
        path = self._path()
        state = self.server.state
        state.count(state.paths, "POST " + path)
        req = self._body()
        if req is None:
            self._json(400, {"error": "invalid JSON body"})
            return
        if path == "/_stub/mode":
            self._set_mode(req)
        elif path == "/_stub/models":
            models = req.get("models")
            if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
                self._json(400, {"error": "models must be a list of model names ([] serves any)"})
                return
            self.server.models = list(models)
            self._log_extra = " models=%s" % (",".join(models) or "any")
            self._json(200, {"models": self.server.models})
        elif path == "/_stub/reset":
            state.reset()
            self._json(200, {"mode": "ok"})
        elif path == "/api/show":
            model = str(req.get("model") or req.get("name") or "")
            self._log_extra = " model=%s" % model
            if not self._known(model):
                self._json(404, {"error": "model '%s' not found" % model})
            elif not self._fault():
                self._json(200, self._show(model))
        elif path in INFERENCE_PATHS:
            self._inference(path, req)
        else:
            self._text(404, "404 page not found")

    def _set_mode(self, req):
        mode = req.get("mode")
        seconds = req.get("seconds", self.server.state.hang_seconds)
        if mode not in MODES or not isinstance(seconds, (int, float)) or seconds < 0:
            self._json(400, {"error": "mode must be one of %s; seconds a number >= 0" % ", ".join(MODES)})
            return
        self.server.state.set_mode(mode, float(seconds))
        self._log_extra = " mode=%s" % mode
        self._json(200, {"mode": mode})

    def _fault(self):
        """Apply the injected fault, if any; True when the request has been answered."""
        state = self.server.state
        if state.mode == "error500":
            self._json(500, {"error": "injected failure on %s" % self.server.name})
            return True
        if state.mode == "hang":
            state.hang()
            self._json(503, {"error": "injected hang on %s" % self.server.name})
            return True
        return False

    def _inference(self, path, req):
        state = self.server.state
        model = str(req.get("model") or "")
        stream = req.get("stream", True) is not False and path in ("/api/chat", "/api/generate")
        options = req.get("options") if isinstance(req.get("options"), dict) else {}
        state.last_request = {"path": path, "model": model, "stream": stream,
                              "keys": sorted(req), "options": sorted(options)}
        self._log_extra = " model=%s stream=%s options=%s" % (
            model, str(stream).lower(), ",".join(sorted(options)) or "-")
        if not model:
            self._json(400, {"error": "model is required"})
            return
        if not self._known(model):
            self._json(404, {"error": "model '%s' not found" % model})
            return
        state.count(state.models, model)
        state.enter()
        try:
            if self._fault():
                return
            if self.server.delay:
                time.sleep(self.server.delay)
            text = "hello from %s" % self.server.name
            if path in ("/api/embed", "/api/embeddings"):
                self._embed(path, model, req)
            elif stream:
                self._stream(path, model, text, req)
            else:
                self._json(200, self._final(path, model, text, req))
        finally:
            state.leave()

    # -- payloads --------------------------------------------------------
    @staticmethod
    def _details():
        return {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "3.8B", "quantization_level": "Q8_0"}

    def _tag(self, model):
        return {"name": model, "model": model, "modified_at": _now(), "size": 4061222912,
                "digest": "0" * 64, "details": self._details()}

    def _show(self, model):
        return {
            "license": "stub",
            "modelfile": "# Modelfile generated by stub-ollama\nFROM %s\n" % model,
            "parameters": "stop                           \"<|end|>\"",
            "template": "{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}"
                        "<|user|>\n{{ .Prompt }}<|end|>\n<|assistant|>\n",
            "details": self._details(),
            "model_info": {"general.architecture": "llama", "general.parameter_count": 3821079552,
                           "llama.context_length": 131072, "llama.embedding_length": 3072},
            "capabilities": ["completion"],
            "modified_at": _now(),
        }

    def _final(self, path, model, text, req, chunks=None):
        out = {"model": model, "created_at": _now()}
        if path == "/api/chat":
            out["message"] = {"role": "assistant", "content": text}
        else:
            out["response"] = text
        out.update({"done_reason": "stop", "done": True, "total_duration": 512345678,
                    "load_duration": 1234567, "prompt_eval_count": _prompt_tokens(req),
                    "prompt_eval_duration": 12345678, "eval_count": chunks or _words(text),
                    "eval_duration": 123456789})
        if path == "/api/generate":
            out["context"] = [1, 2, 3]
        return out

    def _stream(self, path, model, text, req):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = text.split(" ")
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            chunk = {"model": model, "created_at": _now()}
            if path == "/api/chat":
                chunk["message"] = {"role": "assistant", "content": piece}
            else:
                chunk["response"] = piece
            chunk["done"] = False
            self._chunk(json.dumps(chunk) + "\n")
        self._chunk(json.dumps(self._final(path, model, "", req, chunks=len(words))) + "\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data):
        raw = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _embed(self, path, model, req):
        vector = [0.1, 0.2, 0.3, 0.4]
        if path == "/api/embeddings":  # the older single-prompt endpoint
            self._json(200, {"embedding": vector})
            return
        inputs = req.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        self._json(200, {"model": model, "embeddings": [vector] * count, "total_duration": 1234567,
                         "load_duration": 12345, "prompt_eval_count": count})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client went away mid-answer (a timeout upstream): not an error here
        super().handle_error(request, client_address)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=11434, help="port (default 11434)")
    parser.add_argument("--name", default=socket.gethostname(),
                        help="name put in every answer (default: the host name)")
    parser.add_argument("--models", default="",
                        help="comma-separated models served and listed by /api/tags (default: any model)")
    parser.add_argument("--delay", type=float, default=0.0,
                        help="seconds to wait before each inference answer (default 0)")
    parser.add_argument("--hang-seconds", type=float, default=600.0,
                        help="how long mode 'hang' holds a request by default (default 600)")
    args = parser.parse_args(argv)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    Server.address_family = family
    server = Server((args.host, args.port), Handler)
    server.name = args.name
    server.models = [m.strip() for m in args.models.split(",") if m.strip()]
    server.delay = max(0.0, args.delay)
    server.state = State(args.hang_seconds)

    def stop(signum, _frame):
        print("stub-ollama %s: signal %d, stopping" % (args.name, signum), flush=True)
        server.state.set_mode("ok", 0)  # release hung requests
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("stub-ollama %s listening on %s:%d (models: %s, delay %.2fs)" % (
        args.name, args.host, args.port, ",".join(server.models) or "any", server.delay), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("stub-ollama %s stopped" % args.name, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
