"""CSV export and import: one row per file, first column `path` (or `id`), then `name[type]` columns.

The format is Panoptic's, so projects move between the two tools: tags are joined by commas, the
separator is `,` or `;` (detected), paths match exactly or by their relative end. An import is checked
in full before anything is written (`dry_run=True` only reports), and then applied as one undoable
operation.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import IO, Callable, ContextManager, Iterator, NamedTuple

from ..errors import InvalidInput, NotFound
from ..operations.annotations import Annotations
from ..operations.files import Files
from ..operations.oplog import OpLog
from ..operations.query import Querying
from ..store.types import BUILTINS, canonical_type, coerce

FRAME_COLUMNS = ("film", "timecode", "time", "shot")  # the built-in properties of frames a CSV export carries

KEY_COLUMNS = ("path", "id", "key")
SEPARATORS = (",", ";", "\t")
# Panoptic's read-only column types, computed by the tool itself: skipped on import.
COMPUTED_TYPES = {"id", "sha1", "ahash", "width", "height"}
_HEADER = re.compile(r"^(?P<name>.*?)\[(?P<type>[^\[\]]+)\]$")
EXPORT_CHUNK = 5000
# Rows listed by name in an import's report (the counts cover them all): a report stays small however
# large the file.
LISTED_ROWS = 1000
# Rows of values written per statement by an import, so that its memory does not grow with the file.
APPLY_CHUNK = 5000
# Bad lines named when a file does not decode.
BAD_LINES_NAMED = 5
ENCODING_HINT = ("give the file's encoding with --encoding (encoding= in Python, ?encoding= over HTTP), "
                 "for example cp1252 for a spreadsheet saved on Windows")


def _cell(type_: str, value) -> str:
    if value is None:
        return ""
    if type_ == "multi-tag":
        return ",".join(value)
    if type_ == "checkbox":
        return "true" if value else "false"
    return str(value)


def _codec(encoding: str | None) -> str:
    """The codec of an encoding's name: UTF-8 with or without a byte order mark when none is given."""
    if not encoding:
        return "utf-8-sig"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}; try utf-8, cp1252 or latin-1",
                           encoding=encoding) from None
    return "utf-8-sig" if name == "utf-8" else name


def _opener(source) -> tuple[str, Callable[[], ContextManager[IO]]]:
    """A name for messages, and a function that opens the CSV afresh (binary, or text for a text file
    object) at its start, so that an import can read it twice without holding it in memory."""
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise NotFound(f"no CSV file at {path}", path=str(path))
        return str(path), lambda: open(path, "rb")
    if isinstance(source, bytes):
        return "the CSV", lambda: contextlib.nullcontext(io.BytesIO(source))
    name = getattr(source, "name", None)
    name = name if isinstance(name, str) else "the CSV"
    if not source.seekable():  # copied once to a temporary file, which can be read again
        # Text stays text (its encoding was applied when it was decoded), bytes stay bytes.
        text = isinstance(source.read(0), str)
        spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="") if text else tempfile.TemporaryFile()
        shutil.copyfileobj(source, spool, 1 << 20)
        source = spool
        source.seek(0)
    start = source.tell()

    def rewound() -> ContextManager[IO]:
        source.seek(start)
        return contextlib.nullcontext(source)
    return name, rewound


def _text_lines(stream: IO, codec: str, name: str) -> Iterator[str]:
    """The lines of the stream as text, decoded strictly: a file that does not decode is refused, naming
    its first bad lines, never read as garbled text."""
    if isinstance(stream.read(0), str):
        yield from _without_nul(_decoded_elsewhere(stream, name), name)
        return
    if codec.startswith(("utf-16", "utf-32")):  # a newline is not one byte in these: decode the stream
        yield from _without_nul(_wide_lines(stream, codec, name), name)
        return
    bad: list[int] = []
    after_first = "utf-8" if codec == "utf-8-sig" else codec  # a byte order mark only starts the file
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode(codec if number == 1 else after_first)
        except UnicodeDecodeError:
            bad.append(number)
            if len(bad) == BAD_LINES_NAMED:
                break
            continue
        if not bad:
            yield from _without_nul([line], name, number)
    if bad:
        listed = ", ".join(map(str, bad)) + (" …" if len(bad) == BAD_LINES_NAMED else "")
        raise InvalidInput(f"{name} is not {_label(codec)} text: line {listed} cannot be decoded as such (rows in "
                           f"other encodings are never guessed); {ENCODING_HINT}. Nothing was imported.", file=name,
                           lines=bad, encoding=_label(codec))


