"""Several servers of one model (vLLM, Ollama, llama.cpp, any OpenAI-compatible endpoint) as one.

``--llm-base-url http://gpu-1:8000/v1,http://gpu-2:8000/v1`` gives ``make_chat_model`` one client
per address; :class:`SpreadChatModel` sends each call to the next server in turn (load spread),
and a call that fails for a reason a retry can cure (connection refused, timeout, 429, 5xx) goes
to the next server, round after round, up to ``rounds`` times through the list. A call the server
refuses for its content (400, 401…) is not retried elsewhere: every server would say the same.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from assessor.llm import http_status

RETRY_PAUSE_S = 0.5
"""Pause before another round through the servers, when every one of them failed."""


def retryable(exc: BaseException) -> bool:
    """Whether another server (or later) may answer: connection, timeout, rate limit, server error."""
    name = type(exc).__name__
    if any(word in name for word in ("Connect", "Timeout", "RateLimit", "InternalServer", "ServiceUnavailable")):
        return True
    status = http_status(exc)
    return status is not None and (status == 429 or status >= 500)


class SpreadChatModel(BaseChatModel):
    """One chat model over several servers: calls in turn, and on to the next server when one fails."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    endpoints: list[BaseChatModel] = Field(min_length=1)
    rounds: int = Field(default=2, ge=1, description="Times through the list before giving up a call.")
    _turn: Iterator[int] = PrivateAttr(default_factory=itertools.count)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def model_post_init(self, context: Any, /) -> None:
        # A random first server: clients built per task (a Ray worker's) do not all start on the same one.
        self._turn = itertools.count(secrets.randbelow(len(self.endpoints)))

    @property
    def _llm_type(self) -> str:
        return "spread"

    def _start(self) -> int:
        with self._lock:
            return next(self._turn) % len(self.endpoints)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        start = self._start()
        failure: BaseException | None = None
        for attempt in range(self.rounds * len(self.endpoints)):
            if attempt and attempt % len(self.endpoints) == 0:
                time.sleep(RETRY_PAUSE_S)
            endpoint = self.endpoints[(start + attempt) % len(self.endpoints)]
            try:
                return endpoint._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
            except Exception as exc:
                if not retryable(exc):
                    raise
                failure = exc
        assert failure is not None
        raise failure
