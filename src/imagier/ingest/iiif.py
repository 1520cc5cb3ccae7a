"""Reading IIIF documents (the International Image Interoperability Framework): Presentation API 2.1 and 3.0
manifests and collections, and the `info.json` of Image API 2 and 3 services, into plain records; and the
Image API request of an image at a chosen size.

Pure functions over parsed JSON: fetching is iiif_fetch.py's, the import iiif_import.py's. A document that is
not what it should be raises `NotIiif` with the reason, which the import reports for that document.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

# What a researcher reads for a manifest's attribution and licence, whatever the version calls them.
ATTRIBUTION, LICENCE = "attribution", "licence"
# Properties named by a manifest's metadata labels: a label is cut to this length.
MAX_NAME = 60

_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_LEVEL = re.compile(r"level\s*([0-2])")


class NotIiif(Exception):
    """The document is not the IIIF resource it should be; the message says why."""


@dataclass(frozen=True)
class Canvas:
    id: str
    label: str
    service: str | None  # the Image API service's base URI (without /info.json)
    image: str | None  # the image resource's own URL: fetched as it is when there is no service
    # the service as the manifest describes it, when that is enough to ask it for a size without reading its
    # info.json (see `described_service`)
    described: ImageService | None = None


@dataclass(frozen=True)
class Manifest:
    id: str
    label: str
    canvases: list[Canvas]
    # property name -> text: the metadata pairs, then the attribution and the licence
    properties: dict[str, str] = field(default_factory=dict)
    homepage: str | None = None


@dataclass(frozen=True)
class Collection:
    id: str
    label: str
    # the members (manifests and collections): each a reference {"id", ...} or the whole document
    members: list[dict]


@dataclass(frozen=True)
class ImageService:
    id: str
    version: int  # 2 or 3
    level: int  # compliance level: 0 serves only the sizes it lists, 1 and 2 any width
    width: int
    height: int
    sizes: list[tuple[int, int]]  # the sizes a level 0 service lists
    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None


def read_document(doc, language: str) -> Manifest | Collection:
    """A manifest or a collection of either version, its texts in `language` where it offers a choice."""
    if not isinstance(doc, dict):
        raise NotIiif(f"not a IIIF manifest or collection: the JSON is a {type(doc).__name__}, not an object")
    kind = _kind(doc)
    if kind == "Manifest":
        return _manifest(doc, language)
    if kind == "Collection":
        return _collection(doc, language)
    if "protocol" in doc and "image" in str(doc.get("protocol")):
        raise NotIiif("an Image API info.json, not a manifest: give the manifest that lists its images")
    raise NotIiif("not a IIIF manifest or collection: it has no IIIF Presentation @context, and its type is "
                  f"{str(doc.get('type') or doc.get('@type') or 'missing')[:60]!r}")


def read_info(doc, service_id: str) -> ImageService:
    """An Image API 2 or 3 `info.json`."""
    if not isinstance(doc, dict):
        raise NotIiif("the image service's info.json is not a JSON object")
    width, height = doc.get("width"), doc.get("height")
    if not (_positive(width) and _positive(height)):
        raise NotIiif("the image service's info.json gives no width and height")
    context = str(doc.get("@context", ""))
    version = 3 if "image/3" in context or doc.get("type") == "ImageService3" else 2
    profile = doc.get("profile")
    described = " ".join(str(p) for p in (profile if isinstance(profile, list) else [profile]) if isinstance(p, str))
    level = _LEVEL.search(described)
    limits = next((p for p in profile if isinstance(p, dict)), {}) if isinstance(profile, list) else {}
    limits = {**limits, **doc}  # v3 puts the limits in info.json itself, v2 in the profile's object
    sizes = [(s["width"], s["height"]) for s in doc.get("sizes") or []
             if isinstance(s, dict) and _positive(s.get("width")) and _positive(s.get("height"))]
    max_width = limits.get("maxWidth") if _positive(limits.get("maxWidth")) else None
    max_height = limits.get("maxHeight") if _positive(limits.get("maxHeight")) else max_width
    return ImageService(id=service_id, version=version, level=int(level.group(1)) if level else 0,
                        width=width, height=height, sizes=sizes, max_width=max_width, max_height=max_height,
                        max_area=limits.get("maxArea") if _positive(limits.get("maxArea")) else None)


def image_request(service: ImageService, long_side: int | None) -> str:
    """The Image API URL of the whole image with `long_side` pixels on its long side (None: the largest the
    service gives), never larger than the image.

    Level 1 and 2 services scale to any width (`w,`); a level 0 service only to the sizes it lists, of
    which the smallest at least as large as asked is taken (else the largest), or its full size."""
    width, height = service.width, service.height
    scale = min(1.0, (long_side or math.inf) / max(width, height),
                (service.max_width or width) / width, (service.max_height or height) / height,
                math.sqrt((service.max_area or width * height) / (width * height)))
    full = "max" if service.version == 3 else "full"
    if service.level == 0:
        wanted = max(width, height) * scale
        listed = sorted(service.sizes, key=max)
        chosen = next((s for s in listed if max(s) >= wanted), listed[-1] if listed else None)
        if chosen is None or chosen == (width, height):
            size = full
        else:
            size = f"{chosen[0]},{chosen[1]}" if service.version == 3 else f"{chosen[0]},"
    elif scale >= 1.0:
        size = full
    else:
        size = f"{max(1, round(width * scale))},"
    return f"{service.id}/full/{size}/0/default.jpg"


def property_name(label: str) -> str:
    """A metadata label as a property name: no brackets or slashes (which property names refuse), no
    control characters, spaces collapsed, at most MAX_NAME characters; "" when nothing is left."""
    cleaned = "".join(" " if ch in "[]/" or ord(ch) < 32 or ord(ch) == 127 else ch for ch in label)
    return _SPACES.sub(" ", cleaned).strip()[:MAX_NAME].strip()


def text_of(value, language: str) -> str:
    """A label or value as plain text. Where it offers languages (a v3 language map, a v2 list of
    {"@value", "@language"}) the user's `language` is taken, else the values without a language ("none"),
    else the first language given; several values are joined by "; ", and HTML is reduced to its text."""
    if isinstance(value, str):
        return _plain(value)
    if isinstance(value, dict) and "@value" in value:
        return _plain(str(value["@value"]))
    if isinstance(value, dict):  # v3: {"en": ["..."], "none": ["..."]}
        by_language = {str(key): (v if isinstance(v, list) else [v]) for key, v in value.items()}
    elif isinstance(value, list):  # v2: ["...", {"@value": "...", "@language": "fr"}]
        by_language: dict[str, list] = {}
        for item in value:
            key = str(item.get("@language") or "none") if isinstance(item, dict) else "none"
            by_language.setdefault(key, []).append(item.get("@value") if isinstance(item, dict) else item)
    else:
        return "" if value is None else _plain(str(value))
    if not by_language:
        return ""
    chosen = by_language[_language(list(by_language), language)]
    return "; ".join(text for text in (_plain(str(v)) for v in chosen if v is not None) if text)


def _language(keys: list[str], language: str) -> str:
    """The key of a language map to show: the user's language (exactly, else by its primary subtag), else
    "none", else the first."""
    wanted = language.lower()
    for match in (lambda key: key.lower() == wanted,
                  lambda key: key.lower().split("-")[0] == wanted.split("-")[0],
                  lambda key: key in ("none", "@none")):
        found = next((key for key in keys if match(key)), None)
        if found is not None:
            return found
    return keys[0]


def _plain(text: str) -> str:
    if "<" in text:
        text = _TAG.sub(" ", text)
    return _SPACES.sub(" ", html.unescape(text)).strip()


def _kind(doc: dict) -> str | None:
    """"Manifest" or "Collection", from the type of either version."""
    declared = str(doc.get("type") or doc.get("@type") or "")
    for kind in ("Manifest", "Collection"):
        if declared in (kind, f"sc:{kind}"):
            return kind
    return None


def _id(doc) -> str | None:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict):
        found = doc.get("id") or doc.get("@id")
        return found if isinstance(found, str) and found else None
    return None


def _manifest(doc: dict, language: str) -> Manifest:
    manifest_id = _id(doc)
    if manifest_id is None:
        raise NotIiif("the manifest has no id")
    if "sequences" in doc or "items" not in doc:  # Presentation 2
        sequences = doc.get("sequences") or [{}]
        first = sequences[0] if isinstance(sequences, list) else None
        canvases = first.get("canvases") if isinstance(first, dict) else None
        reader = _canvas_2
    else:
        canvases, reader = doc.get("items"), _canvas_3
    if not isinstance(canvases, list):
        raise NotIiif("the manifest lists no canvases")
    read = [reader(canvas, number, language) for number, canvas in enumerate(canvases, 1)
            if isinstance(canvas, dict) and _id(canvas)]
    return Manifest(id=manifest_id, label=text_of(doc.get("label"), language) or manifest_id,
                    canvases=read, properties=_properties(doc, language), homepage=_homepage(doc))


def _properties(doc: dict, language: str) -> dict[str, str]:
    """The metadata pairs (a label given twice joins its values), the attribution and the licence."""
    found: dict[str, str] = {}
    for pair in doc.get("metadata") or []:
        if not isinstance(pair, dict):
            continue
        name, value = property_name(text_of(pair.get("label"), language)), text_of(pair.get("value"), language)
        if name and value:
            found[name] = f"{found[name]}; {value}" if name in found else value
    statement = doc.get("requiredStatement")
    attribution = text_of(statement.get("value"), language) if isinstance(statement, dict) else \
        text_of(doc.get("attribution"), language)
    licence = doc.get("rights") or doc.get("license")
    for name, value in ((ATTRIBUTION, attribution), (LICENCE, text_of(licence, language))):
        if value:
            found[name] = value
    return found


def _homepage(doc: dict) -> str | None:
    page = doc.get("homepage") or doc.get("related")
    if isinstance(page, list):
        page = page[0] if page else None
    found = _id(page)
    return found if found and found.startswith(("http://", "https://")) else None


def _canvas_2(canvas: dict, number: int, language: str) -> Canvas:
    resource = None
    for annotation in canvas.get("images") or []:
        if isinstance(annotation, dict) and isinstance(annotation.get("resource"), dict):
            resource = annotation["resource"]
            break
    if resource is not None and str(resource.get("@type")) == "oa:Choice":
        resource = resource.get("default") if isinstance(resource.get("default"), dict) else None
    return _canvas(canvas, number, language, resource)


def _canvas_3(canvas: dict, number: int, language: str) -> Canvas:
    body = None
    for page in canvas.get("items") or []:
        for annotation in (page.get("items") or []) if isinstance(page, dict) else []:
            if isinstance(annotation, dict) and annotation.get("motivation") in ("painting", None):
                body = annotation.get("body")
                break
        if body is not None:
            break
    if isinstance(body, list):
        body = body[0] if body else None
    if isinstance(body, dict) and body.get("type") == "Choice":
        choices = body.get("items") or []
        body = choices[0] if choices else None
    return _canvas(canvas, number, language, body if isinstance(body, dict) else None)


def _canvas(canvas: dict, number: int, language: str, resource: dict | None) -> Canvas:
    service, image, described = None, None, None
    if resource is not None:
        image = _id(resource)
        services = resource.get("service")
        for candidate in services if isinstance(services, list) else [services]:
            if _id(candidate) and _is_image_service(candidate):
                service = _id(candidate).removesuffix("/info.json").rstrip("/")
                described = described_service(candidate, resource, service)
                break
    return Canvas(id=_id(canvas), label=text_of(canvas.get("label"), language) or f"canvas {number}",
                  service=service, image=image, described=described)


def described_service(service: dict, resource: dict, service_id: str) -> ImageService | None:
    """The image service as the manifest describes it, when that is enough to ask it for a width: a level 1
    or 2 service and the picture's width and height. One request per image then, not two; the import reads
    the info.json all the same when the service refuses the size (the manifest was wrong, or the server
    limits sizes). None for a level 0 service, which serves only the sizes its info.json lists."""
    profile = service.get("profile")
    level = _LEVEL.search(" ".join(str(p) for p in (profile if isinstance(profile, list) else [profile])
                                   if isinstance(p, str)))
    width, height = resource.get("width"), resource.get("height")
    if level is None or level.group(1) == "0" or not (_positive(width) and _positive(height)):
        return None
    described = f"{service.get('type', '')} {service.get('@type', '')} {service.get('@context', '')}"
    version = 3 if "ImageService3" in described or "image/3" in described else 2
    return ImageService(id=service_id, version=version, level=int(level.group(1)), width=width, height=height,
                        sizes=[])


def _is_image_service(service) -> bool:
    if not isinstance(service, dict):
        return False
    described = f"{service.get('type', '')} {service.get('@type', '')} {service.get('profile', '')} " \
                f"{service.get('@context', '')}"
    return "ImageService" in described or "image/" in described or "level" in described


def _collection(doc: dict, language: str) -> Collection:
    collection_id = _id(doc)
    if collection_id is None:
        raise NotIiif("the collection has no id")
    members = [m for key in ("items", "members", "collections", "manifests") for m in doc.get(key) or []
               if isinstance(m, dict) and _id(m)]
    return Collection(id=collection_id, label=text_of(doc.get("label"), language) or collection_id,
                      members=members)


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