def _wide_lines(stream: IO, codec: str, name: str) -> Iterator[str]:
    text, number = io.TextIOWrapper(stream, encoding=codec, newline=""), 0
    try:
        for number, line in enumerate(text, start=1):
            yield line
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not {_label(codec)} text: line {number + 1} cannot be decoded; "
                           f"{ENCODING_HINT}. Nothing was imported.", file=name, lines=[number + 1],
                           encoding=_label(codec)) from None
    finally:
        text.detach()  # the stream is read again by the next pass


def _decoded_elsewhere(lines, name: str) -> Iterator[str]:
    """Text decoded before it came here (a browser's File.text(), say), where U+FFFD marks the bytes that did
    not decode: refused, as a file that does not decode is."""
    for number, line in enumerate(lines, start=1):
        if "\ufffd" in line:
            raise InvalidInput(f"{name} was decoded with losses before it came here: line {number} holds U+FFFD "
                               "(\ufffd), which stands for bytes that were not UTF-8; send the file itself (as "
                               f"text/csv over HTTP) and {ENCODING_HINT}. Nothing was imported.", file=name,
                               lines=[number])
        yield line


def _without_nul(lines, name: str, first: int = 1) -> Iterator[str]:
    for number, line in enumerate(lines, start=first):
        if "\x00" in line:
            raise InvalidInput(f"{name} is not a CSV file: line {number} holds NUL bytes, as binary files do. "
                               "Nothing was imported.", file=name, lines=[number])
        yield line.lstrip("\ufeff") if number == 1 else line


def _label(codec: str) -> str:
    return "UTF-8" if codec == "utf-8-sig" else codec


def _split_header(cell: str) -> tuple[str, str | None]:
    match = _HEADER.match(cell.strip())
    if match:
        return match["name"].strip(), match["type"].strip()
    return cell.strip(), None


def _detect_separator(first_line: str, name: str) -> str:
    for separator in sorted(SEPARATORS, key=first_line.count, reverse=True):
        header = next(csv.reader([first_line], delimiter=separator), [])
        if header and _split_header(header[0])[0].lower() in KEY_COLUMNS:
            return separator
    raise InvalidInput(
        f"cannot read the header of {name}: its first column must be 'path' or 'id', with columns separated "
        f"by ',' or ';' (the first line is {first_line.rstrip()[:120]!r})", file=name)


class _CsvTable:
    """A CSV file read row by row, as often as needed, so that its size never matters to memory."""

    def __init__(self, source, encoding: str | None):
        self.codec = _codec(encoding)
        self.name, self._open = _opener(source)
        rows = self.rows()
        self.header = next(rows)[1]
        rows.close()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells) of every row, the header first as row 1, as a spreadsheet numbers them."""
        with self._open() as stream:
            lines = _text_lines(stream, self.codec, self.name)
            first = next(lines, "")
            self.separator = _detect_separator(first, self.name)
            reader = csv.reader(itertools.chain([first], lines), delimiter=self.separator)
            try:
                yield from enumerate(reader, start=1)
            except csv.Error as e:
                raise InvalidInput(f"{self.name} cannot be read as CSV at line {reader.line_num}: {e}. "
                                   "Nothing was imported.", file=self.name) from None

    def body(self) -> Iterator[tuple[int, list[str]]]:
        """The rows after the header that hold anything."""
        for number, row in self.rows():
            if number > 1 and any(cell.strip() for cell in row):
                yield number, row


class _Row(NamedTuple):
    number: int
    key: str
    file_ids: list[int]
    unmatched: str | None  # why the key names no image
    values: list[tuple[int, object]]  # (column index, value) of its valid cells
    invalid: list[dict]
    filled: list[int]  # the columns of its non-empty cells


def _list(listed: list, items: list) -> None:
    """Add items to a report's list, up to LISTED_ROWS of them."""
    listed.extend(items[:LISTED_ROWS - len(listed)])


