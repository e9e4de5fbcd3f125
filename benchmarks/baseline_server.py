"""The least a server can do for the same transfer: the yardstick for otakit's numbers.

POST /upload writes the raw request body to a file, with no multipart parsing, hashing or
database; GET /download serves that file with Starlette's FileResponse.

    python -m benchmarks.baseline_server --port 8000 --file /tmp/blob.bin
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

FILE_ENV = "OTAKIT_BASELINE_FILE"


def blob_path() -> Path:
    # An environment variable rather than app state, so `uvicorn module:app` would work too.
    return Path(os.environ[FILE_ENV])


async def upload(request: Request) -> Response:
    size = 0
    # Plain blocking writes: the cheapest possible sink, which is what a baseline should be.
    with blob_path().open("wb") as sink:
        async for chunk in request.stream():
            sink.write(chunk)
            size += len(chunk)
    return JSONResponse({"size": size})


async def download(request: Request) -> Response:
    return FileResponse(blob_path(), media_type="application/octet-stream")


app = Starlette(
    routes=[
        Route("/upload", upload, methods=["POST"]),
        Route("/download", download, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True, help="where uploads are written")
    args = parser.parse_args()
    os.environ[FILE_ENV] = str(args.file)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
