"""An action's typed signature as JSON Schema (the form the web page draws) and the check of the values
a form, the CLI or a script sends back.

Supported parameter types: int, float, str, bool, an Enum, a Literal, `Property` (optionally limited to
some property types: `Property["multi-tag"]`), `VectorType`, `pathlib.Path`, and any of them `| None`.
`Annotated[int, Range(1, 100)]` adds bounds; the docstring's parameter section gives each field's help.
Anything else is refused when the plugin loads, naming the parameter, never silently left out of the form.
"""

from __future__ import annotations

import enum
import inspect
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

from ..errors import InvalidInput, NotFound

# Extensions of JSON Schema that tell the page which picker to draw.
KIND = "x-imagier"


@dataclass(frozen=True)
class Range:
    """Bounds of a number parameter: `Annotated[int, Range(1, 100)]` (either end may be None)."""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class _PropertyTypes:
    types: tuple[str, ...]


class Property(str):
    """A parameter naming one of the project's properties (the form shows a property picker).
    `Property["multi-tag"]` or `Property[Literal["tag", "multi-tag"]]` accepts only those types."""

    def __class_getitem__(cls, types_):
        if typing.get_origin(types_) is Literal:
            types_ = typing.get_args(types_)
        elif not isinstance(types_, tuple):
            types_ = (types_,)
        return Annotated[cls, _PropertyTypes(tuple(types_))]


class VectorType(str):
    """A parameter naming one of the project's vector types (the form shows a vector type picker)."""


class DefinitionError(TypeError):
    """An action that cannot be turned into a form: raised when its plugin is imported."""


@dataclass
class Param:
    name: str
    schema: dict
    required: bool
    default: Any
    coerce: Callable[[Any, Any], Any]  # (value, project) -> the value the function receives


def _json_type(values) -> str:
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "boolean"
    if kinds <= {int}:
        return "integer"
    if kinds <= {int, float}:
        return "number"
    if kinds <= {str}:
        return "string"
    raise DefinitionError(f"choices must all be text, whole numbers or numbers, not {sorted(map(repr, values))}")


def _choices(values: list, convert: Callable = lambda v: v) -> tuple[dict, Callable]:
    schema = {"type": _json_type(values), "enum": list(values)}

    def coerce(value, project):
        if value not in values or isinstance(value, bool) != isinstance(values[0], bool):
            raise ValueError(f"is one of {', '.join(map(repr, values))}, not {value!r}")
        return convert(value)
    return schema, coerce


def _integer(value, project):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"is a whole number, not {value!r}")
    return value


def _number(value, project):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"is a number, not {value!r}")
    return float(value)


def _text(value, project):
    if not isinstance(value, str):
        raise ValueError(f"is a text, not {value!r}")
    return value


def _boolean(value, project):
    if not isinstance(value, bool):
        raise ValueError(f"is true or false, not {value!r}")
    return value


def _path(value, project):
    return Path(_text(value, project)).expanduser()


def _property_coerce(allowed: tuple[str, ...]):
    def coerce(value, project):
        name = _text(value, project)
        prop = next((p for p in project.properties() if p["name"] == name), None)  # built-in ones included
        if prop is None:
            raise ValueError(f"names a property, and the project has none called {name!r}")
        if allowed and prop["type"] not in allowed:
            raise ValueError(f"is a property of type {' or '.join(allowed)}; {name!r} is a {prop['type']} property")
        return name
    return coerce


def _vector_type(value, project):
    name = _text(value, project)
    try:
        project.vector_type(name)
    except NotFound as e:
        raise ValueError(e.message) from None
    return name