class CsvExchange:
    """CSV export and import of the values of `annotations`, for the images `querying` selects and `files`
    names; an import is one undoable operation of `oplog`."""

    def __init__(self, oplog: OpLog, annotations: Annotations, files: Files, querying: Querying):
        self.oplog = oplog
        self.annotations = annotations
        self.files = files
        self.querying = querying

    def export_csv(self, out, filter=None, sort=None, *, key: str = "path",
                   properties: list[str] | None = None, separator: str = ",") -> dict:
        """Write the images of the view (all by default) as CSV to a path or a text file object."""
        if key not in ("path", "id"):
            raise InvalidInput(f"the key column is 'path' or 'id', not {key!r}")
        if separator not in SEPARATORS:
            raise InvalidInput(f"the separator is one of {SEPARATORS}, not {separator!r}")
        ids = self.querying.query_ids(filter, sort)
        props = [p for p in self.annotations.properties() if not p["builtin"]]
        if properties is not None:
            props = [self.annotations.property(name) for name in properties]
        if isinstance(out, (str, Path)):
            with open(out, "w", newline="", encoding="utf-8") as f:
                return self._write_csv(f, ids, props, key, separator)
        return self._write_csv(out, ids, props, key, separator)

    def _write_csv(self, f: IO[str], ids: list[int], props: list[dict], key: str, separator: str) -> dict:
        writer = csv.writer(f, delimiter=separator)
        # A project with films carries each frame's film, time and shot (read-only: an import skips them).
        frame_columns = FRAME_COLUMNS if self.files.has_films() else ()
        writer.writerow([key] + [f"{name}[{BUILTINS[name][0]}]" for name in frame_columns] +
                        [f"{p['name']}[{p['type']}]" for p in props])
        names = [p["name"] for p in props]
        for start in range(0, len(ids), EXPORT_CHUNK):
            chunk = ids[start:start + EXPORT_CHUNK]
            rows = {row["id"]: row for row in self.files.files(chunk)} if key == "path" or frame_columns else {}
            values = self.annotations.values(chunk, names) if props else {}
            for file_id in chunk:
                row_values = values.get(file_id, {})
                row = rows.get(file_id, {})
                writer.writerow([row.get("path", file_id) if key == "path" else file_id] +
                                [_cell(BUILTINS[name][0], row.get(name)) for name in frame_columns] +
                                [_cell(p["type"], row_values.get(p["name"])) for p in props])
        return {"rows": len(ids), "columns": [key] + list(frame_columns) + names}

    def import_csv(self, source, *, dry_run: bool = False, skip_unmatched: bool = False,
                   skip_invalid: bool = False, encoding: str | None = None) -> dict:
        """Read a CSV of values and apply it as one undoable operation.

        Missing properties and tags are created. Empty cells are left alone (they do not clear values).
        Rows whose path or id matches no image, and cells that do not fit their property's type, make the
        import fail with the list of them, unless `skip_unmatched` / `skip_invalid` say to leave them out;
        `dry_run` reports all of this and writes nothing. Rows naming an image named before are reported
        as duplicates; the last one wins. The file is UTF-8 (with or without a byte order mark) unless
        `encoding` names another; a file that does not decode is refused. It is read row by row, twice,
        so a large file needs little memory."""
        table = _CsvTable(source, encoding)
        name = table.name
        key = _split_header(table.header[0])[0].lower()
        columns, skipped = self._csv_columns(table.header[1:], name)
        match = self._csv_matcher(key)
        report, filled, written = self._csv_check(table, columns, match)
        # A new property none of whose cells can be written (all invalid, say) is not created; one whose
        # column is empty is, so that a project's empty properties survive a round trip.
        created = [column for index, column in enumerate(columns)
                   if column is not None and column.get("new") and (written[index] or not filled[index])]
        report.update(created_properties=[c["name"] for c in created], skipped_columns=skipped,
                      separator=table.separator, encoding=_label(table.codec), dry_run=dry_run)
        if dry_run:
            return report
        if report["unmatched"] and not skip_unmatched:
            listed = "; ".join(f"row {u['row']} ({u['key']!r}: {u['reason']})" for u in report["unmatched_rows"][:5])
            raise InvalidInput(f"{report['unmatched']} row(s) of {name} match no image: {listed}"
                               + (" …" if report["unmatched"] > 5 else "") + ". Nothing was imported.", **report)
        if report["invalid_cells"] and not skip_invalid:
            listed = "; ".join(f"row {c['row']} column {c['column']!r}: {c['error']}" for c in report["invalid"][:5])
            raise InvalidInput(f"{report['invalid_cells']} cell(s) of {name} are invalid: {listed}"
                               + (" …" if report["invalid_cells"] > 5 else "") + ". Nothing was imported.", **report)
        with self.oplog.record("import_csv", f"import {Path(name).name}", {"file": name, "rows": report["rows"]}):
            for column in created:
                self.annotations.create_property(column["name"], column["type"], column.get("scope", "file"))
            self._csv_apply(table, columns, match)
        return report

    def _csv_check(self, table: _CsvTable, columns: list[dict | None], match) -> tuple[dict, list[int], list[int]]:
        """The import's report, read from the whole file, and for each column how many of its cells are
        not empty and how many values it would write."""
        report = {"rows": 0, "matched": 0, "unmatched": 0, "unmatched_rows": [], "invalid_cells": 0, "invalid": [],
                  "duplicates": 0, "duplicate_rows": [], "cells": 0}
        filled, written = [0] * len(columns), [0] * len(columns)
        first_row: dict[int, int] = {}  # file id -> the first row that names it
        for row in self._csv_read(table, columns, match):
            report["rows"] += 1
            report["invalid_cells"] += len(row.invalid)
            _list(report["invalid"], row.invalid)
            for index in row.filled:
                filled[index] += 1
            if row.unmatched:
                report["unmatched"] += 1
                _list(report["unmatched_rows"], [{"row": row.number, "key": row.key, "reason": row.unmatched}])
                continue
            report["matched"] += 1
            report["cells"] += len(row.values)
            for index, _ in row.values:
                written[index] += 1
            for file_id in row.file_ids:
                earlier = first_row.setdefault(file_id, row.number)
                if earlier != row.number:
                    report["duplicates"] += 1
                    _list(report["duplicate_rows"], [{"row": row.number, "key": row.key, "same_image_as_row": earlier}])
        return report, filled, written

    def _csv_apply(self, table: _CsvTable, columns: list[dict | None], match) -> None:
        """Write the valid values of the matched rows, a chunk of rows at a time; a later row of the same
        image overwrites an earlier one."""
        pending: dict[int, dict[int, object]] = defaultdict(dict)
        for count, row in enumerate(self._csv_read(table, columns, match), start=1):
            for index, value in row.values:
                for file_id in row.file_ids:
                    pending[index][file_id] = value
            if count % APPLY_CHUNK == 0:
                self._csv_flush(columns, pending)
        self._csv_flush(columns, pending)

    def _csv_flush(self, columns: list[dict | None], pending: dict[int, dict[int, object]]) -> None:
        for index, values in pending.items():
            self.annotations.set_many(columns[index]["name"], values)
        pending.clear()

    def _csv_read(self, table: _CsvTable, columns: list[dict | None], match) -> Iterator["_Row"]:
        """Each row that holds anything: the images it names and its cells checked against their columns."""
        width = len(table.header)
        for number, row in table.body():
            file_ids, unmatched = match(row[0])
            if len(row) > width:
                too_long = {"row": number, "column": None, "value": table.separator.join(row[width:]),
                            "error": f"the row has {len(row)} cells, the header {width}"}
                yield _Row(number, row[0], file_ids, unmatched, [], [too_long], [])
                continue
            values, invalid, filled = [], [], []
            for index, (column, cell) in enumerate(zip(columns, row[1:])):
                if column is None or not cell.strip():
                    continue
                filled.append(index)
                try:
                    values.append((index, self._csv_value(column, cell)))
                except InvalidInput as e:
                    invalid.append({"row": number, "column": table.header[index + 1], "value": cell,
                                    "error": e.message})
            yield _Row(number, row[0], file_ids, unmatched, values, invalid, filled)

    def _csv_columns(self, cells: list[str], name: str) -> tuple[list[dict | None], list[dict]]:
        """For each value column: the property it fills (None when skipped; "new" when to be created), and
        the skipped columns with the reason."""
        existing = {p["name"].lower(): p for p in self.annotations.properties()}
        columns, skipped, seen = [], [], set()
        for cell in cells:
            prop_name, type_name = _split_header(cell)
            if not prop_name:
                raise InvalidInput(f"{name} has a column without a name: {cell!r}", file=name)
            if prop_name.lower() in seen:
                raise InvalidInput(f"{name} has two columns for the property {prop_name!r}", file=name)
            seen.add(prop_name.lower())
            if prop_name.lower() in BUILTINS or (type_name or "").lower() in COMPUTED_TYPES:
                columns.append(None)
                skipped.append({"column": cell, "reason": "a read-only property computed by imagier"})
                continue
            type_ = canonical_type(type_name) if type_name else None
            prop = existing.get(prop_name.lower())
            if prop is None:
                prop = {"name": prop_name, "type": type_ or "text", "scope": "file", "new": True}
            elif type_ and type_ != prop["type"]:
                raise InvalidInput(f"column {cell!r} of {name} says {type_}, but the project's property "
                                   f"{prop['name']!r} is of type {prop['type']}", file=name, column=cell)
            columns.append(prop)
        return columns, skipped

    @staticmethod
    def _csv_value(column: dict, cell: str):
        if column["type"] == "multi-tag":
            return sorted({t.strip() for t in cell.split(",") if t.strip()})
        if column["type"] == "tag":
            if "," in cell:
                raise InvalidInput(f"{column['name']} holds one tag per image, not the list {cell!r}")
            return cell.strip()
        return coerce(column["type"], cell)

    def _csv_matcher(self, key: str) -> Callable[[str], tuple[list[int], str | None]]:
        """A function from a row's key to the image it names and, when none, why: by id, by exact path, or
        by the relative end of the path (`photos/a.jpg` matches `/home/me/corpus/photos/a.jpg` when unique)."""
        if key == "id":
            known = set(self.querying.query_ids())

            def by_id(cell: str) -> tuple[list[int], str | None]:
                file_id = int(cell) if cell.strip().isdigit() else None
                return ([file_id], None) if file_id in known else ([], "no image with this id")
            return by_id
        by_name: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for file_id, path in self.files.all_paths():
            by_name[path.rsplit("/", 1)[-1]].append((path, file_id))

        def by_path(cell: str) -> tuple[list[int], str | None]:
            wanted = cell.strip().replace("\\", "/")
            candidates = by_name.get(wanted.rsplit("/", 1)[-1], [])
            exact = [i for p, i in candidates if p == wanted]
            suffix = "/" + wanted.lstrip("./").lstrip("/")
            found = exact or [i for p, i in candidates if p.endswith(suffix)]
            if len(found) == 1:
                return found, None
            return [], (f"matches {len(found)} images; give more of the path" if found else "no image with this path")
        return by_path
