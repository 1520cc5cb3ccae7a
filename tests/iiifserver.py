"""A small IIIF server for the tests and benchmarks/bench_iiif.py, on a free loopback port: the Image API
(versions 2 and 3, compliance level 0 or 1: `info.json`, the full region at `max`/`full`, `w,`, `,h`, `!w,h`
and, at level 0, only the sizes it lists) over real photographs, and the Presentation documents (manifests
and collections of versions 2.1 and 3.0) that the tests give it. It logs every request with its answer,
and can be told to answer a path with errors first (a 500, a 429 with Retry-After) or always (a 404:
`missing`)."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

WALLPAPERS = Path("/usr/share/backgrounds")
# Real photographs: scikit-image's samples, and two of Debian's wallpapers (lomiri-wallpapers) larger than
# the import's default size, one of them portrait.
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field")
LARGE = {"fossa": "Fossa_by_Jasper_Roks.jpg", "wine": "Wine_by_Jakkub_Mede.jpg"}


def photograph(name: str) -> Image.Image:
    if name in LARGE:
        return Image.open(WALLPAPERS / LARGE[name]).convert("RGB")
    if name in skimage.data.__all__:
        return Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
    return Image.open(Path(skimage.data.__file__).parent / f"{name}.png").convert("RGB")


class IiifServer:
    """The server, as a context manager: `url` once entered. `images`: {identifier: picture}; `levels`:
    {identifier: 0} for the level 0 ones (the others are level 1)."""

    def __init__(self, images: dict[str, Image.Image], levels: dict[str, int] | None = None):
        self.images = images
        self.levels = levels or {}
        self.documents: dict[str, dict | bytes] = {}  # path -> JSON document, or raw bytes (a broken one)
        self.failures: dict[str, list[tuple[int, dict]]] = {}  # path -> answers to give first: (status, headers)
        self.missing: set[str] = set()  # paths (or their starts) that always answer 404
        self.log: list[tuple[float, str, int]] = []  # (time, path, status) of every request
        self.delay = 0.0  # seconds each image request takes (a slow server)
        self._encoded: dict[tuple[str, tuple[int, int]], bytes] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                status, body, headers = server._answer(self.path)
                with server._lock:
                    server.log.append((time.monotonic(), self.path, status))
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # a client that gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "IiifServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    # ---- what the tests read ------------------------------------------------------------------------

    def service(self, identifier: str, version: int = 3) -> str:
        return f"{self.url}/iiif/{version}/{identifier}"

    def image_requests(self, identifier: str, status: int | None = 200) -> list[str]:
        """The paths of the image (not info.json) requests of an identifier, in order, with that answer."""
        with self._lock:
            return [path for _, path, answer in self.log if f"/{identifier}/full/" in path
                    and (status is None or answer == status)]

    def times(self, path_part: str) -> list[float]:
        with self._lock:
            return [moment for moment, path, _ in self.log if path_part in path]

    def fail(self, path: str, *answers: tuple[int, dict]) -> None:
        """Answer the next requests of `path` (or of paths starting with it) with these (status, headers)
        first, one each."""
        self.failures[path] = list(answers)

    # ---- answering ----------------------------------------------------------------------------------

    def _answer(self, path: str) -> tuple[int, bytes, dict]:
        if any(path.startswith(prefix) for prefix in self.missing):
            return 404, b"not found", {"Content-Type": "text/plain"}
        for prefix, answers in self.failures.items():
            if path.startswith(prefix) and answers:
                status, headers = answers.pop(0)
                return status, json.dumps({"error": status}).encode(), {"Content-Type": "application/json", **headers}
        if path in self.documents:
            document = self.documents[path]
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            return 200, body, {"Content-Type": "application/ld+json"}
        parts = path.strip("/").split("/")
        if len(parts) >= 4 and parts[0] == "iiif" and parts[2] in self.images:
            version, identifier = int(parts[1]), parts[2]
            if parts[3:] == ["info.json"]:
                return 200, json.dumps(self._info(version, identifier)).encode(), {"Content-Type": "application/json"}
            if len(parts) == 7 and parts[3] == "full" and parts[5] == "0" and parts[6] in ("default.jpg", "color.jpg"):
                size = self._size(version, identifier, parts[4])
                if size is None:
                    return 400, b"size not supported", {"Content-Type": "text/plain"}
                time.sleep(self.delay)
                return 200, self._jpeg(identifier, size), {"Content-Type": "image/jpeg"}
        return 404, b"not found", {"Content-Type": "text/plain"}

    def _info(self, version: int, identifier: str) -> dict:
        width, height = self.images[identifier].size
        level = self.levels.get(identifier, 1)
        sizes = [{"width": width // d, "height": height // d} for d in (8, 4, 2, 1)]
        if version == 3:
            return {"@context": "http://iiif.io/api/image/3/context.json", "id": self.service(identifier, 3),
                    "type": "ImageService3", "protocol": "http://iiif.io/api/image", "profile": f"level{level}",
                    "width": width, "height": height, "sizes": sizes}
        return {"@context": "http://iiif.io/api/image/2/context.json", "@id": self.service(identifier, 2),
                "protocol": "http://iiif.io/api/image", "width": width, "height": height, "sizes": sizes,
                "profile": [f"http://iiif.io/api/image/2/level{level}.json"]}

    def _size(self, version: int, identifier: str, size: str) -> tuple[int, int] | None:
        """The (width, height) a size parameter asks for; None when this service does not serve it."""
        width, height = self.images[identifier].size
        if size in (("max", "full") if version == 2 else ("max",)):
            return width, height
        listed = {(width // d, height // d) for d in (8, 4, 2, 1)}
        w, _, h = size.lstrip("!").partition(",")
        try:
            w, h = (int(w) if w else None), (int(h) if h else None)
        except ValueError:
            return None
        if self.levels.get(identifier, 1) == 0:  # only the listed sizes, as w,h (v3) or w, (v2)
            asked = next((s for s in listed if s[0] == w and (h is None or s[1] == h)), None)
            return asked if asked and (version == 2) == (h is None) else None
        if size.startswith("!") and w and h:
            scale = min(w / width, h / height)
            return (round(width * scale), round(height * scale)) if scale <= 1 else None
        if w and h:
            return (w, h) if w <= width and h <= height else None
        if w:
            return (w, round(height * w / width)) if w <= width else None
        if h:
            return (round(width * h / height), h) if h <= height else None
        return None

    def _jpeg(self, identifier: str, size: tuple[int, int]) -> bytes:
        with self._lock:
            found = self._encoded.get((identifier, size))
        if found is None:
            out = io.BytesIO()
            self.images[identifier].resize(size, Image.LANCZOS).save(out, "JPEG", quality=88)
            found = out.getvalue()
            with self._lock:
                self._encoded[(identifier, size)] = found
        return found


def manifest_v2(server: IiifServer, name: str, identifiers: list[str], *, label, metadata=(), attribution=None,
                license=None, related=None) -> dict:
    """A Presentation 2.1 manifest served at /manifests/NAME.json, a canvas per image (level 1 services)."""
    base = f"{server.url}/manifests/{name}"
    canvases = []
    for number, identifier in enumerate(identifiers, 1):
        width, height = server.images[identifier].size if identifier in server.images else (1000, 1000)
        canvas_id = f"{base}/canvas/p{number}"
        canvases.append({
            "@id": canvas_id, "@type": "sc:Canvas", "label": f"p. {number}", "width": width, "height": height,
            "images": [{"@type": "oa:Annotation", "motivation": "sc:painting", "on": canvas_id, "resource": {
                "@id": f"{server.service(identifier, 2)}/full/full/0/default.jpg", "@type": "dctypes:Image",
                "format": "image/jpeg", "width": width, "height": height,
                "service": {"@context": "http://iiif.io/api/image/2/context.json", "@id": server.service(identifier, 2),
                            "profile": "http://iiif.io/api/image/2/level1.json"}}}]})
    document = {"@context": "http://iiif.io/api/presentation/2/context.json", "@id": f"{base}.json",
                "@type": "sc:Manifest", "label": label, "metadata": list(metadata),
                "sequences": [{"@type": "sc:Sequence", "canvases": canvases}]}
    for key, value in (("attribution", attribution), ("license", license), ("related", related)):
        if value is not None:
            document[key] = value
    server.documents[f"/manifests/{name}.json"] = document
    return document


def manifest_v3(server: IiifServer, name: str, identifiers: list[str], *, label, metadata=(),
                required_statement=None, rights=None, homepage=None, labels=None) -> dict:
    """A Presentation 3.0 manifest served at /manifests/NAME.json, a canvas per image (ImageService3)."""
    base = f"{server.url}/manifests/{name}"
    canvases = []
    for number, identifier in enumerate(identifiers, 1):
        width, height = server.images[identifier].size if identifier in server.images else (1000, 1000)
        canvas_id = f"{base}/canvas/{number}"
        canvases.append({
            "id": canvas_id, "type": "Canvas", "label": (labels or {}).get(number, {"none": [f"f. {number}"]}),
            "width": width, "height": height,
            "items": [{"id": f"{canvas_id}/page", "type": "AnnotationPage", "items": [{
                "id": f"{canvas_id}/page/image", "type": "Annotation", "motivation": "painting", "target": canvas_id,
                "body": {"id": f"{server.service(identifier, 3)}/full/max/0/default.jpg", "type": "Image",
                         "format": "image/jpeg", "width": width, "height": height,
                         "service": [{"id": server.service(identifier, 3), "type": "ImageService3",
                                      "profile": "level1"}]}}]}]})
    document = {"@context": "http://iiif.io/api/presentation/3/context.json", "id": f"{base}.json",
                "type": "Manifest", "label": label, "metadata": list(metadata), "items": canvases}
    for key, value in (("requiredStatement", required_statement), ("rights", rights), ("homepage", homepage)):
        if value is not None:
            document[key] = value
    server.documents[f"/manifests/{name}.json"] = document
    return document


def collection_v3(server: IiifServer, name: str, members: list[dict], label: str) -> dict:
    """A Presentation 3.0 collection at /collections/NAME.json referring to manifests (and collections)."""
    document = {"@context": "http://iiif.io/api/presentation/3/context.json",
                "id": f"{server.url}/collections/{name}.json", "type": "Collection", "label": {"en": [label]},
                "items": [{"id": m.get("id") or m.get("@id"), "type": "Manifest" if "Manifest" in
                           str(m.get("type") or m.get("@type")) else "Collection",
                           "label": {"none": ["member"]}} for m in members]}
    server.documents[f"/collections/{name}.json"] = document
    return document
