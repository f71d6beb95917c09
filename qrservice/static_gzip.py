"""Static files in gzip for the clients that accept it.

Flask's static views (the app's and each blueprint's) stay in charge of paths, 404s, caching
headers, conditional and range requests. When a client accepts gzip and a text file (CSS,
JavaScript, SVG, JSON) comes back whole, its body is swapped for a gzip copy made once per
file version (path, size, modification time) and kept in memory: the camera decoder's 257 KB
travel as 57 KB. The copy has its own ETag, and every answer says ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.security import safe_join

#: What is worth compressing; images other than SVG and fonts are compressed already.
COMPRESSIBLE = frozenset(
    {
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "image/svg+xml",
        "text/plain",
        "text/html",
    }
)
#: Below this a gzip header costs about what it saves.
MIN_SIZE = 1024


@lru_cache(maxsize=128)
def gzipped(path: str, mtime_ns: int, size: int) -> bytes | None:
    """The gzip copy of a file version, or None when it is not smaller. The version's mtime
    and size are in the key, so an edited file gets a new copy."""
    data = Path(path).read_bytes()
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return packed if len(packed) < len(data) else None


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _gzip_static(view: Callable[..., Any], folder: str) -> Callable[..., Any]:
    @wraps(view)
    def serve(filename: str) -> Any:
        response = view(filename=filename)
        response.vary.add("Accept-Encoding")
        if (
            response.status_code != 200
            or response.mimetype not in COMPRESSIBLE
            or (response.content_length or 0) < MIN_SIZE
            or not _accepts_gzip()
        ):
            return response
        path = safe_join(folder, filename)
        if path is None:
            return response
        try:
            stat = Path(path).stat()
        except OSError:
            return response
        packed = gzipped(path, stat.st_mtime_ns, stat.st_size)
        if packed is None:
            return response
        response.close()
        response.direct_passthrough = False
        response.set_data(packed)
        response.headers["Content-Encoding"] = "gzip"
        response.headers.pop("Accept-Ranges", None)
        etag, weak = response.get_etag()
        if etag:
            response.set_etag(f"{etag}-gzip", weak)
        # The client may hold the gzip copy: answer its revalidation with 304.
        return response.make_conditional(request.environ)

    return serve


def init_app(app: Flask) -> None:
    """Wrap the static views of the app and of every blueprint registered so far."""
    folders = {"static": app.static_folder}
    for blueprint in app.blueprints.values():
        if blueprint.has_static_folder:
            folders[f"{blueprint.name}.static"] = blueprint.static_folder
    for endpoint, folder in folders.items():
        if folder and endpoint in app.view_functions:
            app.view_functions[endpoint] = _gzip_static(app.view_functions[endpoint], folder)
