"""The query compiler, pure: a view (filter tree, sort keys, group keys) and a snapshot of the project's
properties and tags (`Schema`) in, one SQL statement and its parameters out (`CompiledView`). It reads no
database, so it is tested with hand-built schemas; store/query.py runs the statement.

Semantics a user relies on:
- A condition on an image without a value is false, so `not` and the negated ops (`ne`, `is_empty`,
  `has_none`) include images without a value: an image with no caption is "not equal to 'x'".
- An unset checkbox counts as unchecked: `eq false` finds images never ticked as well.
- A partial date ("2019", "2019-05", "2019-05-03") names a whole period: `eq` is within it, `lt` before
  its start, `le` before its end, `gt` after its end, `ge` from its start.
- Text `contains` and `startswith` ignore case (Unicode case folding); `eq` and `matches` do not
  (a regex can ask with `(?i)`).
- `matches` takes RE2's syntax (https://github.com/google/re2/wiki/Syntax), which runs in time linear in
  the text: Python's `re` backtracks, so one pattern such as `^(([a-z]*)*)*X$` could hold the server for
  minutes. Backreferences and lookarounds, which need backtracking, are refused with InvalidInput.
- A filter nests at most MAX_FILTER_DEPTH levels of and/or/not, checked before it is compiled.
- `search` looks for words in the full-text index of text properties (store/textindex.py), in one text
  property or, with no property, in every one: words, "phrases", prefix*, OR, NOT (`search_query` reads
  them); case and accents are folded. All the words must be in one value.
- Tag ops match an image tagged with the tag or with any of its descendants in the parent DAG.
- Sorting puts images without a value last, in either direction; ties go by file id. Text and paths
  sort ignoring ASCII case; dates by time, a partial date as the start of its period; an image with
  several tags by the first of them alphabetically.
- Dates group by day unless `by` says otherwise; numbers by value unless `bin` gives a width (the key is
  the bin's lower bound); tag properties by tag name.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field as dataclass_field, replace
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Mapping, Sequence

import re2

from ..errors import InvalidInput, NotFound
from . import textindex
from .types import BUILTINS, coerce, no_property, normalise_date

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "contains", "startswith", "matches", "search", "is_set", "is_empty",
       "has_any", "has_all", "has_none")
# Each negated op is compiled as NOT of its positive twin, which is what makes missing values match it.
NEGATIONS = {"ne": "eq", "is_empty": "is_set", "has_none": "has_any"}
FAMILIES = {"text": "text", "path": "text", "url": "text", "colour": "colour", "number": "number",
            "date": "date", "checkbox": "checkbox", "tag": "tag", "multi-tag": "tag"}
DATE_STEPS = ("year", "month", "week", "day")
# Deeper filters are refused before compiling them: compiling recurses once per level, and no view a
# person builds comes near this.
MAX_FILTER_DEPTH = 32


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported to the user, not logged to stderr
    return options


@lru_cache(maxsize=64)
def regex(pattern: str) -> re2.Set:
    """A compiled RE2 pattern; re2.error names what is wrong with it."""
    re2.compile(pattern, _re2_options())  # gives the precise error, which a Set's Add does not
    # A one-pattern Set answers "does it match anywhere" several times faster than re2.compile's
    # search, which builds a match object and maps byte offsets back to characters for every row. Its
    # DFA may keep rebuilding states for patterns like `[ab]*a[ab]{40}`: slower, still linear in the
    # text, and Match releases the GIL, so other requests go on meanwhile.
    matcher = re2.Set.SearchSet(_re2_options())
    matcher.Add(pattern)
    matcher.Compile()
    return matcher


# ---- operands: a filter value checked and turned into SQL parameters ------------------------------

def _number(value) -> tuple:
    if isinstance(value, str) and not value.strip():
        raise InvalidInput("the value is empty")
    return (coerce("number", value),)


def _text(value) -> tuple:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(f"{value!r} is not text")
    return (str(value),)


def _folded(value) -> tuple:
    return (_text(value)[0].casefold(),)


def _pattern(value) -> tuple:
    text = _text(value)[0]
    try:
        regex(text)
    except re2.error as e:
        reason = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise InvalidInput(f"{text!r} is not a valid regular expression: {reason} (imagier reads RE2's syntax, "
                           "which has no backreferences or lookarounds)") from None
    return (text,)


def _colour(value) -> tuple:
    return (coerce("colour", _text(value)[0]),)


def _checkbox(value) -> tuple:
    return (coerce("checkbox", value),)


def period(value) -> tuple[str, str]:
    """The [start, end) bounds, as ISO text, of the period a full or partial date names."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise InvalidInput(f"{value!r} is not a date (use ISO 8601, for example 2019, 2019-05 or 2019-05-03)")
    start = normalise_date(value)
    if len(start) == 4:
        return start, str(int(start) + 1)
    if len(start) == 7:
        year, month = int(start[:4]), int(start[5:])
        return start, f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    if len(start) == 10:
        return start, (date.fromisoformat(start) + timedelta(days=1)).isoformat()
    return start, (datetime.fromisoformat(start) + timedelta(seconds=1)).isoformat()


