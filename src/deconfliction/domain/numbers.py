"""Numbers from outside: JSON numbers as finite floats, and whole numbers (cursors, seqs, versions) as ints."""

from __future__ import annotations

import math
import re

from deconfliction.domain.errors import InvalidInput

# SQLite's INTEGER (PostgreSQL's bigint): no id, seq, cursor or version beyond it can exist, and a larger one
# would fail inside the store rather than be refused at the edge.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
_WHOLE = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() also accepts '²', which int() refuses


def finite_float(value: object) -> float | None:
    """`value` as a float when it is a finite JSON number (booleans are not numbers); else None.

    JSON integers have no size limit: 400 digits parse to an int that float() refuses with OverflowError.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_whole(text: str, field: str, what: str) -> int:
    """`text` as a whole number 0..INT64_MAX, or InvalidInput naming `field` (`what` says what it should be)."""
    if _WHOLE.fullmatch(text) is None or int(text) > INT64_MAX:
        raise InvalidInput(f"{field} {text!r} is not {what}", field=field)
    return int(text)
