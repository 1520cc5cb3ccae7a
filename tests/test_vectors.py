"""Vector storage: types, vectors per content, the in-memory matrix and its staleness."""

import numpy as np
import pytest

import imagier
from imagier.errors import Conflict, InvalidInput, NotFound


def contents(project):
    return [r[0] for r in project.db.reader.execute("SELECT id FROM contents ORDER BY id")]


def test_the_first_type_is_the_default_and_info_lists_types(imported):
    imported.create_vector_type("colour", "colour-histogram", 3)
    imported.create_vector_type("hash", "phash", 64, dtype="bits", metric="hamming")
    assert imported.vector_type()["name"] == "colour"
    imported.set_default_vector_type("hash")
    assert imported.vector_type()["name"] == "hash"
    assert imported.info()["vectors"] == {
        "colour": {"model": "colour-histogram", "dim": 3, "count": 0, "default": False},
        "hash": {"model": "phash", "dim": 64, "count": 0, "default": True}}


def test_vectors_round_trip_normalised_and_the_matrix_follows_writes(imported):
    ids = contents(imported)
    imported.create_vector_type("v", "test", 2)
    assert imported.vector_store.contents_without_vectors("v") == ids
    imported.put_vectors("v", ids[:2], np.array([[3.0, 4.0], [0.0, 2.0]]))
    first = imported.vectors.matrix("v")
    assert first.content_ids.tolist() == ids[:2]
    assert np.allclose(first.rows, [[0.6, 0.8], [0.0, 1.0]])
    assert imported.vectors.matrix("v") is first  # unchanged: the same matrix
    imported.put_vectors("v", ids[2:3], np.array([[1.0, 0.0]]))
    assert imported.vectors.matrix("v").content_ids.tolist() == ids[:3]
    assert imported.vector_store.contents_without_vectors("v") == ids[3:]
    assert imported.vectors.matrix("v").index_of([ids[2], 10**6]).tolist() == [2, -1]


def test_a_write_from_another_connection_is_seen(imported):
    ids = contents(imported)
    imported.create_vector_type("v", "test", 2)
    imported.put_vectors("v", ids[:1], np.array([[1.0, 0.0]]))
    assert len(imported.vectors.matrix("v").content_ids) == 1
    with imagier.open(imported.path) as other:
        other.put_vectors("v", ids[1:2], np.array([[0.0, 1.0]]))
    assert len(imported.vectors.matrix("v").content_ids) == 2


def test_bits_are_kept_packed(imported):
    ids = contents(imported)
    imported.create_vector_type("h", "phash", 64, dtype="bits", metric="hamming")
    imported.put_vectors("h", ids[:1], np.array([[255, 0, 1, 2, 3, 4, 5, 6]], dtype=np.uint8))
    assert imported.vectors.matrix("h").rows.tolist() == [[255, 0, 1, 2, 3, 4, 5, 6]]


@pytest.mark.parametrize("call, error, words", [
    (lambda p, ids: p.vectors.matrix("ghost"), NotFound, "no vector type named 'ghost'"),
    (lambda p, ids: p.create_vector_type("v", "other", 2), Conflict, "another model"),
    (lambda p, ids: p.create_vector_type("w", "m", 0), InvalidInput, "positive integer"),
    (lambda p, ids: p.create_vector_type("w", "m", 2, dtype="int8"), InvalidInput, "unknown vector dtype"),
    (lambda p, ids: p.put_vectors("v", ids[:1], np.zeros((1, 3))), InvalidInput, "expected 1 vectors of 2"),
    (lambda p, ids: p.put_vectors("v", ids[:1], np.array([[np.nan, 1]])), InvalidInput, "finite"),
])
def test_bad_vector_requests_are_refused(imported, call, error, words):
    imported.create_vector_type("v", "test", 2)
    with pytest.raises(error, match=words):
        call(imported, contents(imported))
    assert imported.vector_type("v")["count"] == 0


def test_a_project_without_vectors_says_how_to_make_them(project):
    with pytest.raises(NotFound, match="imagier embed"):
        project.vectors.matrix()
