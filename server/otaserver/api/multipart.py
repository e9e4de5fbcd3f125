"""A multipart/form-data body read as a stream: small fields kept, the file part passed on.

Starlette's own form parser spools a file to a temporary file before the handler sees it; an
upload of up to 2 GiB instead goes straight from the socket to the blob store, piece by piece.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from ..domain.errors import BadRequest

# The most a form field's value, or the headers of one part, may take.
MAX_FIELD_SIZE = 64 * 1024


class UploadInterrupted(BadRequest):
    """The body stopped before the file did (the client went away)."""


@dataclass(frozen=True)
class FileHeader:
    file_name: str
    content_type: str


class MultipartUpload:
    def __init__(self, request: Request, file_field: str = "file") -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise BadRequest(
                f"Expected a multipart/form-data body with a part named '{file_field}'"
            )
        self.fields: dict[str, str] = {}
        self._file_field = file_field
        self._body = request.stream()
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )
        self._header_name_buf = bytearray()
        self._header_value_buf = bytearray()
        self._header_bytes = 0
        self._headers: dict[str, str] = {}
        self._part_name: str | None = None
        self._field_value = bytearray()
        self._in_file = False
        self._file_header: FileHeader | None = None
        self._file_ended = False
        self._pending: list[bytes] = []
        self._body_ended = False

    # Parser callbacks: they only record what they see.
    def _part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._field_value = bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name_buf += data[start:end]
        self._count_header_bytes(end - start)

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value_buf += data[start:end]
        self._count_header_bytes(end - start)

    def _count_header_bytes(self, count: int) -> None:
        self._header_bytes += count
        if self._header_bytes > MAX_FIELD_SIZE:
            raise BadRequest(f"A multipart part's headers are longer than {MAX_FIELD_SIZE} bytes")

    def _header_end(self) -> None:
        # Latin-1 keeps every byte as it came; the file name is decoded from those bytes below.
        name = self._header_name_buf.decode("latin-1").lower()
        self._headers[name] = self._header_value_buf.decode("latin-1")
        self._header_name_buf, self._header_value_buf = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        self._part_name = _text(options.get(b"name", b""))
        if self._part_name != self._file_field:
            return
        if self._file_header is not None:
            raise BadRequest(f"Send one part named '{self._file_field}', not several")
        self._in_file = True
        self._file_header = FileHeader(
            file_name=_text(options.get(b"filename", b"")) or "data.bin",
            content_type=_text(self._headers.get("content-type", "").encode("latin-1"))
            or "application/octet-stream",
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
            return
        self._field_value += data[start:end]
        if len(self._field_value) > MAX_FIELD_SIZE:
            raise BadRequest(
                f"Form field '{self._part_name}' is longer than {MAX_FIELD_SIZE} bytes"
            )

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_ended = False, True
        elif self._part_name:
            self.fields[self._part_name] = self._field_value.decode("utf-8", "replace")

    async def _feed(self) -> None:
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            self._body_ended = True
            return
        except ClientDisconnect:
            raise UploadInterrupted("Upload interrupted: the client disconnected") from None
        if chunk:
            try:
                self._parser.write(chunk)
            except MultipartParseError as error:
                raise BadRequest(f"Malformed multipart body: {error}") from None

    async def discard_rest(self, limit: int) -> None:
        """Reads and drops what is left of the body, up to `limit` bytes.

        Answering before a client has finished sending makes many clients see a reset
        connection instead of the answer; a modest remainder is cheaper to swallow.
        """
        dropped = 0
        with contextlib.suppress(ClientDisconnect):
            async for chunk in self._body:
                dropped += len(chunk)
                if dropped > limit:
                    return

    async def open(self) -> FileHeader:
        """Reads up to the file part's headers; the fields before it are then in `fields`."""
        while self._file_header is None and not self._body_ended:
            await self._feed()
        if self._file_header is None:
            raise BadRequest(f"Required request part '{self._file_field}' is not present")
        return self._file_header

    async def chunks(self, late_fields_refused: tuple[str, ...] = ()) -> AsyncIterator[bytes]:
        """The file's data as it arrives; then the rest of the body is read for its fields.

        A field named in `late_fields_refused` that comes after the file is an error: the data
        was already checked without it.
        """
        before = set(self.fields)
        size = 0
        while True:
            if self._pending:
                piece, self._pending = b"".join(self._pending), []
                size += len(piece)
                yield piece
            if self._file_ended:
                break
            if self._body_ended:
                raise UploadInterrupted("Upload interrupted: the body ended inside the file part")
            await self._feed()
        while not self._body_ended:
            await self._feed()
        if size == 0:
            raise BadRequest(f"The part '{self._file_field}' is empty: a package needs data")
        late = [name for name in late_fields_refused if name in self.fields and name not in before]
        if late:
            raise BadRequest(f"Send {', '.join(late)} before the file part or as query parameters")


def _text(raw: bytes) -> str:
    """A header parameter's bytes as text: UTF-8 as browsers and curl send it, else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