def _base(tp, where: str) -> tuple[dict, Callable]:
    """The schema and the check of one (non-optional, non-annotated) type."""
    if tp is bool:
        return {"type": "boolean"}, _boolean
    if tp is int:
        return {"type": "integer"}, _integer
    if tp is float:
        return {"type": "number"}, _number
    if tp is Property:
        return {"type": "string", KIND: "property"}, _property_coerce(())
    if tp is VectorType:
        return {"type": "string", KIND: "vector-type"}, _vector_type
    if tp is str:
        return {"type": "string"}, _text
    if isinstance(tp, type) and issubclass(tp, Path):
        return {"type": "string", "format": "path", KIND: "path"}, _path
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = list(tp)
        if not members:
            raise DefinitionError(f"{where}: the enum {tp.__name__} has no members")
        return _choices([m.value for m in members], tp)
    if typing.get_origin(tp) is Literal:
        return _choices(list(typing.get_args(tp)))
    raise DefinitionError(f"{where}: unsupported type {getattr(tp, '__name__', None) or tp!r} (use int, float, "
                          f"str, bool, an Enum, a Literal, Property, VectorType or pathlib.Path, optionally | None)")


def _annotated(tp, metadata, where: str) -> tuple[dict, Callable]:
    schema, coerce = _base(tp, where)
    for item in metadata:
        if isinstance(item, Range):
            if schema["type"] not in ("integer", "number"):
                raise DefinitionError(f"{where}: a Range bounds a number, not a {schema['type']}")
            low, high = item.min, item.max
            if low is not None:
                schema["minimum"] = low
            if high is not None:
                schema["maximum"] = high
            coerce = _bounded(coerce, low, high)
        elif isinstance(item, _PropertyTypes) and tp is Property:
            schema["x-property-types"] = list(item.types)
            coerce = _property_coerce(item.types)
        else:
            raise DefinitionError(f"{where}: unsupported annotation {item!r} (only Range is understood)")
    return schema, coerce


def _bounded(coerce: Callable, low, high) -> Callable:
    def check(value, project):
        value = coerce(value, project)
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low} and {high}" if low is not None and high is not None else \
                f"at least {low}" if low is not None else f"at most {high}"
            raise ValueError(f"is {span}, not {value!r}")
        return value
    return check


def _unannotated(tp) -> tuple[object, list]:
    if typing.get_origin(tp) is Annotated:
        tp, *metadata = typing.get_args(tp)
        return tp, metadata
    return tp, []


def _param_schema(tp, where: str) -> tuple[dict, Callable, bool]:
    """(schema, check, nullable): `T | None` and `Optional[T]` accept null; Annotated may wrap either."""
    tp, metadata = _unannotated(tp)
    nullable = typing.get_origin(tp) in (Union, types.UnionType)
    if nullable:
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) != 1 or len(typing.get_args(tp)) != 2:
            raise DefinitionError(f"{where}: unsupported type {tp!r} (a union may only be `T | None`)")
        tp, inner = _unannotated(members[0])
        metadata = inner + metadata
    schema, coerce = _annotated(tp, metadata, where)
    if not nullable:
        return schema, coerce, False
    schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema, (lambda value, project: None if value is None else coerce(value, project)), True


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:?$", re.I)
_OTHER_SECTION = re.compile(r"^(Returns?|Raises|Yields|Examples?|Notes?|See Also)\s*:?$", re.I)


