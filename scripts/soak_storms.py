"""The "rotate now" storms: concurrent API calls at random data sources, every answer recorded."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from soak_config import STORM_EVERY, STORM_REQUEST_TIMEOUT, STORM_REQUESTS, STORM_SOURCES


def storm_keys(count: int) -> list[str]:
    """Operator API keys in the scratch database, one per concurrent storm caller: each key
    then sends at most STORM_SOURCES requests per storm, far inside PORTAL_API_RATE."""
    from accounts.roles import Role
    from accounts.services import apikey_create
    from audit.context import Actor

    actor = Actor.system("soak-setup")
    return [
        apikey_create(name=f"soak storm {i}", role=Role.OPERATOR, actor=actor)[1]
        for i in range(count)
    ]


class Storms(threading.Thread):
    """Every 3-5 s, STORM_REQUESTS concurrent "rotate now" API calls at each of STORM_SOURCES
    random data sources, all released together by one barrier. A storm starts only when the
    last one has been answered, so at most STORM_SOURCES x STORM_REQUESTS calls are open.
    `poke()` starts the next one at once (or as soon as the current one is answered): the
    main loop pokes when it kills the worker and when the broker is down, so storms surely
    meet both. Each data source's burst is recorded with its first send, last answer and the
    answers."""

    def __init__(self, base_url: str, keys: list[str], sources: list[tuple[str, str]]):
        super().__init__(name="soak-storms", daemon=True)
        self.base_url = base_url
        self.keys = keys
        self.sources = sources  # (public id, Webex id)
        self.bursts: list[dict] = []
        self.finish = threading.Event()
        self.wake = threading.Event()
        self.random = random.Random(11)  # noqa: S311 - picking data sources, not secrets
        self.pool = ThreadPoolExecutor(STORM_SOURCES * STORM_REQUESTS, "soak-storm")

    def run(self) -> None:
        try:
            while True:
                self.wake.wait(self.random.uniform(*STORM_EVERY))
                self.wake.clear()
                if self.finish.is_set():
                    break
                self.bursts.extend(self.storm())
        finally:
            self.pool.shutdown(wait=True)

    def poke(self) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.finish.set()
        self.wake.set()
        self.join(timeout=STORM_REQUEST_TIMEOUT + 30)

    def storm(self) -> list[dict]:
        picked = self.random.sample(self.sources, min(STORM_SOURCES, len(self.sources)))
        barrier = threading.Barrier(len(picked) * STORM_REQUESTS)
        calls = {
            source: [
                self.pool.submit(self.ask, barrier, source[0], self.keys[i])
                for i in range(STORM_REQUESTS)
            ]
            for source in picked
        }
        bursts = []
        for (public_id, webex_id), futures in calls.items():
            answers = [future.result() for future in futures]
            bursts.append(
                {
                    "dataSource": public_id,
                    "webexId": webex_id,
                    "start": min(sent for sent, _, _ in answers),
                    "end": max(answered for _, answered, _ in answers),
                    "answers": [answer for _, _, answer in answers],
                }
            )
        return bursts

    def ask(self, barrier: threading.Barrier, public_id: str, key: str):
        """One "rotate now": (sent, answered, outcome or `HTTP <status>` or the error)."""
        import requests

        with contextlib.suppress(threading.BrokenBarrierError):  # a sibling failed: go anyway
            barrier.wait(timeout=30)
        sent = dt.datetime.now(dt.UTC)
        try:
            response = requests.post(
                f"{self.base_url}/api/v1/datasources/{public_id}/rotate/",
                headers={"Authorization": f"Bearer {key}"},
                timeout=STORM_REQUEST_TIMEOUT,
            )
            if response.status_code == 200:
                answer = str(response.json().get("outcome"))
            else:
                answer = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            answer = type(exc).__name__
        except ValueError:  # a 200 that is not JSON
            answer = "HTTP 200 without JSON"
        return sent, dt.datetime.now(dt.UTC), answer
