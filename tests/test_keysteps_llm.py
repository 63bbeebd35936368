"""The LLM extractor against a real OpenAI-compatible HTTP server on 127.0.0.1 that answers from fixtures.

The server can be told to fail given requests (HTTP 500, text that is not JSON, JSON of the wrong
shape, a reply slower than the client's timeout, a reply that never comes), and it records every
request, which is how the tests prove retries, the cache and resumption after a kill.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.keysteps import prompts
from stepgrpo.keysteps.llm import ChatClient, LLMConfig, LLMError, LLMExtractor
from stepgrpo.keysteps.pipeline import reference_steps
from stepgrpo.parsing import get_format

FIXTURES = Path(__file__).parent / "fixtures" / "keysteps"
REFERENCES = FIXTURES / "references.jsonl"
SLOW_S = 1.0
STAGE_OPENINGS = {"extract": prompts.EXTRACT[:30], "refine": prompts.REFINE[:30], "augment": prompts.AUGMENT[:30]}


class FakeChat(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = json.loads((FIXTURES / "llm_answers.json").read_text(encoding="utf-8"))
        self.requests: list[tuple[str, str]] = []  # (stage, hash of the prompt), in arrival order
        self.faults: dict[int, str] = {}  # request number (1-based) -> fault
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def answer(self, stage: str, prompt: str) -> dict:
        for entry in self.answers:
            if entry["stage"] == stage and entry["contains"] in prompt:
                return entry["answer"]
        return {"key_steps": []}


class _Handler(BaseHTTPRequestHandler):
    server: FakeChat

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, payload: dict | str) -> None:
        body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout) or was killed

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = request["messages"][-1]["content"]
        stage = next(name for name, opening in STAGE_OPENINGS.items() if prompt.startswith(opening))
        with self.server.lock:
            self.server.requests.append((stage, hashlib.sha256(prompt.encode()).hexdigest()))
            fault = self.server.faults.get(len(self.server.requests))
        if self.path != "/v1/chat/completions" or request["model"] == "missing":
            return self._reply(404, {"error": {"message": f"model {request['model']!r} not found"}})
        if fault == "500":
            return self._reply(500, {"error": {"message": "overloaded"}})
        if fault == "hang":
            self.server.release.wait(30)
            return None
        if fault == "slow":
            time.sleep(SLOW_S)
        content = {"garbage": "Sure! The key steps are: AD is a median.",
                   "schema": json.dumps({"key_steps": 5})}.get(fault or "")
        content = content or json.dumps(self.server.answer(stage, prompt))
        self._reply(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})


@pytest.fixture
def server() -> Iterator[FakeChat]:
    fake = FakeChat()
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    fake.release.set()
    fake.shutdown()
    fake.server_close()


def _config(server: FakeChat, tmp_path: Path, **overrides: object) -> LLMConfig:
    settings = {"base_url": server.url, "model": "fixture-model", "cache_dir": tmp_path / "cache",
                "timeout": 0.3, "retries": 4, "backoff": 0.01, **overrides}
    return LLMConfig(**settings)  # type: ignore[arg-type]


def _geo_steps() -> list[str]:
    reasoning = json.loads(REFERENCES.read_text(encoding="utf-8").splitlines()[0])["messages"][1]["content"]
    return reference_steps(reasoning, get_format("r1vl"))[0]


def test_retries_500_garbage_wrong_shape_and_timeout_then_caches(server: FakeChat, tmp_path: Path) -> None:
    server.faults = {1: "500", 2: "garbage", 3: "slow", 4: "schema"}
    client = ChatClient(_config(server, tmp_path))
    groups = LLMExtractor(client)(_geo_steps())
    assert groups[0] == ["AD is a median", "median is AD"]
    assert len(server.requests) == 7  # 4 failed attempts of the extract call, then one call per stage
    assert [stage for stage, _ in server.requests] == ["extract"] * 5 + ["refine", "augment"]
    assert (client.calls, client.retries, client.cache_hits) == (7, 4, 0)
    client.close()

    again = ChatClient(_config(server, tmp_path))
    assert LLMExtractor(again)(_geo_steps()) == groups
    assert len(server.requests) == 7  # the second run made zero calls
    assert (again.calls, again.cache_hits) == (0, 3)
    again.close()


def test_cache_files_follow_the_umask_and_are_strict_json(server: FakeChat, tmp_path: Path) -> None:
    import os

    from stepgrpo.keysteps.llm import ResponseCache

    previous = os.umask(0o027)
    try:
        client = ChatClient(_config(server, tmp_path))
        LLMExtractor(client)(_geo_steps())
        client.close()
        cache = ResponseCache(tmp_path / "cache")
        cache.put("ab" * 32, {"score": float("nan"), "text": "é"})
    finally:
        os.umask(previous)
    files = list((tmp_path / "cache").rglob("*"))
    entries = [path for path in files if path.is_file()]
    assert len(entries) == 4 and not [path for path in files if path.name.startswith(".")]  # no temporary left
    assert {path.stat().st_mode & 0o777 for path in entries} == {0o640}  # not tempfile's 0600
    assert {path.stat().st_mode & 0o777 for path in files if path.is_dir()} == {0o750}
    written = (tmp_path / "cache" / "ab" / f"{'ab' * 32}.json").read_text(encoding="utf-8")
    assert json.loads(written, parse_constant=lambda name: pytest.fail(f"bare {name}")) == {"score": None, "text": "é"}


def test_gives_up_after_retries_and_caches_nothing(server: FakeChat, tmp_path: Path) -> None:
    server.faults = {1: "500", 2: "slow", 3: "garbage"}
    client = ChatClient(_config(server, tmp_path, retries=2))
    with pytest.raises(LLMError, match=r"extract stage: no valid answer after 3 attempts \(last: malformed"):
        LLMExtractor(client)(_geo_steps())
    assert len(server.requests) == 3
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_client_errors_are_not_retried(server: FakeChat, tmp_path: Path) -> None:
    client = ChatClient(_config(server, tmp_path, model="missing"))
    with pytest.raises(LLMError, match=r"HTTP 404.*not found"):
        LLMExtractor(client)(_geo_steps())
    assert len(server.requests) == 1


def _cli(server: FakeChat, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["keysteps", str(REFERENCES), str(out), "--extractor", "llm", "--llm-base-url", server.url,
            "--llm-model", "fixture-model", "--llm-timeout", "0.3", "--llm-backoff", "0.01",
            "--cache-dir", str(cache), *extra]


def test_cli_checks_llm_key_steps_and_reruns_from_cache(server: FakeChat, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = CliRunner().invoke(app, _cli(server, out, tmp_path / "cache", "--layout", "r1vl"))
    assert first.exit_code == 0, first.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    steps = {row["problem"][:10]: row["key_steps"]["Steps"] for row in rows}
    assert len(rows) == 4 and len(server.requests) == 12
    geo = steps["<image>In "]
    assert ["AE = 1/2 AD", "AE is half of AD"] in geo
    assert not any(group[0] in {"AB = 10", "3"} for group in geo)  # hallucinated and trivial keys dropped
    assert ["54 / 3 = 18", "54 ÷ 3 is 18", "54 divided by 3 equals 18"] in steps["Tom has 6 "]  # repaired
    assert "not in reference" in first.output and "trivial" in first.output
    assert "repaired" in first.output

    before = out.read_text(encoding="utf-8")
    second = CliRunner().invoke(app, _cli(server, out, tmp_path / "cache", "--layout", "r1vl", "--overwrite"))
    assert second.exit_code == 0, second.output
    assert len(server.requests) == 12  # all from the cache
    assert out.read_text(encoding="utf-8") == before


def test_endpoint_garbage_skips_the_row_names_it_and_keeps_the_rest(server: FakeChat, tmp_path: Path) -> None:
    server.faults = {1: "garbage", 2: "garbage"}
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, _cli(server, out, tmp_path / "cache", "--llm-retries", "1",
                                          "--llm-concurrency", "1"))
    assert result.exit_code == 1
    assert f"skipped {REFERENCES}:1: LLMError: extract stage: no valid answer after 2 attempts" in \
        " ".join(result.output.split())
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == \
        ["chart", "word", "mc"]


def test_resume_after_kill_repeats_no_answered_call(server: FakeChat, tmp_path: Path) -> None:
    server.faults = {6: "hang"}  # the 6th call never answers: the run is killed while waiting on it
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache"
    command = [str(Path(sys.executable).with_name("stepgrpo")),
               *_cli(server, out, cache, "--llm-concurrency", "1", "--llm-timeout", "20")]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(server.requests) < 6 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.kill()
    run.wait()
    assert len(server.requests) == 6
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl*"))  # nothing half-written
    answered = set(server.requests[:5])
    assert len(list(cache.rglob("*.json"))) == 5  # each answer was stored the moment it came

    server.release.set()
    server.faults = {}
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    repeated = answered & set(server.requests[6:])
    assert not repeated
    assert len(server.requests) == 6 + 12 - 5
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4
