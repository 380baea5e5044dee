"""The lab's servers for overload strategies: stall_one_in_ten holds exactly every tenth
request it is sent (over all connections), and load_latency serves four at a time."""

from __future__ import annotations

import asyncio
import socket
import time

from tether.lab import Lab


def _get(url_host: str, port: int, timeout: float) -> bool:
    """One GET on a fresh connection; True if the answer came within ``timeout``."""
    with socket.create_connection((url_host, port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        try:
            return s.recv(64).startswith(b"HTTP/1.1 200")
        except TimeoutError:
            return False


def test_stall_one_in_ten_holds_the_tenth_and_the_twentieth() -> None:
    """Twenty requests, each on its own connection, with a 0.5 s timeout against a 30 s
    hold: the 10th and the 20th get no answer in time, the others do."""
    with Lab(stall=30.0) as lab:
        s = lab["stall_one_in_ten"]
        answered = [_get(s.host, s.port, 0.5) for _ in range(20)]
    assert [i + 1 for i, ok in enumerate(answered) if not ok] == [10, 20]


def test_load_latency_serves_four_at_a_time(lab: Lab) -> None:
    """Twelve requests at once take three service times at least (4 workers, 10 ms each):
    measured on the loop's clock, as the server is (the server's own queueing, not a
    target of speed)."""
    s = lab["load_latency"]

    async def one() -> None:
        reader, writer = await asyncio.open_connection(s.host, s.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        assert (await reader.read()).startswith(b"HTTP/1.1 200")
        writer.close()

    async def main() -> float:
        started = time.monotonic()
        await asyncio.gather(*(one() for _ in range(12)))
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.03