# ---- the text search: a user's query read into FTS5's ---------------------------------------------
# The syntax a user types: words (all of them must be in one value), "a phrase", a prefix (`boat*`), `OR`,
# `NOT` (`a NOT b`: a without b), `AND` (the default) and parentheses; the operators are written in
# capitals, like FTS5's. Each word and phrase is handed to FTS5 as a quoted string, so punctuation inside a
# word (`l'élection`, `jean-pierre`) separates words instead of being read as FTS5's own syntax (columns,
# `^`, `+`), and a stray quote is refused by name here rather than failing in SQLite.

# A quoted phrase (its closing quote, optional, checked below), a parenthesis, or a run of anything else.
_SEARCH_TOKEN = re.compile(r'"[^"]*"?\*?|[()]|[^\s()"]+')
_SEARCH_OPERATORS = ("AND", "OR", "NOT")


def search_query(query) -> str:
    """The FTS5 query of a user's search; InvalidInput naming the query when it cannot be read."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(f"a text search needs words to look for, not {query!r}")
    parser = _SearchParser(query, _SEARCH_TOKEN.findall(query))
    expression = parser.disjunction()
    if parser.position < len(parser.tokens):
        parser.refuse(f"unexpected {parser.tokens[parser.position]!r}")
    return expression


class _SearchParser:
    """Recursive descent over the search's tokens: OR over AND over NOT over words, phrases and groups;
    the result is fully parenthesised FTS5."""

    def __init__(self, query: str, tokens: list[str]):
        self.query, self.tokens, self.position = query, tokens, 0
        self.depth = 0  # of parentheses: each level is a level of recursion

    def refuse(self, reason: str):
        raise InvalidInput(f"cannot read the text search {self.query!r}: {reason} (search words, \"a phrase\", "
                           "a prefix like boat*, OR, a NOT b, parentheses)", query=self.query)

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def disjunction(self) -> str:
        terms = [self.conjunction()]
        while self.peek() == "OR":
            self.position += 1
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"

    def conjunction(self) -> str:
        terms = [self.negation()]
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.position += 1
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else "(" + " AND ".join(terms) + ")"

    def negation(self) -> str:
        term = self.primary()
        while self.peek() == "NOT":
            self.position += 1
            term = f"({term} NOT {self.primary()})"
        return term

    def primary(self) -> str:
        token = self.peek()
        if token is None:
            self.refuse("it ends where a word was expected")
        if token in _SEARCH_OPERATORS or token == ")":
            self.refuse(f"{token!r} where a word was expected")
        self.position += 1
        if token == "(":
            self.depth += 1
            if self.depth > MAX_FILTER_DEPTH:
                self.refuse(f"it nests more than {MAX_FILTER_DEPTH} levels of parentheses")
            inner = self.disjunction()
            self.depth -= 1
            if self.peek() != ")":
                self.refuse("a parenthesis is not closed")
            self.position += 1
            return inner
        return self.phrase(token)

    def phrase(self, token: str) -> str:
        prefix = token.endswith("*")
        text = token[:-1] if prefix else token
        if text.startswith('"'):
            if len(text) < 2 or not text.endswith('"'):
                self.refuse("a quote is not closed")
            text = text[1:-1]
        if not any(c.isalnum() for c in text):
            self.refuse(f"{token!r} has no letter or digit to look for")
        return '"' + text.replace('"', '""') + '"' + ("*" if prefix else "")


_COMPARE = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TEXT_SEARCH = {"contains": ("instr(imagier_fold({v}), ?) > 0", _folded),
                "startswith": ("instr(imagier_fold({v}), ?) = 1", _folded),
                "matches": ("{v} REGEXP ?", _pattern)}

# family -> op -> (SQL predicate over the value {v}, operand: filter value -> parameters)
SCALAR_OPS = {
    "number": {op: (f"{{v}} {sign} ?", _number) for op, sign in _COMPARE.items()},
    "text": {**{op: (f"{{v}} {sign} ?", _text) for op, sign in _COMPARE.items()}, **_TEXT_SEARCH},
    "colour": {"eq": ("{v} = ?", _colour), **_TEXT_SEARCH},  # "#F00" is "#ff0000"; colours have no order
    "date": {"eq": ("{v} >= ? AND {v} < ?", period),
             "lt": ("{v} < ?", lambda value: period(value)[:1]),
             "le": ("{v} < ?", lambda value: period(value)[1:]),
             "gt": ("{v} >= ?", lambda value: period(value)[1:]),
             "ge": ("{v} >= ?", lambda value: period(value)[:1])},
    "checkbox": {"eq": ("{v} = ?", _checkbox)},
}
TAG_OPS = ("eq", "has_any", "has_all")


def _valid_ops(family: str) -> list[str]:
    positive = list(SCALAR_OPS[family]) if family in SCALAR_OPS else list(TAG_OPS)
    positive.append("is_set")
    return [op for op in OPS if op in positive or NEGATIONS.get(op) in positive]


# ---- the compiled view ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A property as the compiler sees it: a built-in column, or a user property stored per file or content."""
    name: str
    type: str
    column: str | None = None      # the SQL expression of a built-in property
    id: int | None = None          # the properties.id of a user property
    key: str = "f.id"              # what the user property's values are keyed by: f.id or f.content_id

    @property
    def family(self) -> str:
        return FAMILIES[self.type]


