"""Pure-Python types: results the native module builds (``camwire.Range``) and the shape of
the options it takes (``camwire.StorageOptions``)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, TypedDict


class Range(NamedTuple):
    """A stretch of continuous recording: aware UTC datetimes, ``start`` inclusive, ``end``
    exclusive. A tuple, so ``start, end = r`` and ``r == (start, end)`` work."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


class StorageOptions(TypedDict, total=False):
    """S3 settings for an ``s3://bucket/prefix`` location (``Recorder(upload=...)``). Each
    key overrides the AWS variable it stands for; unset keys come from the environment:
    ``endpoint`` (AWS_ENDPOINT_URL), ``region`` (AWS_REGION), ``access_key_id``,
    ``secret_access_key``, ``session_token``, ``allow_http`` (AWS_ALLOW_HTTP: plain http,
    for a test server), ``virtual_hosted_style`` (``bucket.host`` requests; path style by
    default)."""

    endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    allow_http: bool
    virtual_hosted_style: bool


__all__ = ["Range", "StorageOptions"]
