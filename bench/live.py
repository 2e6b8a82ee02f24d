#!/usr/bin/env python3
"""bench/live.py — subscription load: K open sockets, writes at a fixed rate, event-to-delivery.

    bench/live.py [--sockets 10000] [--tenants 1000] [--rate 100] [--seconds 30] [--bin PATH]
                  [--database-url URL]

Starts `alphery serve` on a fresh database (bench/harness.py), signs up T tenants, each defines
one entity `ping` (so all share one compiled schema), and opens K sockets over
`/graphql/ws` (graphql-transport-ws), socket i for tenant i mod T, each subscribed to
`pingChanged`; it waits until the server counts K subscriptions (/metrics). Then it creates
`ping` records at R per second for S seconds, round robin over the tenants, each marked with its
own text, and notes when each create was sent. Every socket records when each change reaches it.

Prints and appends to bench/results/live.jsonl: deliveries received against expected (each
create reaches the K/T sockets of its tenant; a shortfall is a lost event), sockets the server
closed, event-to-delivery latency from the create's send (p50 / p99 / max, so it includes the
create itself), the creates' own latency, the server's RSS and its subscription groups.
Everything listens on 127.0.0.1; the server is stopped at the end. Python's standard library
only: the WebSocket client below is the few lines of RFC 6455 a client needs.
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import Server, default_bin, metrics, percentile, report, rss_kb

SUBSCRIPTION = "subscription { pingChanged { kind record { note } } }"


class Socket:
    """A graphql-transport-ws client socket (text frames; client frames masked)."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host, port, path):
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"no upgrade: {head[:200]!r}")
        return cls(reader, writer)

    def send(self, message):
        self.frame(0x1, json.dumps(message).encode())

    def frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else struct.pack("!BH", 0x80 | 126, n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def recv(self):
        """The next text message as JSON, or None when the server closed (with its code)."""
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            data = await self.reader.readexactly(n)
            opcode = b0 & 0x0F
            if opcode == 1:
                msg = json.loads(data)
                if msg.get("type") == "ping":
                    self.send({"type": "pong"})
                    continue
                return msg
            if opcode == 9:
                self.frame(0xA, data)
                continue
            if opcode == 8:
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                return None


async def subscriber(host, port, path, token, arrivals, closed, dropped, ready):
    ws = await Socket.open(host, port, path)
    ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    ack = await ws.recv()
    if not ack or ack.get("type") != "connection_ack":
        raise RuntimeError(f"no ack: {ack}")
    ws.send({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    ready.append(1)
    while True:
        try:
            msg = await ws.recv()
        except (asyncio.IncompleteReadError, ConnectionError):
            # The connection dropped without a close frame (the server stopping at the end;
            # mid-run, deliveries fall short of those expected).
            dropped.append(time.perf_counter())
            return
        if msg is None:
            closed.append(getattr(ws, "close_code", None))
            return
        if msg.get("type") == "next":
            note = msg["payload"]["data"]["pingChanged"]["record"]["note"]
            arrivals.append((note, time.perf_counter()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", type=int, default=10000)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0, help="creates per second")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--database-url")
    ap.add_argument("--bin", default=default_bin())
    args = ap.parse_args()
    tenants = min(args.tenants, args.sockets)

    with Server(args.bin, args.database_url, prefix="alphery-live-") as server:
        run = time.strftime("%Y%m%d-%H%M%S")
        define = ("mutation { defineEntity(input: {nameSingular: \"ping\", namePlural: \"pings\", "
                  "labelSingular: \"Ping\", labelPlural: \"Pings\", fields: [{key: \"note\", label: \"Note\", "
                  "type: TEXT}]}) { id } }")

        def prepare(i):
            token = server.signup(f"live-{run}-{i}", i)
            out, _ = server.graphql({"query": define}, token)
            if out.get("errors"):
                raise RuntimeError(f"define {i}: {out['errors']}")
            return token

        with ThreadPoolExecutor(4) as pool:
            tokens = list(pool.map(prepare, range(tenants)))

        host, port, path = server.ws_url
        arrivals, closed, dropped, ready = [], [], [], []
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()

        async def open_all():
            tasks = []
            for i in range(args.sockets):
                tasks.append(asyncio.ensure_future(
                    subscriber(host, port, path, tokens[i % tenants], arrivals, closed, dropped, ready)))
                if i % 200 == 199:
                    await asyncio.sleep(0.05)
            return tasks

        opened = time.time()
        # Held: asyncio keeps only weak references to tasks, and a collected task closes its socket.
        tasks = asyncio.run_coroutine_threadsafe(open_all(), loop).result(timeout=600)
        deadline = time.time() + 300
        while metrics(server.base).get("alphery_live_subscriptions", 0) < args.sockets:
            if time.time() > deadline:
                raise SystemExit(f"only {metrics(server.base).get('alphery_live_subscriptions')} "
                                 f"of {args.sockets} subscriptions registered")
            time.sleep(0.5)
        open_s = time.time() - opened
        rss_open = rss_kb(server.proc.pid)

        # The writes: paced, each from a pool thread, marked with its own note.
        sent, create_lat = {}, []
        create = "mutation($n: String!) { createPing(input: {note: $n}) { id } }"

        def write(k):
            note = f"w{k}"
            sent[note] = time.perf_counter()
            out, dt = server.graphql({"query": create, "variables": {"n": note}}, tokens[k % tenants])
            if out.get("errors"):
                raise RuntimeError(f"create: {out['errors']}")
            create_lat.append(dt * 1000)

        total = int(args.rate * args.seconds)
        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            futures = []
            for k in range(total):
                wait = started + k / args.rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                futures.append(pool.submit(write, k))
            for f in futures:
                f.result()
        # Let the last changes arrive.
        per_tenant = [len(range(t, args.sockets, tenants)) for t in range(tenants)]
        expected = sum(per_tenant[k % tenants] for k in range(total))
        settle = time.time() + 30
        while len(arrivals) < expected and time.time() < settle:
            time.sleep(0.2)
        live = metrics(server.base, "alphery_live_")
        dropped_in_run = len(dropped)
        assert len(tasks) == args.sockets
        rss_end = rss_kb(server.proc.pid)
        latencies = [(t - sent[note]) * 1000 for note, t in list(arrivals) if note in sent]

    row = {
        "run": run, "sockets": args.sockets, "tenants": tenants, "rate": args.rate, "seconds": args.seconds,
        "backend": "postgres" if args.database_url else "sqlite",
        "writes": total, "expected": expected, "received": len(arrivals), "closed": len(closed),
        "dropped": dropped_in_run,
        "open_s": round(open_s, 1),
        "delivery_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "delivery_ms_p99": round(percentile(latencies, 99), 1) if latencies else None,
        "delivery_ms_max": round(max(latencies), 1) if latencies else None,
        "create_ms_p50": round(statistics.median(create_lat), 1),
        "create_ms_p99": round(percentile(create_lat, 99), 1),
        "rss_open_mb": round(rss_open / 1024, 1), "rss_end_mb": round(rss_end / 1024, 1),
        "groups": int(live.get("alphery_live_groups", 0)),
    }
    report("live", row, [
        ("sockets (tenants)", f"{row['sockets']} ({tenants}, {row['backend']})"),
        ("writes/s × s", f"{args.rate:g} × {args.seconds:g}"),
        ("received / expected", f"{row['received']} / {expected}"),
        ("closed / dropped", f"{row['closed']} / {row['dropped']}"),
        ("delivery p50 / p99 / max",
         f"{row['delivery_ms_p50']} / {row['delivery_ms_p99']} / {row['delivery_ms_max']} ms"),
        ("create p50 / p99", f"{row['create_ms_p50']} / {row['create_ms_p99']} ms"),
        ("RSS open → end", f"{row['rss_open_mb']} → {row['rss_end_mb']} MB"),
        ("groups", row["groups"]),
    ], f"sockets opened and subscribed in {row['open_s']} s; run {run}")
    if os.environ.get("KEEP_WORK"):
        print(f"(server files kept in {server.work})")
    else:
        shutil.rmtree(server.work, ignore_errors=True)


if __name__ == "__main__":
    main()