@dataclass(frozen=True)
class Key:
    """A sort or group key: the SQL giving each row's value, and how Python orders and shows the values."""
    expr: str
    numeric: bool                  # numbers (fetched as a NumPy array, NaN when missing), else text
    desc: bool = False
    field: Field | None = None     # set for a group key
    tag_names: dict | None = None  # tag id -> name: tags group by id and order by name


@dataclass(frozen=True)
class CompiledView:
    """One SQL statement answering a view: one row of the matching ids (comma-separated), in the order of
    the sort keys SQLite applies, and the values of each key NumPy applies."""
    sql: str
    params: tuple
    groups: tuple[Key, ...]
    sort: tuple[Key, ...]  # the leading numeric sort keys, which NumPy applies
    repeats: bool  # whether an image can appear in several groups (grouping by a multi-tag property)


_ALIAS = re.compile(r"\b(c|fo|fr|fm)\.")  # the tables a built-in property's SQL reads


class _Builder:
    """Collects the joins one view needs while its parts are compiled."""

    def __init__(self):
        self.tables: set[str] = set()
        self.joins: dict[str, str] = {}

    def value(self, field: Field) -> str:
        """The SQL expression of a scalar field's value for the current file (NULL when it has none)."""
        if field.column is not None:
            self.tables.update(_ALIAS.findall(field.column))
            return field.column
        alias = f"v{field.id}"
        self.joins.setdefault(alias, f"LEFT JOIN property_values {alias} "
                                     f"ON {alias}.property_id = {field.id} AND {alias}.target_id = {field.key}")
        return f"{alias}.value"

    def tag(self, field: Field) -> str:
        """The id of each tag of the file; the join yields one row per tag, NULL when it has none."""
        alias = f"t{field.id}"
        self.joins.setdefault(alias, f"LEFT JOIN tag_values {alias} ON {alias}.property_id = {field.id} "
                                     f"AND {alias}.target_id = {field.key}")
        return f"{alias}.tag_id"

    def source(self) -> str:
        parts = ["files f"]
        # CROSS JOIN keeps files as the outer loop: left to itself the planner scans contents by an index
        # and seeks each file, ten times slower than following content_id in file order.
        if "c" in self.tables:
            parts.append("CROSS JOIN contents c ON c.id = f.content_id")
        if "fo" in self.tables:
            parts.append("CROSS JOIN folders fo ON fo.id = f.folder_id")
        if self.tables & {"fr", "fm"}:  # the frames of films: most images are none
            parts.append("LEFT JOIN frames fr ON fr.file_id = f.id")
        if "fm" in self.tables:
            parts.append("LEFT JOIN films fm ON fm.id = fr.film_id")
        return " ".join(parts + list(self.joins.values()))


