"""Server processes for bench/graphql_page.py: start, wait for /healthz, stop (whole tree).

- start_server: the real app, `python -m turnout serve --workers N` (uvicorn);
- start_rawapp: bench/_rawapp.py under `python -m uvicorn --workers N`, the same uvicorn
  code path (single process for N = 1, supervisor + N workers otherwise);
- accepted_nodelay: whether uvicorn's listener, built as it is for that N, hands out
  connections with TCP_NODELAY (for N > 1 it does not: Nagle's algorithm then holds each
  response's body until the client's delayed ACK of its headers, ~40 ms on Linux,
  https://github.com/Kludex/uvicorn/issues/3149).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench._measure import process_tree

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(argv: list[str], env_extra: dict, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(env_extra, PYTHONUNBUFFERED="1")
    log = log_path.open("wb")
    return subprocess.Popen(
        argv, env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )


def start_server(url: str, port: int, log_path: Path, workers: int = 1) -> subprocess.Popen:
    return _spawn(
        [
            sys.executable,
            "-m",
            "turnout",
            "serve",
            *f"--host 127.0.0.1 --port {port} --workers {workers}".split(),
        ],
        {
            "TURNOUT_DATABASE_URL": url,
            "TURNOUT_ENV": "production",
            "TURNOUT_PROVIDER_WEBHOOK_SECRET": "bench-provider-secret",
            "TURNOUT_BEARER_TOKEN_MINUTES": "60",
        },
        log_path,
    )


def start_rawapp(
    pg_url: str, schema: str, pool: int, port: int, log_path: Path, workers: int = 1
) -> subprocess.Popen:
    return _spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench._rawapp:app",
            *f"--host 127.0.0.1 --port {port} --workers {workers} --no-access-log".split(),
        ],
        {"BENCH_RAW_DSN": pg_url, "BENCH_RAW_SCHEMA": schema, "BENCH_RAW_POOL": str(pool)},
        log_path,
    )


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


async def wait_healthy(client, proc: subprocess.Popen, log_path: Path, limit_s: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{tail(log_path)}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:  # not listening yet
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not healthy after {limit_s}s:\n{tail(log_path)}")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM to the server (uvicorn's supervisor stops its workers); if it hangs, SIGKILL
    to it and to every process under it, so no worker is left behind."""
    if proc.poll() is None:
        tree = process_tree(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in reversed(tree):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait(timeout=5)


async def accepted_nodelay(workers: int) -> bool:
    """TCP_NODELAY on a connection accepted by a listener made as uvicorn makes it for
    `--workers N`: by asyncio from host and port for N = 1, by Config.bind_socket() (proto 0,
    so asyncio leaves Nagle on) for N > 1."""
    import uvicorn

    loop = asyncio.get_running_loop()
    got: asyncio.Future[bool] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            sock = transport.get_extra_info("socket")
            if not got.done():
                got.set_result(bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
            transport.close()

    if workers > 1:
        config = uvicorn.Config("bench._rawapp:app", host="127.0.0.1", port=0, log_config=None)
        quiet = logging.getLogger("uvicorn.error")  # bind_socket() announces "running on"
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            sock = config.bind_socket()
        finally:
            quiet.setLevel(level)
        server = await loop.create_server(Probe, sock=sock)
    else:
        server = await loop.create_server(Probe, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(got, 5)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
