"""The headers that name a downloaded file, for any file name (RFC 6266, RFC 8187).

HTTP headers are Latin-1 at best: a name in another script cannot go in as it is. ThingsBoard's
form (`attachment;filename=<name>`) is kept for names that fit it; any other name is sent quoted
with an ASCII stand-in, and exactly as UTF-8 in `filename*`, which every current client prefers.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# RFC 9110's token characters: such a name needs no quotes.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PLAIN = " .-_()+"


def attachment_headers(file_name: str) -> dict[str, str]:
    if _TOKEN.fullmatch(file_name):
        return {"Content-Disposition": f"attachment;filename={file_name}", "x-filename": file_name}
    # The stand-in keeps only characters that no parser, however naive, can misread.
    ascii_name = "".join(
        c if c.isascii() and (c.isalnum() or c in _PLAIN) else "_" for c in file_name
    )
    encoded = quote(file_name, safe="")
    return {
        "Content-Disposition": (f"attachment;filename=\"{ascii_name}\";filename*=UTF-8''{encoded}"),
        # ThingsBoard's own header, in the same encoding as filename*.
        "x-filename": file_name if file_name == ascii_name else encoded,
    }