def _show(value) -> str:
    return json.dumps(value, default=repr)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInput(message)


# ---- the schema snapshot ----------------------------------------------------------------------------

# SQLite's NOCASE, which property names are unique under, folds ASCII letters only.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Tag:
    """A tag of a tag property, as the compiler needs it: its id, its name and the ids of its parents."""
    id: int
    name: str
    parents: tuple[int, ...] = ()


@dataclass(frozen=True)
class Schema:
    """What compiling a view reads of a project: its user properties (as Annotations.property gives them:
    id, name, type, scope, ...), in the project's order, and per tag property id its tags."""
    properties: Sequence[Mapping] = ()
    tags: Mapping[int, Sequence[Tag]] = dataclass_field(default_factory=dict)

    @cached_property
    def _by_name(self) -> dict[str, Mapping]:
        return {prop["name"].translate(_ASCII_LOWER): prop for prop in self.properties}

    @cached_property
    def _tag_ids(self) -> dict[tuple[int, int | str], int]:
        """(property id, tag id or name) -> tag id."""
        return {(prop_id, ref): tag.id for prop_id, tags in self.tags.items() for tag in tags
                for ref in (tag.id, tag.name)}

    @cached_property
    def _children(self) -> dict[int, list[int]]:
        children: dict[int, list[int]] = {}
        for tags in self.tags.values():
            for tag in tags:
                for parent in tag.parents:
                    children.setdefault(parent, []).append(tag.id)
        return children

    def property(self, name: str) -> Mapping:
        """A user property by name, ignoring ASCII case; NotFound naming the project's properties."""
        prop = self._by_name.get(name.translate(_ASCII_LOWER))
        if prop is None:
            raise no_property(name, [p["name"] for p in self.properties])
        return prop

    def tag_names(self, prop: Mapping) -> dict[int, str]:
        """Tag id -> name, for the tags of a tag property."""
        return {tag.id: tag.name for tag in self.tags.get(prop["id"], ())}

    def tags_under(self, prop: Mapping, refs: Sequence) -> set[int]:
        """The ids of these tags of a tag property (by name or id) and of all their descendants in the
        parent DAG: what a filter on the tags matches. NotFound for a tag it lacks."""
        found, pending = set(), [self._tag_id(prop, ref) for ref in refs]
        while pending:  # a loop, not recursion: a DAG may be deep; `found` stops at shared descendants
            tag_id = pending.pop()
            if tag_id not in found:
                found.add(tag_id)
                pending.extend(self._children.get(tag_id, ()))
        return found

    def _tag_id(self, prop: Mapping, ref) -> int:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise InvalidInput(f"a tag is named by a string or an id, not {ref!r}")
        match = self._tag_ids.get((prop["id"], ref if isinstance(ref, int) else ref.strip()))
        if match is None:
            raise NotFound(f"{prop['name']} has no tag {ref!r}", property=prop["name"], tag=ref)
        return match


# ---- compiling ---------------------------------------------------------------------------------------

def compile_view(schema: Schema, filter=None, sort=None, group=None) -> CompiledView:
    """Check a view against a schema and compile it to SQL; raises InvalidInput or NotFound naming the bad part."""
    return _Compiler(schema).view(filter, sort, group)


