"""An open-loop HTTP load generator: requests sent at a fixed rate, each timed from the moment it
was scheduled to be sent, so a slow answer cannot hold back the requests behind it (no
coordinated omission; wrk, a closed loop, measures throughput instead).

Standard library only (asyncio streams): one connection per request, as gunicorn's sync workers
close the connection after every answer anyway. Only for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
from collections.abc import Callable, Sequence

#: A request as bytes on the wire, built once before the run.
RawRequest = bytes


def raw_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: str = ""
) -> RawRequest:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    data = body.encode()
    if data or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@dataclasses.dataclass
class Sample:
    latency_ms: float  # from the scheduled send to the last byte of the answer
    lag_ms: float  # from the scheduled send to the actual connect (the client's own delay)
    status: int  # HTTP status, or 0 for a connection error or timeout
    body: bytes
    offset_s: float = 0.0  # when it was scheduled, from the start of the run


@dataclasses.dataclass
class OpenLoopResult:
    rate: float
    duration: float
    samples: list[Sample]

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if 200 <= s.status < 300]

    @property
    def errors(self) -> int:
        return len(self.samples) - len(self.ok)

    def percentile(self, p: float) -> float:
        values = sorted(s.latency_ms for s in self.samples)
        if not values:
            return float("nan")
        index = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
        return values[index]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def lag_p99(self) -> float:
        values = sorted(s.lag_ms for s in self.samples)
        return values[min(len(values) - 1, int(0.99 * len(values)))] if values else float("nan")

    def client_stalls(self, threshold_ms: float = 20.0) -> list[tuple[float, float]]:
        """(second of the run, longest client lag in it) for the seconds in which this very
        process could not send on time: the machine held the load generator up too, so slow
        answers then say little about the server."""
        worst: dict[int, float] = {}
        for s in self.samples:
            if s.lag_ms > threshold_ms:
                second = int(s.offset_s)
                worst[second] = max(worst.get(second, 0.0), s.lag_ms)
        return sorted(worst.items())

    @property
    def achieved_rate(self) -> float:
        return len(self.samples) / self.duration

    def summary(self) -> str:
        return (
            f"{self.rate:7.1f} req/s offered, {len(self.samples)} sent, p50 {self.p50:7.2f} ms, "
            f"p99 {self.p99:7.2f} ms, max {max(s.latency_ms for s in self.samples):7.1f} ms, "
            f"client lag p99 {self.lag_p99:.2f} ms"
            + (f", {self.errors} errors" if self.errors else "")
        )


async def _one(
    host: str, port: int, request: RawRequest, scheduled: float, timeout: float, offset: float
) -> Sample:
    loop = asyncio.get_running_loop()
    lag = (loop.time() - scheduled) * 1000
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request)
                data = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return Sample((loop.time() - scheduled) * 1000, lag, 0, b"", offset)
    latency = (loop.time() - scheduled) * 1000
    status = int(data[9:12]) if data.startswith(b"HTTP/1.") and len(data) >= 12 else 0
    head, _, body = data.partition(b"\r\n\r\n")
    return Sample(latency, lag, status, body, offset)


async def _run(
    host: str,
    port: int,
    requests: Callable[[int], RawRequest],
    rate: float,
    duration: float,
    timeout: float,
) -> OpenLoopResult:
    loop = asyncio.get_running_loop()
    count = max(1, int(rate * duration))
    start = loop.time() + 0.05
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(
            asyncio.create_task(_one(host, port, requests(i), scheduled, timeout, i / rate))
        )
    samples = await asyncio.gather(*tasks)
    return OpenLoopResult(rate, count / rate, list(samples))


def run_open_loop(
    host: str,
    port: int,
    requests: Callable[[int], RawRequest],
    rate: float,
    duration: float,
    timeout: float = 10.0,
) -> OpenLoopResult:
    """Send ``rate * duration`` requests, the i-th at ``i / rate`` s, ``requests(i)`` each."""
    if host != "127.0.0.1":
        raise ValueError("the benchmark only ever loads 127.0.0.1")
    return asyncio.run(_run(host, port, requests, rate, duration, timeout))


def cycle(items: Sequence[RawRequest]) -> Callable[[int], RawRequest]:
    return lambda i: items[i % len(items)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
