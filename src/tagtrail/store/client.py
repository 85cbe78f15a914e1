"""The AsyncOpenSearch client, with msgspec doing the JSON on the hot path."""

from __future__ import annotations

from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.serializer import JSONSerializer

from tagtrail.config import Settings


class MsgspecSerializer(JSONSerializer):
    """opensearch-py serializer backed by msgspec (several times faster than json)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def loads(self, s: str | bytes) -> Any:
        return self._decoder.decode(s)

    def dumps(self, data: Any) -> str:
        if isinstance(data, str):
            return data
        if isinstance(data, bytes):
            return data.decode("utf-8")
        return self._encoder.encode(data).decode("utf-8")


def make_client(settings: Settings) -> AsyncOpenSearch:
    auth = None
    if settings.opensearch_user:
        auth = (settings.opensearch_user, settings.opensearch_password or "")
    return AsyncOpenSearch(
        hosts=[settings.effective_opensearch_url],
        http_auth=auth,
        verify_certs=settings.opensearch_verify_certs,
        serializer=MsgspecSerializer(),
        timeout=settings.opensearch_timeout_s,
        max_retries=1,
        retry_on_timeout=False,
        http_compress=False,
    )
