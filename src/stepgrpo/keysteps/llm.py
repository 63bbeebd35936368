"""Key-step extraction through any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp, ...).

Every call is cached on disk under a hash of (model, stage, prompt) and the entry is written
atomically the moment its answer has been validated, so a re-run, or a run resumed after a crash
or a kill, never pays for the same call twice. Server errors (5xx, 429), timeouts, dropped
connections and answers that are not the JSON the stage asks for are retried with exponential
backoff; other 4xx errors are not (a wrong model name or key will not fix itself).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from stepgrpo.data.layouts import KeySteps
from stepgrpo.keysteps import prompts
from stepgrpo.outputs import dumps_json, write_text_atomic


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ExtractAnswer(_Answer):
    key_steps: list[str]


class RefineAnswer(_Answer):
    key_steps: list[str]


class AugmentAnswer(_Answer):
    key_steps: list[list[str]]

    @field_validator("key_steps", mode="before")
    @classmethod
    def _single_strings(cls, value: Any) -> Any:
        """A lone string stands for a group of one, as in R1-VL's own data."""
        if isinstance(value, list):
            return [[item] if isinstance(item, str) else item for item in value]
        return value


Answer = TypeVar("Answer", bound=_Answer)


class LLMError(RuntimeError):
    """A call that failed for good (after its retries, or with an error retrying cannot fix)."""


class _Retryable(Exception):
    pass


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "stepgrpo" / "keysteps"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    cache_dir: Path | None = None
    """Where answers are cached; None: `default_cache_dir()`."""
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    temperature: float = 0.0
    json_mode: bool = True
    """Send `response_format={"type": "json_object"}`; turn off for servers that reject it."""
    max_keys: int = 8
    max_words: int = 8
    max_alternatives: int = 3


class ResponseCache:
    """One JSON file per call, named by the hash of (model, stage, prompt), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(model: str, stage: str, prompt: str) -> str:
        return hashlib.sha256(json.dumps([model, stage, prompt], ensure_ascii=False).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # absent, or damaged by something other than us: call again
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Atomically (a killed run leaves the old entry or the whole new one), with the umask's
        modes like any file the user creates, and valid JSON (no bare NaN)."""
        write_text_atomic(self._path(key), dumps_json(entry))


def _json_object(content: str) -> Any:
    """The JSON object in a reply, tolerating the Markdown code fence many models wrap it in."""
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0]
    return json.loads(text)


class ChatClient:
    """A thread-safe chat-completions client with retries and the on-disk cache."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self.cache = ResponseCache(config.cache_dir or default_cache_dir())
        key = os.environ.get(config.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=config.base_url.rstrip("/") + "/", headers=headers,
                                  timeout=config.timeout)
        self._lock = threading.Lock()
        self.calls = 0
        self.cache_hits = 0
        self.retries = 0

    def close(self) -> None:
        self._http.close()

    def ask(self, stage: str, prompt: str, schema: type[Answer]) -> Answer:
        key = self.cache.key(self.config.model, stage, prompt)
        cached = self.cache.get(key)
        if cached is not None:
            try:
                answer = schema.model_validate(cached.get("answer"))
            except ValidationError:
                pass  # an entry from an older schema: ask again
            else:
                with self._lock:
                    self.cache_hits += 1
                return answer
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.config.retries + 1),
            wait=wait_exponential(multiplier=self.config.backoff) + wait_random(0, self.config.backoff),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            answer = retrying(self._call, stage, prompt, schema)
        except _Retryable as error:
            raise LLMError(f"{stage} stage: no valid answer after {self.config.retries + 1} attempts "
                           f"(last: {error})") from None
        self.cache.put(key, {"model": self.config.model, "stage": stage, "answer": answer.model_dump(mode="json")})
        return answer

    def _count_retry(self, _state: RetryCallState) -> None:
        with self._lock:
            self.retries += 1

    def _call(self, stage: str, prompt: str, schema: type[Answer]) -> Answer:
        body: dict[str, Any] = {"model": self.config.model, "temperature": self.config.temperature,
                                "messages": [{"role": "system", "content": prompts.SYSTEM},
                                             {"role": "user", "content": prompt}]}
        if self.config.json_mode:
            body["response_format"] = {"type": "json_object"}
        with self._lock:
            self.calls += 1
        try:
            response = self._http.post("chat/completions", json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {self.config.timeout:g} s") from None
        except httpx.TransportError as error:
            raise _Retryable(f"connection failed: {error}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise LLMError(f"{stage} stage: HTTP {response.status_code} from {response.url}: {response.text[:300]}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
            return schema.model_validate(_json_object(content))
        except (ValueError, KeyError, IndexError, TypeError) as error:  # ValidationError is a ValueError
            raise _Retryable(f"malformed answer: {str(error).splitlines()[0][:200]}") from None


class LLMExtractor:
    """R1-VL's three stages (extract, refine to cores, augment with equivalent forms) over a chat model."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def __call__(self, steps: list[str], question: str | None = None) -> KeySteps:
        config = self.client.config
        extracted = self.client.ask("extract", prompts.extract_prompt(steps, question, config.max_keys),
                                    ExtractAnswer).key_steps
        if not extracted:
            return []
        refined = self.client.ask("refine", prompts.refine_prompt(extracted, config.max_words),
                                  RefineAnswer).key_steps
        if not refined:
            return []
        groups = self.client.ask("augment", prompts.augment_prompt(refined, config.max_alternatives),
                                 AugmentAnswer).key_steps
        # a core the augment stage lost stays, alone; each group is checked against the reference later
        covered = {alternative for group in groups for alternative in group}
        return [*groups, *([core] for core in refined if core not in covered)]
