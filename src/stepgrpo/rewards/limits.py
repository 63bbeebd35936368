"""Time bounds for the one step that can run away: symbolic math on model-written answers.

Two guards, because either alone can be beaten:

1. `math_is_safe` screens an answer before math-verify sees it: short, shallow, no factorial of
   anything but a small integer literal, no power towers, no exponent of more than two digits, no
   big binomials, sums, products, integrals or limits. What passes cannot make sympy build a huge
   integer, the one kind of work that holds the interpreter lock and cannot be interrupted.
2. `deadline` interrupts what is left (slow pure-Python simplification) after a wall-time budget,
   in any thread: a watchdog thread raises `MathTimeout` inside the guarded thread through
   `PyThreadState_SetAsyncExc`. Unlike SIGALRM it works in worker threads (TRL, verl and Ray call
   rewards from threads and processes), and it never fires after the guarded block has left.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import re
import threading
import time

MAX_MATH_CHARS = 120
MAX_BRACE_DEPTH = 12
MAX_POWERS = 2
MAX_NUMBER_DIGITS = 40
_POWER = re.compile(r"\^|\*\*")
# the digits an exponent starts with, through any braces or parentheses: `^{{123}}`, `**(-12)`
_EXPONENT = re.compile(r"(?:\^|\*\*)[\s{(\[]*+[-+]?[\s{(\[]*+(\d*+)")
_TOWER = re.compile(r"(?:\^|\*\*)\s*+\{[^{}^*]*+(?:\^|\*\*)|(?:\^|\*\*)\s*+[-+]?[\w.\\]++\s*+(?:\^|\*\*)|"
                    r"[)}\]]\s*+(?:\^|\*\*)\s*+[({]?\s*+[-+]?\d{2}")
# a factorial is only safe right after an integer literal of at most two digits ("12!", not "1.5!")
_SMALL_FACTORIAL = re.compile(r"(?<![\d.])\d{1,2}!(?!!)")
_FORBIDDEN = re.compile(r"\\(?:binom|dbinom|tbinom|choose|sum|prod|int|iint|oint|lim|Gamma|gamma|zeta)"
                        r"(?![A-Za-z])|[∑∏∫Γ]|\b(?:factorial|binomial|gamma)\b|\\operatorname")
_DIGIT_RUN = re.compile(r"\d++")
_BIG_E_NOTATION = re.compile(r"\d\s*+[eE]\s*+[-+]?\d{3}")


class MathTimeout(BaseException):
    """Raised inside a `deadline` block whose time ran out. A BaseException, so that the broad
    `except Exception` inside math-verify and sympy cannot swallow it and keep computing."""


def math_is_safe(text: str) -> bool:
    """Whether symbolic evaluation of `text` is cheap (see the module docstring)."""
    if len(text) > MAX_MATH_CHARS or _FORBIDDEN.search(text) or _BIG_E_NOTATION.search(text):
        return False
    if text.count("!") != len(_SMALL_FACTORIAL.findall(text)):
        return False
    if any(len(run) > MAX_NUMBER_DIGITS for run in _DIGIT_RUN.findall(text)):
        return False
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    if deepest > MAX_BRACE_DEPTH:
        return False
    if _TOWER.search(text) or len(_POWER.findall(text)) > MAX_POWERS:
        return False
    return all(len(digits) <= 2 for digits in _EXPONENT.findall(text))


class _Watchdog:
    """One daemon thread that interrupts guarded blocks whose deadline has passed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, int]] = []  # (deadline, ticket, thread id)
        self._active: dict[int, int] = {}  # ticket -> thread id, while the block runs
        self._fired: set[int] = set()
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="stepgrpo-math-deadline", daemon=True)
                self._thread.start()
            ticket = next(self._tickets)
            self._active[ticket] = threading.get_ident()
            heapq.heappush(self._heap, (time.monotonic() + seconds, ticket, threading.get_ident()))
            self._wake.notify()
            return ticket

    def disarm(self, ticket: int) -> bool:
        """End a guarded block; True when it had been interrupted (a pending interrupt is cleared)."""
        with self._lock:
            thread_id = self._active.pop(ticket, None)
            fired = ticket in self._fired
            if fired:
                self._fired.discard(ticket)
                if thread_id is not None:  # not delivered yet: cancel it so it cannot fire later
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
            return fired

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._heap:
                    self._wake.wait()
                when, ticket, thread_id = self._heap[0]
                now = time.monotonic()
                if when > now:
                    self._wake.wait(when - now)
                    continue
                heapq.heappop(self._heap)
                if ticket in self._active:
                    self._fired.add(ticket)
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                               ctypes.py_object(MathTimeout))


_WATCHDOG = _Watchdog()


def _new_watchdog_after_fork() -> None:
    """A forked child gets a fresh watchdog: the parent's lock may have been held at the fork."""
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_watchdog_after_fork)


class deadline:
    """Raise `MathTimeout` in this thread if the block is still running after `seconds` (any thread).

    An interrupt swallowed inside the block (by a bare `except`) still ends it as a timeout.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ticket = -1

    def __enter__(self) -> None:
        self.ticket = _WATCHDOG.arm(self.seconds)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: object) -> bool:
        if _WATCHDOG.disarm(self.ticket) and kind is None:
            raise MathTimeout
        return False
