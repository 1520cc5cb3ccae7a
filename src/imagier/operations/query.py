"""The query engine's rules: a view checked and compiled by store/compiler.py against a snapshot of the
project's properties and tags (kept until the next commit to the file), run by store/query.py (which says
what its result holds), and refused with the bad part named when it cannot be."""

from __future__ import annotations

import apsw

from ..errors import InvalidInput
from ..store import query as query_sql
from ..store import textindex
from ..store.compiler import CompiledView, Schema, compile_view, expect, search_query
from ..store.db import Database
from .annotations import Annotations
from .files import Files


class Querying:
    """Views compiled and run on one project file. Property names are read through `annotations`
    (operations.annotations.Annotations); the ids of a selection are checked through `files` (operations.files.Files)."""

    def __init__(self, db: Database, annotations: Annotations, files: Files):
        self.db = db
        self.annotations = annotations
        self.files = files
        self._schema: tuple[int, Schema] | None = None  # (the file's data_version when read, the snapshot)

    def check_selection(self, filter=None, ids=None) -> None:
        """Refuse, before a background job starts, the images it would refuse once running: a filter that
        does not compile (InvalidInput or NotFound naming the bad part), or ids that are no image (NotFound).
        The filter is compiled, not run: checking it takes no time on any corpus."""
        if filter is not None:
            self.compile_view(filter)
        if ids is not None:
            self.files.existing_files(ids)

    def compile_view(self, filter=None, sort=None, group=None) -> CompiledView:
        """Check a view and compile it to SQL; raises InvalidInput or NotFound naming the bad part."""
        return compile_view(self.schema(), filter, sort, group)

    def schema(self) -> Schema:
        """The properties and tags a view is compiled against, read again only after a commit to the file."""
        # The version is read before the tables: a commit in between makes the next call read them again.
        version = self.db.data_version()
        cached = self._schema
        if cached is None or cached[0] != version:
            cached = self._schema = (version, self._read_schema())
        return cached[1]

    def _read_schema(self) -> Schema:
        properties = [p for p in self.annotations.properties() if not p["builtin"]]
        return Schema(tuple(properties), query_sql.tags(self.db.reader))

    def text_matches(self, file_id: int, property: str, search: str) -> list[list[int]]:
        """Where a text search (words as the filter op `search` takes them) matches an image's value of a text
        property: the [start, end] characters of the words it matches, in order; none when the image has no
        value, or when the value as a whole does not match, as the search would not find the image by it.
        Read as the full-text index reads the value: case and accents folded, phrases, prefixes, OR, NOT."""
        prop = self.annotations.property(property)
        if prop["type"] != "text":
            raise InvalidInput(f"{prop['name']} is a {prop['type']} property: a text search looks in text properties",
                               property=prop["name"])
        query = search_query(search)
        value = self.annotations.values([file_id], [prop["name"]])[file_id].get(prop["name"])
        if value is None:
            return []
        return [list(span) for span in textindex.matched_spans(self.db.reader, query, value)]

    def query(self, filter=None, sort=None, group=None, *, limit: int | None = None, offset: int = 0) -> dict:
        """The images of a view, in order: {"total", "rows", "ids", "groups"?}.

        `total` is the number of images matching the filter, `rows` the length of the whole ordered list
        (larger than `total` only when a multi-tag grouping repeats images), `ids` the file ids of the
        window [offset, offset + limit) of that list. When grouped, `groups` is a tree of
        {"key", "count", "start", "end", "groups"} whose start/end (end exclusive) index the whole
        ordered list, so a client fetches values only for the window it shows.
        """
        expect(isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0,
               f"offset must be a non-negative integer, not {offset!r}")
        expect(limit is None or (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0),
               f"limit must be a non-negative integer, not {limit!r}")
        view = self.compile_view(filter, sort, group)
        try:
            return query_sql.run_view(self.db.reader, view, offset, limit)
        except apsw.SQLError as e:
            # A long list of conditions in one and/or nests as deep in SQL as it is long.
            if "too large" not in str(e) and "too many" not in str(e):
                raise
            raise InvalidInput(f"the filter is too large for SQLite ({e}): use fewer conditions, or has_any "
                               "with a list of tags instead of one condition per tag") from None

    def query_ids(self, filter=None, sort=None) -> list[int]:
        """The ids of the images matching `filter`, in `sort` order, each once."""
        return self.query(filter, sort)["ids"]
