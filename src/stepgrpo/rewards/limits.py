"""Time bounds for the one step that can run away: symbolic math on model-written answers.

math-verify's own timeout takes whole seconds and warns when disabled, so answers are screened
first (`math_is_safe`) and, in the main thread, the call runs under a sub-second interval timer.
Screening alone keeps worker threads, where signals cannot be used, from hanging.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_MATH_CHARS = 200
MAX_BRACE_DEPTH = 24
MAX_EXPONENT_DIGITS = 3
_EXPONENT = re.compile(r"(?:\^|\*\*)\s*\{?\s*([^{}\s]*)")
_TOWER = re.compile(r"(?:\^|\*\*)\s*\{[^}]*(?:\^|\*\*)|(?:\^|\*\*)\s*[\w.]+\s*(?:\^|\*\*)")
_BIG_FACTORIAL = re.compile(r"\d{3,}\s*!")


class MathTimeout(Exception):
    pass


def math_is_safe(text: str) -> bool:
    """Whether symbolic evaluation of `text` is cheap: short, shallow, no huge powers or factorials."""
    if len(text) > MAX_MATH_CHARS or _BIG_FACTORIAL.search(text):
        return False
    depth = deepest = 0
    for char in text:
        if char in "{(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})":
            depth -= 1
    if deepest > MAX_BRACE_DEPTH:
        return False
    if _TOWER.search(text) or text.count("^") + text.count("**") > 4:
        return False
    return all(len(re.sub(r"\D", "", exponent)) <= MAX_EXPONENT_DIGITS for exponent in _EXPONENT.findall(text))


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `MathTimeout` after `seconds` of wall time (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise MathTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
