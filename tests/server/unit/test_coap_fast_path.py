"""Which CoAP requests the download fast path takes; it leaves every other one to aiocoap."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiocoap
import pytest
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import CON, NON

from otaserver.domain.errors import Unauthorized
from otaserver.sessions import SessionRegistry
from otaserver.transports.coap import DeviceSite


class _Refusing:
    """A device API that knows no token: the fast path must then give the request back."""

    async def download_target(self, token: str, kind: Any) -> Any:
        raise Unauthorized("Invalid device access token")


def _site() -> DeviceSite:
    warnings = SimpleNamespace(warning=lambda *args: None)
    return DeviceSite(_Refusing(), SessionRegistry(), warnings)  # type: ignore[arg-type]


def _request(path: str, mtype: Any = CON, code: Code = Code.GET, **options: Any) -> Any:
    message = aiocoap.Message(code=code, uri_path=tuple(path.split("/")))
    message.mtype = mtype  # as a decoded datagram has it
    for name, value in options.items():
        setattr(message.opt, name, value)
    return message


@pytest.mark.parametrize(
    "request_",
    [
        _request("fw/t", mtype=NON),  # aiocoap answers NON requests with its own message ids
        _request("fw/t", code=Code.POST),
        _request("fw/t", observe=0),
        _request("api/v1/t/firmware"),
        _request("fw/t/x"),
        _request("attributes/t"),
    ],
)
def test_other_requests_go_to_aiocoap(request_: Any) -> None:
    assert _site().fast_download(request_) is None


def test_a_block_request_it_cannot_answer_goes_back_to_aiocoap() -> None:
    answer = _site().fast_download(_request("fw/unknown"))
    assert answer is not None
    assert asyncio.run(answer) is None  # type: ignore[arg-type]  # aiocoap then answers 4.01