class _Compiler:
    """Compiles the parts of one view, reading property and tag names from `schema`."""

    def __init__(self, schema: Schema):
        self.schema = schema

    def view(self, filter, sort, group) -> CompiledView:
        builder, params = _Builder(), []
        _check_depth(filter)
        where = self._filter(filter, builder, params) if filter is not None else "1"
        sort_keys, group_keys = self._sort(sort, builder), self._groups(group, builder)
        # SQLite's sorter costs about a microsecond a row, several times NumPy's lexsort on numbers, while
        # NumPy sorts text no faster than SQLite. So SQLite sorts by the sort keys from the first text key
        # on (and the id), and NumPy then sorts stably by the group keys and the numeric keys before it.
        text = next((i for i, k in enumerate(sort_keys) if not k.numeric), len(sort_keys))
        numpy_keys, sql_keys = group_keys + sort_keys[:text], sort_keys[text:]
        order = [f"{k.expr}{' DESC' if k.desc else ''} NULLS LAST" for k in sql_keys] + ["f.id"]
        inner = (f"SELECT {', '.join(['f.id AS id'] + [f'{k.expr} AS k{i}' for i, k in enumerate(numpy_keys)])} "
                 f"FROM {builder.source()} WHERE {where} ORDER BY {', '.join(order)}")
        # Numbers travel as text that NumPy parses ('nan' standing for missing), text as a JSON array.
        columns = ["group_concat(id, ',')"] + [f"group_concat(ifnull(k{i}, 'nan'), ',')" if k.numeric else
                                               f"json_group_array(k{i})" for i, k in enumerate(numpy_keys)]
        sql = f"SELECT {', '.join(columns)} FROM ({inner})"
        repeats = any(k.field.type == "multi-tag" for k in group_keys)
        return CompiledView(sql, tuple(params), tuple(group_keys), tuple(sort_keys[:text]), repeats)

    # ---- fields -----------------------------------------------------------------------------------

    def _field(self, name, where: str) -> Field:
        expect(isinstance(name, str) and name.strip() != "", f"{where}: 'property' must be a property name")
        if name.strip().lower() in BUILTINS:
            type_, column = BUILTINS[name.strip().lower()]
            return Field(name.strip().lower(), type_, column=column)
        prop = self.schema.property(name.strip())
        return Field(prop["name"], prop["type"], id=prop["id"],
                     key="f.id" if prop["scope"] == "file" else "f.content_id")

    # ---- filter -----------------------------------------------------------------------------------

    def _filter(self, node, builder: _Builder, params: list) -> str:
        expect(isinstance(node, dict) and node, f"a filter is a JSON object, not {_show(node)}")
        for combinator in ("and", "or", "not"):
            if combinator in node:
                expect(len(node) == 1, f"a filter with {combinator!r} has no other keys: {_show(node)}")
                return getattr(self, f"_filter_{combinator}")(node[combinator], builder, params)
        return self._condition(node, builder, params)

    def _filter_and(self, children, builder, params) -> str:
        return self._combine(children, "and", builder, params) or "1"

    def _filter_or(self, children, builder, params) -> str:
        return self._combine(children, "or", builder, params) or "0"

    def _filter_not(self, child, builder, params) -> str:
        return f"NOT ({self._filter(child, builder, params)})"

    def _combine(self, children, combinator: str, builder, params) -> str:
        expect(isinstance(children, list), f"{combinator!r} takes a list of filters, not {_show(children)}")
        return f" {combinator.upper()} ".join(f"({self._filter(c, builder, params)})" for c in children)

    def _condition(self, node: dict, builder: _Builder, params: list) -> str:
        _spec_keys(node, "filter condition", {"property", "op", "value"})
        if node.get("op") == "search":
            return self._search(node, params)
        expect("property" in node and "op" in node,
               f"a filter condition needs 'property' and 'op': {_show(node)}")
        field = self._field(node["property"], "filter")
        op, value = node["op"], node.get("value")
        where = f"filter on {field.name}"
        expect(op in OPS, f"{where}: unknown op {op!r}; the ops are {', '.join(OPS)}")
        valid = _valid_ops(field.family)
        expect(op in valid, f"{where}: op {op!r} does not apply to a {field.type} property; "
                             f"use one of {', '.join(valid)}")
        negate = op in NEGATIONS
        op = NEGATIONS.get(op, op)
        try:
            expect(op == "is_set" or value is not None, f"op {node['op']!r} needs a value")
            if field.family == "checkbox" and op == "eq":
                # An unset checkbox reads as unchecked, so "eq false" is "not eq true".
                negate ^= not _checkbox(value)[0]
                value = True
            sql = (self._tag_condition(field, op, value) if field.family == "tag"
                   else self._scalar_condition(field, op, value, builder, params))
        except InvalidInput as e:
            raise InvalidInput(f"{where}: {e.message}", property=field.name, op=node["op"]) from None
        return f"NOT ({sql})" if negate else sql

    def _search(self, node: dict, params: list) -> str:
        """The images with a text value matching the search: in one text property, or in any of them."""
        if "property" in node:
            field = self._field(node["property"], "filter")
            expect(field.type == "text" and field.id is not None,
                   f"filter on {field.name}: op 'search' looks in text properties (their full-text index), "
                   f"and {field.name} is a {'built-in ' if field.id is None else ''}{field.type} property")
            texts = [prop for prop in self.schema.properties if prop["id"] == field.id]
        else:
            texts = [prop for prop in self.schema.properties if prop["type"] == "text"]
        params_of_search = [search_query(node.get("value"))]
        conditions = []
        for scope, key in (("file", "f.id"), ("content", "f.content_id")):
            ids = [prop["id"] for prop in texts if prop["scope"] == scope]
            if ids:
                conditions.append(textindex.match_sql(key, ids))
                params.extend(params_of_search)
        return " OR ".join(conditions) or "0"

    def _scalar_condition(self, field: Field, op: str, value, builder: _Builder, params: list) -> str:
        if op == "is_set":
            if field.column is not None:
                return f"{builder.value(field)} IS NOT NULL"
            return f"{field.key} IN (SELECT target_id FROM property_values WHERE property_id = {field.id})"
        template, operand = SCALAR_OPS[field.family][op]
        params.extend(operand(value))
        if field.column is not None:
            column = builder.value(field)
            return f"{column} IS NOT NULL AND {template.format(v=column)}"
        return (f"{field.key} IN (SELECT target_id FROM property_values "
                f"WHERE property_id = {field.id} AND {template.format(v='value')})")

    def _tag_condition(self, field: Field, op: str, value) -> str:
        if op == "is_set":
            return f"{field.key} IN (SELECT target_id FROM tag_values WHERE property_id = {field.id})"
        if op == "eq":
            expect(not isinstance(value, list), "eq takes one tag; use has_any or has_all for a list")
        refs = value if isinstance(value, list) else [value]
        expect(refs != [], f"{op} needs at least one tag")
        prop = {"id": field.id, "name": field.name}
        # has_any is one tag set (the tags and all their descendants); has_all needs one match per tag.
        sets = [refs] if op != "has_all" else [[ref] for ref in refs]
        return " AND ".join(
            f"{field.key} IN (SELECT target_id FROM tag_values WHERE property_id = {field.id} "
            f"AND tag_id IN ({', '.join(map(str, sorted(self.schema.tags_under(prop, tags))))}))"
            for tags in sets)

    # ---- sort -------------------------------------------------------------------------------------

    def _sort(self, sort, builder: _Builder) -> list[Key]:
        keys = []
        for key in _spec_list(sort, "sort"):
            _spec_keys(key, "sort", {"property", "desc"})
            field = self._field(key.get("property"), "sort")
            desc = key.get("desc", False)
            expect(isinstance(desc, bool), f"sort on {field.name}: 'desc' must be true or false, not {desc!r}")
            if field.family == "tag":
                # An image with several tags sorts by the first of them alphabetically.
                keys.append(Key(f"(SELECT min(t.name) FROM tag_values tv JOIN tags t ON t.id = tv.tag_id "
                                f"WHERE tv.property_id = {field.id} AND tv.target_id = {field.key})", False, desc))
            elif field.family == "date":
                # As seconds, a partial date counting as the start of its period ("2019" is 2019-01-01).
                value = builder.value(field)
                keys.append(Key(f"unixepoch({value} || substr('-01-01T00:00:00', length({value}) - 3))",
                                True, desc))
            elif field.family in ("number", "checkbox"):
                keys.append(Key(builder.value(field), True, desc))
            else:
                collate = " COLLATE NOCASE" if field.type in ("text", "path") else ""  # ignoring (ASCII) case
                keys.append(Key(f"{builder.value(field)}{collate}", False, desc))
        return keys

    # ---- group ------------------------------------------------------------------------------------

    def _groups(self, group, builder: _Builder) -> list[Key]:
        keys = []
        for spec in _spec_list(group, "group"):
            _spec_keys(spec, "group", {"property", "by", "bin", "desc"})
            field = self._field(spec.get("property"), "group")
            where = f"group by {field.name}"
            by, width, desc = spec.get("by"), spec.get("bin"), spec.get("desc", False)
            expect(isinstance(desc, bool), f"{where}: 'desc' must be true or false, not {desc!r}")
            expect(by is None or field.family == "date",
                   f"{where}: 'by' applies to dates only and {field.name} is a {field.type} property")
            expect(width is None or field.family == "number",
                   f"{where}: 'bin' applies to numbers only and {field.name} is a {field.type} property")
            key = Key(builder.value(field) if field.family != "tag" else builder.tag(field),
                      field.family in ("number", "checkbox", "tag"), desc, field)
            if field.family == "tag":
                key = replace(key, tag_names=self.schema.tag_names({"id": field.id}))
            elif field.family == "date":
                key = replace(key, expr=_date_key(key.expr, by if by is not None else "day", where))
            elif width is not None:
                expect(isinstance(width, (int, float)) and not isinstance(width, bool) and math.isfinite(width)
                       and width > 0, f"{where}: 'bin' must be a positive number, not {width!r}")
                key = replace(key, expr=f"floor({key.expr} / {float(width)!r}) * {float(width)!r}")
            keys.append(key)
        return keys


