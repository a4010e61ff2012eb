"""Pure-Python result types the native module builds (``camwire.Range``)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Range(NamedTuple):
    """A stretch of continuous recording: aware UTC datetimes, ``start`` inclusive, ``end``
    exclusive. A tuple, so ``start, end = r`` and ``r == (start, end)`` work."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


__all__ = ["Range"]
