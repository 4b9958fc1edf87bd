"""A real HTTP server standing in for the image API's file endpoints, for tests of the
compute side without the control plane: GET and PUT `/images/<id>/file`, the token
checked in X-Image-Transfer-Token, every request counted."""

import hashlib
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloud.payloads import ImageSpec

TOKEN = "test-transfer-token"


class ImageServer:
    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}
        self.gets: Counter[str] = Counter()
        # Served instead of an image's bytes (a corrupted download), by image id.
        self.corrupt: dict[str, bytes] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _image_id(self) -> str | None:
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "images" and parts[2] == "file":
                    return parts[1]
                return None

            def _refuse(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                image_id = self._image_id()
                if self.headers.get("X-Image-Transfer-Token") != TOKEN:
                    return self._refuse(401)
                if image_id not in server.images:
                    return self._refuse(404)
                server.gets[image_id] += 1
                data = server.corrupt.get(image_id, server.images[image_id])
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                image_id = self._image_id()
                if self.headers.get("X-Image-Transfer-Token") != TOKEN or image_id is None:
                    return self._refuse(401)
                length = int(self.headers.get("Content-Length", "0"))
                server.uploads[image_id] = self.rfile.read(length)
                self._refuse(204)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ImageServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def file_url(self, image_id: str) -> str:
        return f"{self.url}/images/{image_id}/file"

    def add(self, image_id: str, data: bytes, disk_format: str) -> dict[str, Any]:
        """Serve `data` as image `image_id`; the image fields of an InstanceSpec for it."""
        self.images[image_id] = data
        return image_fields(image_id, data, disk_format, self.file_url(image_id))


def image_fields(image_id: str, data: bytes, disk_format: str, url: str) -> dict[str, Any]:
    return {
        "id": image_id,
        "name": f"image-{image_id[:8]}",
        "disk_format": disk_format,
        "container_format": "bare",
        "size": len(data),
        "min_disk": 0,
        "properties": {},
        "download_url": url,
        "transfer_token": TOKEN,
        "os_hash_algo": "sha512",
        "os_hash_value": hashlib.sha512(data).hexdigest(),
    }


def image_spec(fields: dict[str, Any]) -> ImageSpec:
    return ImageSpec.from_dict({**fields, "version": "1.7"})
