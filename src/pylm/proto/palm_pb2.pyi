from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PalmMessage(_message.Message):
    __slots__ = ("pipeline", "client", "stage", "function", "cache", "payload", "error", "tag", "batched")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    BATCHED_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    client: str
    stage: int
    function: str
    cache: str
    payload: bytes
    error: str
    tag: int
    batched: bool
    def __init__(self, pipeline: _Optional[str] = ..., client: _Optional[str] = ..., stage: _Optional[int] = ..., function: _Optional[str] = ..., cache: _Optional[str] = ..., payload: _Optional[bytes] = ..., error: _Optional[str] = ..., tag: _Optional[int] = ..., batched: _Optional[bool] = ...) -> None: ...
