"""Properties, tags and values: the annotation operations of a Project.

Every write runs inside `self.oplog.record(...)`, so it is one transaction and one undoable operation.
Images are addressed by file id; a property with scope "content" stores its value once per distinct
content, so every file sharing those bytes shows it.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable, Sequence

import apsw

from ..checks import image_ids, non_empty_name
from ..errors import Conflict, InvalidInput, NotFound
from ..store import annotations as annotations_sql
from ..store import files as files_sql
from ..store.db import Database, storable
from ..store.types import BUILTINS, PALETTE, SCOPES, TAG_TYPES, canonical_type, coerce, no_property, present
from .oplog import OpLog

TagRef = int | str


def _distinct_ids(ids: Iterable[int]) -> list[int]:
    return sorted(set(image_ids(ids)))


class Annotations:
    """The properties, tags and values of one project file; every write is one undoable operation of `oplog`."""

    def __init__(self, db: Database, oplog: OpLog):
        self.db = db
        self.oplog = oplog

    # ---- properties -------------------------------------------------------------------------------

    def properties(self) -> list[dict]:
        """Every property: the built-in read-only ones first, then the user's in their order. `machine`:
        made by a model (the ImageNet guesses), whose values are guesses rather than annotations."""
        builtin = [{"id": None, "name": name, "type": t, "scope": "file", "builtin": True, "machine": False}
                   for name, (t, _) in BUILTINS.items()]
        return builtin + annotations_sql.properties(self.db.reader)

    def property(self, name: str | int) -> dict:
        """One user property by name (case-insensitive) or id."""
        conn = self.db.reader
        if isinstance(name, int):
            found = annotations_sql.property_with_id(conn, name) if storable(name) else None
        else:
            if not isinstance(name, str):
                raise InvalidInput(f"a property is named by a string, not {name!r}")
            if name.lower() in BUILTINS:
                raise InvalidInput(f"{name!r} is a built-in read-only property", property=name)
            found = annotations_sql.property_named(conn, name)
        if found is None:
            raise no_property(name, annotations_sql.property_names(conn))
        return found

    def create_property(self, name: str, type: str, scope: str = "file") -> dict:
        """Create a property of a type (text, number, date, checkbox, url, colour, tag, multi-tag, path),
        per file or per content (shared by every file with the same bytes)."""
        name = self._check_property_name(name)
        type_ = canonical_type(type)
        if scope not in SCOPES:
            raise InvalidInput(f"unknown scope {scope!r}; a property is per 'file' or per 'content'", scope=scope)
        with self.oplog.record("create_property", f"create property {name}", {"name": name, "type": type_}) as conn:
            if annotations_sql.property_named(conn, name) is not None:
                raise Conflict(f"a property named {name!r} already exists", property=name)
            annotations_sql.add_property(conn, name, type_, scope)
        return self.property(name)

    def rename_property(self, name: str, new_name: str) -> dict:
        """Give a property another name; its values stay."""
        prop = self.property(name)
        new_name = self._check_property_name(new_name)
        with self.oplog.record("rename_property", f"rename property {prop['name']} to {new_name}") as conn:
            clash = annotations_sql.property_named(conn, new_name)
            if clash is not None and clash["id"] != prop["id"]:
                raise Conflict(f"a property named {new_name!r} already exists", property=new_name)
            annotations_sql.rename_property(conn, prop["id"], new_name)
        return self.property(prop["id"])

    def delete_property(self, name: str) -> None:
        """Delete a property with its tags and values (undoable, like every change)."""
        prop = self.property(name)
        with self.oplog.record("delete_property", f"delete property {prop['name']}") as conn:
            annotations_sql.delete_property(conn, prop["id"])

    @staticmethod
    def _check_property_name(name) -> str:
        name = non_empty_name("property", name).strip()
        if name.lower() in BUILTINS:
            raise InvalidInput(f"{name!r} is the name of a built-in property; choose another", property=name)
        if any(ch in name for ch in "[]/"):
            # brackets would break CSV headers (name[type]); a slash, the property's URL in the HTTP API
            raise InvalidInput(f"a property name cannot contain brackets or slashes: {name!r}", property=name)
        _refuse_control_characters(name, "property")
        return name

    # ---- tags -------------------------------------------------------------------------------------

    def tags(self, property: str | int) -> list[dict]:
        """The tags of a tag property by name: id, name, colour, parent ids and number of images."""
        return annotations_sql.tags(self.db.reader, self._tag_property(property)["id"])

    def tag(self, property: str | int, tag: TagRef) -> dict:
        """One tag of a tag property, by name or id."""
        prop = self._tag_property(property)
        tag_id = self._tag_id(self.db.reader, prop, tag)
        return next(t for t in self.tags(prop["id"]) if t["id"] == tag_id)

    def create_tag(self, property: str | int, name: str, colour: str | None = None,
                   parents: Sequence[TagRef] = ()) -> dict:
        """Create a tag, with a colour (#rrggbb; one from the palette when None) and parent tags."""
        prop = self._tag_property(property)
        with self.oplog.record("create_tag", f"create tag {name} in {prop['name']}") as conn:
            tag_id = self._insert_tag(conn, prop, name, colour)
            self._set_parents(conn, prop, tag_id, parents)
        return self.tag(prop["id"], tag_id)

    def update_tag(self, property: str | int, tag: TagRef, *, name: str | None = None, colour: str | None = None,
                   parents: Sequence[TagRef] | None = None) -> dict:
        """Rename a tag, change its colour, or replace its parents."""
        prop = self._tag_property(property)
        with self.oplog.record("update_tag", f"edit tag {tag} in {prop['name']}") as conn:
            tag_id = self._tag_id(conn, prop, tag)
            if name is not None:
                name = self._check_tag_name(name)
                clash = annotations_sql.tag_named(conn, prop["id"], name)
                if clash is not None and clash != tag_id:
                    raise Conflict(f"{prop['name']} already has a tag named {name!r}", tag=name)
                annotations_sql.rename_tag(conn, tag_id, name)
            if colour is not None:
                annotations_sql.set_tag_colour(conn, tag_id, coerce("colour", colour))
            if parents is not None:
                annotations_sql.remove_parents(conn, tag_id)
                self._set_parents(conn, prop, tag_id, parents)
        return self.tag(prop["id"], tag_id)

    def delete_tag(self, property: str | int, tag: TagRef) -> None:
        """Delete a tag; images lose it, its children lose it as a parent."""
        prop = self._tag_property(property)
        with self.oplog.record("delete_tag", f"delete tag {tag} from {prop['name']}") as conn:
            annotations_sql.delete_tags(conn, [self._tag_id(conn, prop, tag)])

    def merge_tags(self, property: str | int, sources: Sequence[TagRef], into: TagRef) -> dict:
        """Give every image of the source tags the target tag, move their children under it, delete them."""
        prop = self._tag_property(property)
        with self.oplog.record("merge_tags", f"merge tags into {into} in {prop['name']}") as conn:
            target = self._tag_id(conn, prop, into)
            source_ids = sorted({self._tag_id(conn, prop, s) for s in sources} - {target})
            if not source_ids:
                raise InvalidInput("merging needs at least one tag other than the target")
            annotations_sql.copy_tag_values(conn, source_ids, target)
            children = annotations_sql.children(conn, source_ids)
            annotations_sql.delete_tags(conn, source_ids)
            for child in children:
                if child != target and target not in annotations_sql.descendants(conn, [child]):
                    annotations_sql.add_parent(conn, child, target)
            if prop["type"] == "tag":  # a single-tag property keeps one tag per image
                annotations_sql.keep_only_tag(conn, prop["id"], target)
        return self.tag(prop["id"], target)

    def _tag_property(self, property: str | int) -> dict:
        prop = property if isinstance(property, dict) else self.property(property)
        if prop["type"] not in TAG_TYPES:
            raise InvalidInput(f"property {prop['name']!r} is of type {prop['type']}, not a tag property",
                               property=prop["name"])
        return prop

    @staticmethod
    def _check_tag_name(name) -> str:
        non_empty_name("tag", name)
        if "," in name:
            raise InvalidInput(f"a tag name cannot contain a comma (CSV joins tags with commas): {name!r}", tag=name)
        _refuse_control_characters(name.strip(), "tag")
        return name.strip()

    def _insert_tag(self, conn: apsw.Connection, prop: dict, name: str, colour: str | None) -> int:
        name = self._check_tag_name(name)
        if annotations_sql.tag_named(conn, prop["id"], name) is not None:
            raise Conflict(f"{prop['name']} already has a tag named {name!r}", tag=name)
        if colour is None:
            colour = PALETTE[annotations_sql.tag_count(conn, prop["id"]) % len(PALETTE)]
        return annotations_sql.add_tag(conn, prop["id"], name, coerce("colour", colour))

    def _tag_id(self, conn: apsw.Connection, prop: dict, tag: TagRef, create: bool = False) -> int:
        if isinstance(tag, bool) or not isinstance(tag, (int, str)):
            raise InvalidInput(f"a tag is named by a string or an id, not {tag!r}")
        if isinstance(tag, int):
            found = annotations_sql.tag_with_id(conn, prop["id"], tag) if storable(tag) else None
        else:
            found = annotations_sql.tag_named(conn, prop["id"], tag.strip())
        if found is not None:
            return found
        if create and isinstance(tag, str):
            return self._insert_tag(conn, prop, tag, None)
        raise NotFound(f"{prop['name']} has no tag {tag!r}", property=prop["name"], tag=tag)

    def _set_parents(self, conn: apsw.Connection, prop: dict, tag_id: int, parents: Sequence[TagRef]) -> None:
        for parent in parents:
            parent_id = self._tag_id(conn, prop, parent)
            if parent_id == tag_id or parent_id in annotations_sql.descendants(conn, [tag_id]):
                name = annotations_sql.tag_name(conn, tag_id)
                raise Conflict(f"making {parent!r} a parent of {name!r} would create a cycle of tags",
                               tag=name, parent=parent)
            annotations_sql.add_parent(conn, tag_id, parent_id)

    # ---- values -----------------------------------------------------------------------------------

    def set_values(self, property: str | int, ids: Iterable[int], value) -> int:
        """Give every image in `ids` this value (a tag property takes a tag name or a list of them; unknown
        tag names are created). None clears the value. Returns the number of images. One undoable operation."""
        prop = self.property(property)
        ids = _distinct_ids(ids)
        with self.oplog.record("set_values", f"set {prop['name']}", {"property": prop["name"], "value": value}) as conn:
            targets = self._targets(conn, prop, ids)
            if prop["type"] in TAG_TYPES:
                tag_ids = self._tag_ids_for(conn, prop, value)
                annotations_sql.delete_tag_values(conn, prop["id"], targets)
                annotations_sql.add_tag_values(conn, prop["id"], targets, tag_ids)
            else:
                stored = self._coerce(prop, value)
                if stored is None:
                    annotations_sql.delete_values(conn, prop["id"], targets)
                else:
                    annotations_sql.set_value(conn, prop["id"], targets, stored)
        return len(ids)

    def add_values(self, property: str | int, ids: Iterable[int], tags) -> int:
        """Add tags to every image in `ids`, keeping the tags they have (for a single-tag property, replace)."""
        prop = self._tag_property(property)
        if prop["type"] == "tag":
            return self.set_values(prop["id"], ids, tags)
        ids = _distinct_ids(ids)
        with self.oplog.record("add_values", f"add to {prop['name']}", {"property": prop["name"], "tags": tags}) as conn:
            targets = self._targets(conn, prop, ids)
            annotations_sql.add_tag_values(conn, prop["id"], targets, self._tag_ids_for(conn, prop, tags))
        return len(ids)

    def remove_values(self, property: str | int, ids: Iterable[int], tags=None) -> int:
        """Remove these tags (or, with tags=None, every value of the property) from the images in `ids`."""
        prop = self.property(property)
        ids = _distinct_ids(ids)
        with self.oplog.record("remove_values", f"remove from {prop['name']}", {"property": prop["name"]}) as conn:
            targets = self._targets(conn, prop, ids)
            if tags is None and prop["type"] in TAG_TYPES:
                annotations_sql.delete_tag_values(conn, prop["id"], targets)
            elif tags is None:
                annotations_sql.delete_values(conn, prop["id"], targets)
            else:
                tag_ids = self._tag_ids_for(conn, self._tag_property(prop), tags, create=False)
                annotations_sql.delete_tag_values(conn, prop["id"], targets, tag_ids)
        return len(ids)

    def set_many(self, property: str | int, values: dict[int, object]) -> int:
        """Give each image its own value: {file id: value} (tag properties: a tag name or a list; unknown
        tags are created). Values are checked before anything is written. One undoable operation."""
        prop = self.property(property)
        ids = _distinct_ids(values)
        is_tags = prop["type"] in TAG_TYPES
        stored = {int(i): (value if is_tags else self._coerce(prop, value)) for i, value in values.items()}
        with self.oplog.record("set_many", f"set {prop['name']} on {len(stored)} images", {"property": prop["name"]}) as conn:
            target_of = self._target_of(conn, prop, ids)
            if is_tags:
                # A CSV of 100,000 rows names the same few tags over and over: look each set up once.
                def key(value):
                    return tuple(value) if isinstance(value, list) else value
                tag_sets = {key(value): self._tag_ids_for(conn, prop, value) for value in
                            {key(v): v for v in stored.values()}.values()}
                annotations_sql.delete_tag_values(conn, prop["id"], sorted(set(target_of.values())))
                annotations_sql.add_each_tag_value(conn, prop["id"], [
                    (target_of[i], tag_id) for i, value in stored.items() for tag_id in tag_sets[key(value)]])
            else:
                annotations_sql.delete_values(conn, prop["id"], [target_of[i] for i, v in stored.items() if v is None])
                annotations_sql.set_each_value(conn, prop["id"],
                                               [(target_of[i], v) for i, v in stored.items() if v is not None])
        return len(stored)

    def values(self, ids: Iterable[int], properties: Sequence[str] | None = None) -> dict[int, dict]:
        """The user properties' values of these images: {file id: {property name: value}}; absent = no value."""
        ids = _distinct_ids(ids)
        props = {p["id"]: p for p in self.properties() if not p["builtin"]}
        if properties is not None:
            wanted = {self.property(name)["id"] for name in properties}
            props = {k: v for k, v in props.items() if k in wanted}
        result: dict[int, dict] = {i: {} for i in ids}
        conn = self.db.reader
        for scope in SCOPES:
            for file_id, prop_id, value in annotations_sql.values_of_files(conn, ids, scope):
                if prop_id in props:
                    result[file_id][props[prop_id]["name"]] = present(props[prop_id]["type"], value)
            for file_id, prop_id, tag_name in annotations_sql.tag_names_of_files(conn, ids, scope):
                if prop_id in props:
                    if props[prop_id]["type"] == "tag":
                        result[file_id][props[prop_id]["name"]] = tag_name
                    else:
                        result[file_id].setdefault(props[prop_id]["name"], []).append(tag_name)
        return result

    def _coerce(self, prop: dict, value):
        try:
            return coerce(prop["type"], value)
        except InvalidInput as e:
            raise InvalidInput(f"{prop['name']}: {e.message}", property=prop["name"], value=value) from None

    def _target_of(self, conn: apsw.Connection, prop: dict, ids: list[int]) -> dict[int, int]:
        """{file id: the target of its values (itself, or its content id)}; NotFound when an id is no image."""
        target_of = annotations_sql.targets_of_files(conn, ids, prop["scope"])
        if len(target_of) != len(ids):
            missing = sorted(set(ids) - set(target_of))
            raise NotFound(f"no image with id {', '.join(map(str, missing[:10]))}"
                           + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""), ids=missing[:100])
        return target_of

    def _targets(self, conn: apsw.Connection, prop: dict, ids: list[int]) -> list[int]:
        """The value targets (file ids, or their content ids) of these distinct file ids, in order. A count
        tells whether they all exist: tagging 100,000 files reads one number, not 100,000 rows."""
        if annotations_sql.existing_file_count(conn, ids) != len(ids):
            self._target_of(conn, prop, ids)  # names the missing ids
        return ids if prop["scope"] == "file" else files_sql.content_ids_of_files(conn, ids)

    def _tag_ids_for(self, conn: apsw.Connection, prop: dict, value, create: bool = True) -> list[int]:
        if value is None:
            names = []
        elif isinstance(value, (str, int)) and not isinstance(value, bool):
            names = [value]
        elif isinstance(value, (list, tuple)):
            names = list(value)
        else:
            raise InvalidInput(f"{prop['name']}: {value!r} is not a tag or a list of tags", property=prop["name"])
        if prop["type"] == "tag" and len(names) > 1:
            raise InvalidInput(f"{prop['name']} holds one tag per image, not {len(names)}", property=prop["name"])
        return sorted({self._tag_id(conn, prop, name, create=create) for name in names})


def _refuse_control_characters(name: str, what: str) -> None:
    """Control characters (line breaks, tabs, NUL) are invisible on the page and break CSV cells and
    headers: a name holding one could not be told apart from, or typed as, the name it looks like."""
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidInput(f"a {what} name cannot contain line breaks, tabs or other control characters: {name!r}",
                           **{what: name})