def _check_depth(filter) -> None:
    """Refuse a filter nested deeper than MAX_FILTER_DEPTH, without recursing into it."""
    pending = [(filter, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, dict) or not {"and", "or", "not"} & node.keys():
            continue  # a condition, or something _filter will refuse by name
        if depth > MAX_FILTER_DEPTH:
            raise InvalidInput(f"the filter nests more than {MAX_FILTER_DEPTH} levels of and/or/not")
        children = [node["not"]] if "not" in node else [c for k in ("and", "or") if isinstance(node.get(k), list)
                                                       for c in node[k]]
        pending.extend((child, depth + 1) for child in children)


def _date_key(value: str, by, where: str) -> str:
    expect(by in DATE_STEPS, f"{where}: 'by' must be one of {', '.join(DATE_STEPS)}, not {by!r}")
    if by == "week":
        # strftime reads a bare year as a Julian day number, so only full dates get an ISO week.
        return f"CASE WHEN length({value}) >= 10 THEN strftime('%G-W%V', {value}) ELSE {value} END"
    return f"substr({value}, 1, {({'year': 4, 'month': 7, 'day': 10})[by]})"


def _spec_list(spec, what: str) -> list:
    if spec is None:
        return []
    if isinstance(spec, dict):
        return [spec]
    expect(isinstance(spec, list), f"{what} is a list of {{\"property\": ...}} objects, not {_show(spec)}")
    return spec


def _spec_keys(spec, what: str, allowed: set[str]) -> None:
    expect(isinstance(spec, dict), f"each {what} key is an object like {{\"property\": \"name\"}}, "
                                    f"not {_show(spec)}")
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InvalidInput(f"unexpected key {unknown[0]!r} in {what} {_show(spec)} "
                           f"(allowed: {', '.join(sorted(allowed))})")