def docstring_parts(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: help}) from a Google-style ("Args:", then "name: help") or NumPy-style
    ("Parameters", "----------", then "name : type" and the help indented below) docstring."""
    description: list[str] = []
    helps: dict[str, str] = {}
    section, entry_indent, current = None, None, None
    for line in inspect.cleandoc(doc or "").splitlines():
        stripped = line.strip()
        if _SECTION.match(stripped) or _OTHER_SECTION.match(stripped):
            section, entry_indent, current = ("params" if _SECTION.match(stripped) else "other"), None, None
            continue
        if section is None:
            description.append(line)
            continue
        if section != "params" or not stripped or set(stripped) == {"-"}:
            continue
        indent = len(line) - len(line.lstrip())
        numpy = re.match(r"^(\w+)\s+:(.*)$", stripped)
        google = re.match(r"^(\w+)\s*(?:\([^)]*\))?:(.*)$", stripped)
        if (numpy or google) and entry_indent is None:
            entry_indent = indent
        if indent == entry_indent and (numpy or google):
            current = (numpy or google).group(1)
            helps[current] = "" if numpy else google.group(2).strip()
        elif current is not None:
            helps[current] = f"{helps[current]} {stripped}".strip()
    return "\n".join(description).strip(), helps


def build_params(fn: Callable, where: str, skip: int = 1) -> tuple[list[Param], dict, str]:
    """The parameters of `fn` after its first `skip` ones (the context, and for embedders nothing more),
    the JSON Schema of the form, and the action's description (the docstring before its parameters)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as e:  # a name the annotations use is not importable where the plugin runs
        raise DefinitionError(f"{where}: its type annotations cannot be read: {e}") from None
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    if len(parameters) < skip:
        raise DefinitionError(f"{where}: the first parameter receives the context (def action(ctx, ...))")
    description, helps = docstring_parts(fn.__doc__)
    params, properties, required = [], {}, []
    for p in parameters[skip:]:
        at = f"{where}, parameter {p.name!r}"
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(f"{at}: *args and **kwargs cannot be shown in a form; name each parameter")
        if p.name not in hints:
            raise DefinitionError(f"{at}: it has no type annotation, so no form field can be made for it")
        schema, coerce, nullable = _param_schema(hints[p.name], at)
        schema["title"] = p.name.replace("_", " ")
        if helps.get(p.name):
            schema["description"] = helps[p.name]
        has_default = p.default is not inspect.Parameter.empty
        default = p.default
        if has_default:
            default = default.value if isinstance(default, enum.Enum) else default
            default = str(default) if isinstance(default, Path) else default
            if default is not None or not nullable:
                try:
                    _check_default(coerce, default)
                except ValueError as e:
                    raise DefinitionError(f"{at}: its default {e}") from None
            schema["default"] = default
        else:
            required.append(p.name)
        properties[p.name] = schema
        params.append(Param(p.name, schema, not has_default, p.default if has_default else None, coerce))
    form = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return params, form, description


def _check_default(coerce: Callable, default) -> None:
    # Defaults naming a property or a vector type can only be checked against a project, when the action runs.
    try:
        coerce(default, _NoProject())
    except _NeedsProject:
        pass


class _NeedsProject(Exception):
    pass


class _NoProject:
    def __getattr__(self, name):
        raise _NeedsProject


def coerce_params(params: list[Param], values: dict | None, project, where: str) -> dict:
    """The values an action receives, checked against its parameters: unknown, missing or ill-typed values
    are an InvalidInput naming the parameter."""
    if not isinstance(values or {}, dict):
        raise InvalidInput(f"{where}: the parameters are an object of name: value")
    values = dict(values or {})
    known = {p.name for p in params}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"{where} has no parameter {', '.join(map(repr, unknown))}; its parameters are: "
                           f"{', '.join(sorted(known)) or 'none'}", parameters=unknown)
    out = {}
    for p in params:
        if p.name not in values:
            if p.required:
                raise InvalidInput(f"{where}: the parameter {p.name!r} is required", parameter=p.name)
            value = p.schema.get("default")
            if value is None:
                out[p.name] = p.default
                continue
        else:
            value = values[p.name]
        try:
            out[p.name] = p.coerce(value, project)
        except ValueError as e:
            raise InvalidInput(f"{where}: the parameter {p.name!r} {e}", parameter=p.name) from None
    return out


def parse_text_value(param: Param, text: str):
    """A value given as text (`imagier run --param NAME=VALUE`) as the JSON value its parameter expects."""
    kinds = param.schema["type"] if isinstance(param.schema["type"], list) else [param.schema["type"]]
    if "null" in kinds and text.strip().lower() in ("", "null", "none"):
        return None
    if "string" in kinds:
        return text
    if "boolean" in kinds:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if "integer" in kinds and number.is_integer() else number
