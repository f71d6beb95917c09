"""Static assets: gzip for clients that accept it (the camera decoder shrinks to a quarter),
plain bytes for those that do not, and a favicon every page links."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECODER = "/scan/static/vendor/jsQR.js"
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


def test_the_camera_decoder_travels_gzipped_to_a_browser_that_accepts_it(client):
    original = (ROOT / "scan/static/vendor/jsQR.js").read_bytes()
    response = client.get(DECODER, headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert int(response.headers["Content-Length"]) == len(response.data) < len(original) / 4
    assert gzip.decompress(response.data) == original
    again = client.get(DECODER, headers={**GZIP, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_a_client_without_gzip_gets_the_plain_file_with_its_own_etag(client):
    zipped = client.get(DECODER, headers=GZIP)
    for headers in ({}, {"Accept-Encoding": "gzip;q=0, identity"}):
        with client.get(DECODER, headers=headers) as plain:
            assert "Content-Encoding" not in plain.headers
            assert plain.data == (ROOT / "scan/static/vendor/jsQR.js").read_bytes()
            assert "Accept-Encoding" in plain.headers["Vary"]
            assert plain.headers["ETag"] != zipped.headers["ETag"]


def test_the_stylesheet_is_gzipped_and_missing_files_are_still_404(client):
    css = client.get("/static/css/app.css", headers=GZIP)
    assert css.headers["Content-Encoding"] == "gzip" and css.mimetype == "text/css"
    assert client.get("/static/css/nothing.css", headers=GZIP).status_code == 404
    assert client.get("/static/../pyproject.toml", headers=GZIP).status_code == 404


def test_every_page_links_a_favicon_that_is_served(client, auth):
    for page in (client.get("/login"), (auth.login(), client.get("/meetings/"))[1]):
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', page.get_data(as_text=True))
        assert len(icons) == 2
        for href in icons:
            with client.get(href) as icon:
                assert icon.status_code == 200 and icon.mimetype.startswith("image/")
