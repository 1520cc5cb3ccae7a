"""MkDocs hook: the HTTP reference is written at build time from the OpenAPI schema of the server itself,
so it names every route the code has, and no other. The page `reference/http.md` holds the prose; the
marker OPENAPI_MARKER in it becomes one section per route and one per schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

OPENAPI_MARKER = "<!-- openapi -->"
HTTP_PAGE = "reference/http.md"
METHODS = ("get", "post", "put", "patch", "delete")


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != HTTP_PAGE:
        return markdown
    if OPENAPI_MARKER not in markdown:
        raise ValueError(f"{HTTP_PAGE} has lost its marker {OPENAPI_MARKER}: nothing to put the routes in")
    return markdown.replace(OPENAPI_MARKER, openapi_markdown(server_schema()))


def server_schema() -> dict:
    """The OpenAPI schema of a server on an empty project (the routes do not depend on the project)."""
    import imagier
    from imagier.server.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        with imagier.open(Path(folder) / "reference.imagier") as project:
            return create_app(project).openapi()


def openapi_markdown(schema: dict) -> str:
    areas: dict[str, list] = {}  # the routers' tags, in the order the server declares them
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                areas.setdefault((operation.get("tags") or ["other"])[0], []).append((path, method, operation))
    parts = []
    for area, routes in areas.items():
        parts += [f"## {area[:1].upper()}{area[1:]}\n", route_index(routes)]
        parts += [route_section(path, method, operation) for path, method, operation in routes]
    parts.append("## Schemas\n")
    parts += [schema_section(name, body) for name, body in sorted(schema["components"]["schemas"].items())]
    return "\n".join(parts)


def route_anchor(method: str, path: str) -> str:
    return "route-" + method + "-" + "".join(c if c.isalnum() else "-" for c in path).strip("-")


def route_index(routes) -> str:
    rows = ["| route | what it does |", "|---|---|"]
    rows += [f"| [`{method.upper()} {path}`](#{route_anchor(method, path)}) | {cell(operation.get('summary', ''))} |"
             for path, method, operation in routes]
    return "\n".join(rows) + "\n"


def route_section(path: str, method: str, operation: dict) -> str:
    lines = [f"### `{method.upper()} {path}` {{#{route_anchor(method, path)}}}", ""]
    if operation.get("summary"):
        lines += [f"**{operation['summary']}**", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        lines += [f"| `{p['name']}` | {p['in']} | {type_of(p.get('schema', {}))} | {'yes' if p.get('required') else 'no'} "
                  f"| {cell(p.get('description') or p.get('schema', {}).get('description', ''))} |"
                  for p in parameters]
        lines.append("")
    body = operation.get("requestBody")
    if body:
        kinds = ", ".join(f"`{kind}` {type_of(content.get('schema', {}))}" for kind, content in body["content"].items())
        lines += [f"Body: {kinds}" + (" (required)" if body.get("required") else ""), ""]
    # every route may answer 422 (a malformed request), as the page's introduction says once
    answers = {status: answer for status, answer in operation.get("responses", {}).items() if status != "422"}
    if answers:
        lines += ["| status | answer |", "|---|---|"]
        for status, answer in answers.items():
            content = answer.get("content", {})
            shapes = ", ".join(f"{type_of(c.get('schema', {}))}" for c in content.values() if c.get("schema"))
            lines.append(f"| {status} | {cell(answer.get('description', ''))}{': ' + shapes if shapes else ''} |")
        lines.append("")
    return "\n".join(lines)


def schema_section(name: str, body: dict) -> str:
    lines = [f"### {name} {{#schema-{name}}}", ""]
    if body.get("description"):
        lines += [body["description"].strip(), ""]
    properties = body.get("properties", {})
    if properties:
        required = set(body.get("required", []))
        lines += ["| field | type | required | description |", "|---|---|---|---|"]
        lines += [f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} "
                  f"| {cell(spec.get('description', ''))} |" for field, spec in properties.items()]
    else:
        lines.append(f"Type: {type_of(body)}")
    lines.append("")
    return "\n".join(lines)


def type_of(spec: dict) -> str:
    """A schema as words, with links to the named schemas."""
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name})"
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in spec:
            return " or ".join(type_of(part) for part in spec[combined])
    if "enum" in spec:
        return "one of " + ", ".join(f"`{value}`" for value in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    kind = spec.get("type", "any")
    if kind == "array":
        return "array of " + type_of(spec.get("items", {}))
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return "object of " + type_of(spec["additionalProperties"])
    return kind + (f" ({spec['format']})" if "format" in spec else "")


def cell(text: str) -> str:
    """Text that stays inside one cell of a markdown table."""
    return " ".join(str(text).split()).replace("|", "\\|")
