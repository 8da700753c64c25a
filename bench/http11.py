"""Just enough HTTP/1.1 for the load generator: one keep-alive connection, POST with a
JSON body, a response framed by Content-Length (or chunked).

httpx costs about 1 ms of CPU a request; on a two-core machine shared with the
server and PostgreSQL that would be taken from what is being measured.
"""

from __future__ import annotations

import asyncio

CONNECT_TIMEOUT_SECONDS = 5.0
CHUNKS_MAX = 1_000


class ProtocolError(Exception):
    """The response is not HTTP/1.1 as this client understands it."""


def parse_head(head: bytes) -> tuple[int, int, bool, bool]:
    """Status line and headers → (status, content length, chunked, connection close)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 "):
        raise ProtocolError(f"unexpected status line {lines[0][:80]!r}")
    status, length, chunked, close = int(lines[0][9:12]), 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    for _ in range(CHUNKS_MAX):
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, bounded by the stream limit
                pass
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])
    raise ProtocolError(f"more than {CHUNKS_MAX} chunks in one response")


class HttpConnection:
    """One persistent HTTP/1.1 connection; reopened on demand after the server closes it."""

    def __init__(self, host: str, port: int, secret_key: str) -> None:
        self._host, self._port = host, port
        self._headers = (
            f"Host: {host}:{port}\r\nAuthorization: Bearer {secret_key}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        connecting = asyncio.open_connection(self._host, self._port)
        reader, writer = await asyncio.wait_for(connecting, CONNECT_TIMEOUT_SECONDS)
        self._reader, self._writer = reader, writer
        return reader, writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, path: str, body: bytes, idempotency_key: str | None) -> tuple[int, bytes]:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            reader, writer = await self.open()
        key = b"" if idempotency_key is None else b"Idempotency-Key: " + idempotency_key.encode() + b"\r\n"
        writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._headers + key
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        status, length, chunked, close = parse_head(await reader.readuntil(b"\r\n\r\n"))
        response = await (read_chunked(reader) if chunked else reader.readexactly(length))
        if close:
            self.close()
        return status, response
