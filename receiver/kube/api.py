"""Calls to the Kubernetes API off the event loop, with retries, a budget and a count.

The official client is synchronous; every call runs in a small thread pool so
the event loop never waits on the network. Responses are read as raw JSON
(`_preload_content=False`): the adapter needs a handful of fields, and the
client's model deserialization costs more than the request.

Retries follow client-go's habits: 5xx, 429 (unless the caller gives 429 a
meaning, as the Eviction API does) and timeouts are retried with jittered
exponential back-off, honouring Retry-After, within a budget of attempts and
seconds. When the budget is spent the call raises ClusterUnavailable and the
webhook answers 503, so Alertmanager delivers again later.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from receiver.cluster import ClusterUnavailable
from receiver.metrics import Metrics

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10.0)  # connect, read: seconds


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    budget: float = 8.0  # seconds from the first try until the last may start
    base: float = 0.2
    cap: float = 2.0

    def delay(self, attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        """Full-jitter back-off before try `attempt + 1` (attempt counts from 1)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = ceiling * (0.5 + rng() / 2)
        return max(wait, min(retry_after, self.cap)) if retry_after else float(wait)


ONE_TRY = RetryPolicy(attempts=1)


class Api:
    """The typed API groups the adapter uses, and `call` to run one of their methods."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        metrics: Metrics | None = None,
        retry: RetryPolicy = RetryPolicy(),
        workers: int = 4,
        timeout: tuple[float, float] = TIMEOUT,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.authentication = client.AuthenticationV1Api(api_client)
        self.metrics = metrics
        self.retry = retry
        self.timeout = timeout
        self._rng = rng
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="kubernetes-api")

    async def call(
        self,
        verb: str,
        method: Callable[..., Any],
        *args: Any,
        retry: RetryPolicy | None = None,
        retry_429: bool = True,
        give_up: Callable[[ApiException], bool] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The response body of `method(*args, **kwargs)`; ApiException for an answer
        not worth retrying (404, 409, 422, a 429 the caller interprets, what
        `give_up` says the server will repeat, ...)."""
        policy = retry or self.retry
        loop = asyncio.get_running_loop()
        started = loop.time()
        request = functools.partial(
            self.request, verb, method, *args, _request_timeout=self.timeout, **kwargs
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                return await loop.run_in_executor(self._pool, request)
            except ApiException as exc:
                if not (exc.status >= 500 or (exc.status == 429 and retry_429)):
                    raise
                if give_up is not None and give_up(exc):
                    raise
                problem, retry_after = _describe(exc), _retry_after(exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                problem, retry_after = f"{type(exc).__name__}: {exc}", None
            wait = policy.delay(attempt, retry_after, self._rng)
            if attempt >= policy.attempts or loop.time() + wait - started > policy.budget:
                raise ClusterUnavailable(
                    f"Kubernetes API {verb} ({_name(method)}) failed {attempt} time(s): {problem}"
                )
            log.info("kubernetes %s failed (%s); retrying in %.2fs", verb, problem, wait)
            await asyncio.sleep(wait)

    def request(self, verb: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One synchronous request, counted by verb and status code (threads call this)."""
        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            self.counted(verb, str(exc.status))
            raise
        except (urllib3.exceptions.HTTPError, OSError):
            self.counted(verb, "error")
            raise
        self.counted(verb, str(response.status))
        return json.loads(response.data) if response.data else {}

    def counted(self, verb: str, code: str) -> None:
        """One request in remediation_kubernetes_requests_total (when there are metrics)."""
        if self.metrics is not None:
            self.metrics.kubernetes_request(verb, code)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()  # type: ignore[no-untyped-call]


def status_message(exc: ApiException) -> str:
    """The `message` of the Status the API server sent, or the HTTP reason."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return str(exc.reason or "")


def _name(method: Callable[..., Any]) -> str:
    """create_token_review -> token review: what a 503 says it could not reach."""
    words = getattr(method, "__name__", "call").split("_")
    return " ".join(
        w
        for w in words
        if w not in ("create", "read", "replace", "patch", "delete", "list", "namespaced")
    )


def _describe(exc: ApiException) -> str:
    return f"HTTP {exc.status} {status_message(exc)}".strip()


def _retry_after(exc: ApiException) -> float | None:
    value = (exc.headers or {}).get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
