"""Regular expressions for the API document (JSON Schema's `pattern`, ECMA-262 dialect) that
say what the validators accept, so that a client generated from the document sends nothing
they refuse. Each is as wide as a pattern can say, and never wider than its validator;
tests/test_patterns.py holds them against the validators."""
from __future__ import annotations

BLANK = "[ \\t\\n\\r]*"  # JSON's whitespace, which the validators strip
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A character that survives as a file name's (not a separator, dot, space or control).
SOME_NAME = "[^/\\\\.\\s\\x00-\\x1f\\x7f-\\x9f]"
_PORT = "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
# http(s), a host name of ASCII labels (an IP address is one too), no user or password.
HTTP_URL = (f"^{BLANK}[hH][tT][tT][pP][sS]?://[A-Za-z0-9-]{{1,63}}(\\.[A-Za-z0-9-]{{1,63}})*\\.?"
            f"(:{_PORT})?([/?#][^ \\t\\n\\r]*)?{BLANK}$")


def even_number(lo: int, hi: int) -> str:
    """A group matching the even integers from `lo` to `hi` (no sign, no leading zero)."""
    parts = []
    for digits in range(len(str(lo)), len(str(hi)) + 1):
        low = max(lo, 10 ** (digits - 1) if digits > 1 else 0)
        high = min(hi, 10 ** digits - 1)
        if low <= high:
            parts += _even_between(str(low), str(high))
    return "(" + "|".join(parts) + ")"


def _even_between(low: str, high: str) -> list[str]:
    """Alternatives for the even numbers from `low` to `high`, strings of one length."""
    if len(low) == 1:
        evens = [str(d) for d in range(int(low), int(high) + 1) if d % 2 == 0]
        return ["[" + "".join(evens) + "]"] if evens else []
    if low[0] == high[0]:
        return [low[0] + rest for rest in _even_between(low[1:], high[1:])]
    rest = len(low) - 1
    parts = [low[0] + tail for tail in _even_between(low[1:], "9" * rest)]
    if int(low[0]) + 1 <= int(high[0]) - 1:
        parts.append(f"[{int(low[0]) + 1}-{int(high[0]) - 1}]" + "[0-9]" * (rest - 1) + "[02468]")
    return parts + [high[0] + tail for tail in _even_between("0" * rest, high[1:])]


def sizes(smallest: int, boxes) -> str:
    """`WIDTHxHEIGHT` of even sides from `smallest` to a box's (width, height), any box."""
    shapes = [f"{even_number(smallest, w)}[xX]{even_number(smallest, h)}" for w, h in boxes]
    return f"^{BLANK}(" + "|".join(shapes) + f"){BLANK}$"
