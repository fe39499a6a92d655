"""A headless Streamlit client: one browser tab's share of Streamlit's own websocket protocol.

What the Streamlit 1.67 frontend does (read from its bundle, streamlit/static/static/js/index.*.js, and
streamlit/web/server/starlette/starlette_websocket.py):
- opens ws://HOST/_stcore/stream with the subprotocols ["streamlit", <xsrf token>, <session id>] (the last
  two only when it has them) and the page's cookies on the handshake;
- asks for each run with a BackMsg `rerun_script`: a ClientState with the query string, the widget states,
  the current page's script hash (empty on the first run, then the one NewSession names), the browser's
  context (timezone, locale, url...) and the hashes of the ForwardMsgs it has cached;
- caches every ForwardMsg whose metadata says `cacheable`, and forgets one not seen for
  `max_cached_message_age` runs; the server then sends a `ref_hash` in place of a message the client holds.
A run ends with `script_finished` (FINISHED_EARLY_FOR_RERUN means the script asked for another run, which
follows on its own, so the client keeps waiting).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

DEFAULT_MAX_CACHED_AGE = 2


@dataclass
class RunResult:
    """What one rerun cost and showed."""

    seconds: float
    bytes_received: int
    messages: int
    status: str  # "ok", or why the rerun counts as failed
    texts: list[bytes] = field(default_factory=list)
    # What would have been received without the client's message cache (a ref_hash counts as its message).
    bytes_uncached: int = 0


@dataclass
class _Cached:
    payload: bytes
    last_run: int


class StreamlitSession:
    """One browser session of a Streamlit app, driven without a browser."""

    def __init__(self, port: int, *, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies = cookies or {}
        self.page_script_hash = ""
        self.max_cached_age = DEFAULT_MAX_CACHED_AGE
        self._cache: dict[str, _Cached] = {}
        self._runs = 0
        self._socket: ClientConnection | None = None

    async def open(self) -> None:
        """Open the websocket as the frontend does (same origin, the page's cookies)."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        self._socket = await connect(
            f"ws://127.0.0.1:{self.port}/_stcore/stream",
            origin=None,
            subprotocols=[Subprotocol("streamlit")],
            additional_headers={"Origin": f"http://127.0.0.1:{self.port}", **headers},
            max_size=None,
            ping_interval=None,  # the frontend keeps the connection alive with its own heartbeat messages
            open_timeout=30,
        )

    async def close(self) -> None:
        """Close the tab."""
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    def _rerun_message(self) -> bytes:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = ""
        state.page_script_hash = self.page_script_hash
        state.page_name = ""
        state.cached_message_hashes.extend(self._cache)
        context = state.context_info
        context.timezone = "UTC"
        context.timezone_offset = 0
        context.locale = "en-US"
        context.url = f"http://127.0.0.1:{self.port}/"
        context.is_embedded = False
        context.color_scheme = "light"
        serialized: bytes = message.SerializeToString()
        return serialized

    async def rerun(self, timeout: float = 60.0) -> RunResult:
        """Ask for a run and wait until the script has finished; time it and collect the deltas' bytes."""
        assert self._socket is not None, "open() first"
        self._runs += 1
        received = 0
        uncached = 0
        messages = 0
        texts: list[bytes] = []

        def result(status: str) -> RunResult:
            return RunResult(time.perf_counter() - start, received, messages, status, texts, uncached)

        start = time.perf_counter()
        try:
            await self._socket.send(self._rerun_message())
        except ConnectionClosed:
            return result("connection closed")
        deadline = start + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return result("timeout")
            try:
                raw = await asyncio.wait_for(self._socket.recv(decode=False), left)
            except TimeoutError:
                return result("timeout")
            except ConnectionClosed:
                return result("connection closed")
            received += len(raw)
            messages += 1
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "ref_hash":
                cached = self._cache.get(message.ref_hash)
                if cached is None:
                    return result("cache miss")
                cached.last_run = self._runs
                message = ForwardMsg()
                message.ParseFromString(cached.payload)
                raw = cached.payload
                kind = message.WhichOneof("type")
            elif message.metadata.cacheable:
                self._cache[message.hash] = _Cached(raw, self._runs)
            uncached += len(raw)
            if kind == "new_session":
                self.page_script_hash = message.new_session.page_script_hash
                if message.new_session.config.max_cached_message_age:
                    self.max_cached_age = message.new_session.config.max_cached_message_age
            elif kind == "page_info_changed" or kind == "navigation":
                if kind == "navigation" and message.navigation.page_script_hash:
                    self.page_script_hash = message.navigation.page_script_hash
            elif kind == "delta":
                delta = message.delta
                if delta.WhichOneof("type") == "new_element":
                    if delta.new_element.WhichOneof("type") == "exception":
                        texts.append(raw)
                        self._expire()
                        return result("exception")
                texts.append(raw)
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                self._expire()
                status = "ok"
                if message.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    status = "compile error"
                return result(status)

    def _expire(self) -> None:
        """Forget cached messages not seen for max_cached_age runs, as the frontend does."""
        for key in [k for k, v in self._cache.items() if self._runs - v.last_run > self.max_cached_age]:
            del self._cache[key]
