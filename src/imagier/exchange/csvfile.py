"""CSV export and import: one row per file, first column `path` (or `id`), then `name[type]` columns.

The format is Panoptic's, so projects move between the two tools: tags are joined by commas, the
separator is `,` or `;` (detected), paths match exactly or by their relative end. An import is checked
in full before anything is written (`dry_run=True` only reports), and then applied as one undoable
operation.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import IO

from ..errors import InvalidInput, NotFound
from ..store.types import BUILTINS, canonical_type, coerce

KEY_COLUMNS = ("path", "id", "key")
SEPARATORS = (",", ";", "\t")
# Panoptic's read-only column types, computed by the tool itself: skipped on import.
COMPUTED_TYPES = {"id", "sha1", "ahash", "width", "height"}
_HEADER = re.compile(r"^(?P<name>.*?)\[(?P<type>[^\[\]]+)\]$")
EXPORT_CHUNK = 5000


def _cell(type_: str, value) -> str:
    if value is None:
        return ""
    if type_ == "multi-tag":
        return ",".join(value)
    if type_ == "checkbox":
        return "true" if value else "false"
    return str(value)


def _read_text(source) -> tuple[str, str]:
    """The CSV text and a name for messages, from a path, bytes or an open file (text or binary)."""
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise NotFound(f"no CSV file at {path}", path=str(path))
        data, name = path.read_bytes(), str(path)
    elif isinstance(source, bytes):
        data, name = source, "the CSV"
    else:
        data, name = source.read(), getattr(source, "name", "the CSV")
        if isinstance(data, str):
            return data.lstrip("\ufeff"), name
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        return data.decode("cp1252"), name  # spreadsheets on Windows save in this code page


def _split_header(cell: str) -> tuple[str, str | None]:
    match = _HEADER.match(cell.strip())
    if match:
        return match["name"].strip(), match["type"].strip()
    return cell.strip(), None


def _detect_separator(text: str, name: str) -> str:
    first_line = text.split("\n", 1)[0]
    for separator in sorted(SEPARATORS, key=first_line.count, reverse=True):
        header = next(csv.reader([first_line], delimiter=separator), [])
        if header and _split_header(header[0])[0].lower() in KEY_COLUMNS:
            return separator
    raise InvalidInput(
        f"cannot read the header of {name}: its first column must be 'path' or 'id', with columns separated "
        f"by ',' or ';' (the first line is {first_line[:120]!r})", file=name)


class CsvExchange:
    """Mixed into Project; uses the query, files and annotation operations."""

    def export_csv(self, out, filter=None, sort=None, *, key: str = "path",
                   properties: list[str] | None = None, separator: str = ",") -> dict:
        """Write the images of the view (all by default) as CSV to a path or a text file object."""
        if key not in ("path", "id"):
            raise InvalidInput(f"the key column is 'path' or 'id', not {key!r}")
        if separator not in SEPARATORS:
            raise InvalidInput(f"the separator is one of {SEPARATORS}, not {separator!r}")
        ids = self.query_ids(filter, sort)
        props = [p for p in self.properties() if not p["builtin"]]
        if properties is not None:
            props = [self.property(name) for name in properties]
        if isinstance(out, (str, Path)):
            with open(out, "w", newline="", encoding="utf-8") as f:
                return self._write_csv(f, ids, props, key, separator)
        return self._write_csv(out, ids, props, key, separator)

    def _write_csv(self, f: IO[str], ids: list[int], props: list[dict], key: str, separator: str) -> dict:
        writer = csv.writer(f, delimiter=separator)
        writer.writerow([key] + [f"{p['name']}[{p['type']}]" for p in props])
        names = [p["name"] for p in props]
        for start in range(0, len(ids), EXPORT_CHUNK):
            chunk = ids[start:start + EXPORT_CHUNK]
            paths = {row["id"]: row["path"] for row in self.files(chunk)} if key == "path" else {}
            values = self.values(chunk, names) if props else {}
            for file_id in chunk:
                row_values = values.get(file_id, {})
                writer.writerow([paths.get(file_id, file_id)] +
                                [_cell(p["type"], row_values.get(p["name"])) for p in props])
        return {"rows": len(ids), "columns": [key] + names}

    def import_csv(self, source, *, dry_run: bool = False, skip_unmatched: bool = False,
                   skip_invalid: bool = False) -> dict:
        """Read a CSV of values and apply it as one undoable operation.

        Missing properties and tags are created. Empty cells are left alone (they do not clear values).
        Rows whose path or id matches no image, and cells that do not fit their property's type, make the
        import fail with the list of them, unless `skip_unmatched` / `skip_invalid` say to leave them out;
        `dry_run` reports all of this and writes nothing."""
        text, name = _read_text(source)
        separator = _detect_separator(text, name)
        rows = list(csv.reader(io.StringIO(text), delimiter=separator))
        header, body = rows[0], [r for r in rows[1:] if any(cell.strip() for cell in r)]
        key = _split_header(header[0])[0].lower()
        columns, skipped, created = self._csv_columns(header[1:], name)
        matches, unmatched = self._csv_match_rows(key, [r[0] if r else "" for r in body])

        invalid, writes = [], {i: {} for i in range(len(columns))}
        for row_number, (row, file_ids) in enumerate(zip(body, matches), start=2):
            if len(row) > len(header):
                invalid.append({"row": row_number, "column": None, "value": separator.join(row[len(header):]),
                                "error": f"the row has {len(row)} cells, the header {len(header)}"})
                continue
            for index, column in enumerate(columns):
                if column is None or index + 1 >= len(row) or not row[index + 1].strip():
                    continue
                try:
                    value = self._csv_value(column, row[index + 1])
                except InvalidInput as e:
                    invalid.append({"row": row_number, "column": header[index + 1], "value": row[index + 1],
                                    "error": e.message})
                    continue
                for file_id in file_ids:
                    writes[index][file_id] = value

        report = {
            "rows": len(body), "matched": sum(1 for m in matches if m), "unmatched": len(unmatched),
            "unmatched_rows": unmatched, "invalid": invalid, "created_properties": [c["name"] for c in created],
            "skipped_columns": skipped, "cells": sum(len(w) for w in writes.values()), "separator": separator,
            "dry_run": dry_run,
        }
        if dry_run:
            return report
        if unmatched and not skip_unmatched:
            listed = "; ".join(f"row {u['row']} ({u['key']!r}: {u['reason']})" for u in unmatched[:5])
            raise InvalidInput(f"{len(unmatched)} row(s) of {name} match no image: {listed}"
                               + (" …" if len(unmatched) > 5 else "") + ". Nothing was imported.", **report)
        if invalid and not skip_invalid:
            listed = "; ".join(f"row {c['row']} column {c['column']!r}: {c['error']}" for c in invalid[:5])
            raise InvalidInput(f"{len(invalid)} cell(s) of {name} are invalid: {listed}"
                               + (" …" if len(invalid) > 5 else "") + ". Nothing was imported.", **report)
        with self.oplog.record("import_csv", f"import {Path(name).name}", {"file": name, "rows": len(body)}):
            for column in created:
                self.create_property(column["name"], column["type"], column.get("scope", "file"))
            for index, column in enumerate(columns):
                if column is not None and writes[index]:
                    self.set_many(column["name"], writes[index])
        return report

    def _csv_columns(self, cells: list[str], name: str) -> tuple[list[dict | None], list[dict], list[dict]]:
        """For each value column: the property it fills (None when skipped), the skipped columns with the
        reason, and the properties to create."""
        existing = {p["name"].lower(): p for p in self.properties()}
        columns, skipped, created, seen = [], [], [], set()
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
                created.append(prop)
            elif type_ and type_ != prop["type"]:
                raise InvalidInput(f"column {cell!r} of {name} says {type_}, but the project's property "
                                   f"{prop['name']!r} is of type {prop['type']}", file=name, column=cell)
            columns.append(prop)
        return columns, skipped, created

    @staticmethod
    def _csv_value(column: dict, cell: str):
        if column["type"] == "multi-tag":
            return sorted({t.strip() for t in cell.split(",") if t.strip()})
        if column["type"] == "tag":
            if "," in cell:
                raise InvalidInput(f"{column['name']} holds one tag per image, not the list {cell!r}")
            return cell.strip()
        return coerce(column["type"], cell)

    def _csv_match_rows(self, key: str, keys: list[str]) -> tuple[list[list[int]], list[dict]]:
        """The file ids of each row, and the rows that match none: by id, by exact path, or by the
        relative end of the path (`photos/a.jpg` matches `/home/me/corpus/photos/a.jpg` when unique)."""
        matches, unmatched = [], []
        if key == "id":
            known = set(self.query_ids())
            for row_number, cell in enumerate(keys, start=2):
                file_id = int(cell) if cell.strip().isdigit() else None
                matches.append([file_id] if file_id in known else [])
                if file_id not in known:
                    unmatched.append({"row": row_number, "key": cell, "reason": "no image with this id"})
            return matches, unmatched
        by_name: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for file_id, path in self.all_paths():
            by_name[path.rsplit("/", 1)[-1]].append((path, file_id))
        for row_number, cell in enumerate(keys, start=2):
            wanted = cell.strip().replace("\\", "/")
            candidates = by_name.get(wanted.rsplit("/", 1)[-1], [])
            exact = [i for p, i in candidates if p == wanted]
            suffix = "/" + wanted.lstrip("./").lstrip("/")
            found = exact or [i for p, i in candidates if p.endswith(suffix)]
            if len(found) == 1:
                matches.append(found)
            else:
                matches.append([])
                unmatched.append({"row": row_number, "key": cell,
                                  "reason": f"matches {len(found)} images; give more of the path" if found
                                  else "no image with this path"})
        return matches, unmatched
