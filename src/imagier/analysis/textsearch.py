"""Text search: the images that best match a few words, best first, among those a filter keeps.

Two ways, by the vector type searched:
- CLIP: the text encoder's embedding against the image embeddings; the score is their cosine.
- EfficientNet-Lite0 (offline, no text encoder): the labels search. The query's words are matched against
  the ImageNet class names ("cat" matches "tiger cat", "Egyptian cat", ...); an image's score is the sum of
  its probabilities for the matched classes.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from ..errors import InvalidInput, NotFound
from ..vectors import clip, multilingual

LABELS_MODEL = "efficientnet-lite0"
# Words of a query that say nothing about what is shown ("a photo of a cat" searches for "cat").
_FILLER = frozenset("a an the of and or with in on at to for photo photos picture pictures image images "
                    "showing".split())
_CHUNK = 50_000  # feature rows turned into class probabilities at once (50,000 x 1000 float32 = 200 MB)
# Each image keeps its best classes' probabilities only: the rest of its mass is too small to rank it, and
# the table (20 classes a row) stays small where all 1000 would take 2 GB at 500,000 images.
TOP_CLASSES = 20


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _stem(word: str) -> str:
    """Plural to singular, roughly: "cats" and "cat", "boxes" and "box" meet; both sides are stemmed alike."""
    for ending in ("es", "s"):
        if len(word) > len(ending) + 2 and word.endswith(ending) and not word.endswith("ss"):
            return word[: -len(ending)]
    return word


def matching_classes(text: str, class_names: list[str]) -> list[int]:
    """The classes whose names contain every word of the query, else those that contain any of them."""
    query = {_stem(w) for w in _words(text) if w not in _FILLER} or {_stem(w) for w in _words(text)}
    named = [{_stem(w) for w in _words(name)} for name in class_names]
    every = [i for i, words in enumerate(named) if query <= words]
    return every or [i for i, words in enumerate(named) if query & words]


class TextSearch:
    """Mixed into Project; expects the Vectors, Files and Querying mixins."""

    def search(self, text: str, *, top_k: int = 50, filter=None, vector_type: str | None = None,
               model_path: str | None = None, text_model: str | None = None) -> list[dict]:
        """The images that best match `text`: [{"id", "path", "score"}], best first, at most `top_k`, only
        among the images `filter` matches (all when None). With a CLIP vector type the score is the cosine
        of the text and image embeddings; with EfficientNet-Lite0 it is the images' summed probability of
        the ImageNet classes the words name. The type is `vector_type`, else the default one if it is CLIP,
        else any CLIP type, else EfficientNet-Lite0. `model_path`: the CLIP model's folder (see clip.py).
        `text_model`: "clip-vit-b32-multilingual" encodes the text with the multilingual encoder (50+
        languages) instead of CLIP's own (see multilingual.py)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a text search needs some words, such as 'a cat on a sofa'")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidInput(f"top_k is a whole number of at least 1, not {top_k!r}")
        vtype = self._text_search_type(vector_type)
        matrix = self.matrix(vtype["name"])
        if len(matrix.content_ids) == 0:
            raise NotFound(f"no image has a {vtype['name']} vector yet: run `imagier embed --model {vtype['name']}`",
                           vector_type=vtype["name"])
        allowed = None
        rows = np.arange(len(matrix.content_ids))
        if filter is not None:
            allowed = set(self.query_ids(filter))
            found = matrix.index_of(self.content_ids_of_files(allowed))
            rows = np.sort(found[found >= 0])
        if vtype["model"] == clip.NAME:
            scores = self._clip_scores(vtype, text, matrix.rows[rows], model_path, text_model)
        elif text_model is not None:
            raise InvalidInput(f"the text model {text_model!r} searches {clip.NAME} vectors and this search is of "
                               f"{vtype['name']}: run `imagier embed --model {clip.NAME}`", text_model=text_model)
        else:
            scores = self._label_scores(matrix, text, rows)
        return self._ranked(matrix.content_ids[rows], scores, top_k, allowed)

    def _text_search_type(self, name: str | None) -> dict:
        if name is not None:
            vtype = self.vector_type(name)
            if vtype["model"] not in (clip.NAME, LABELS_MODEL):
                raise InvalidInput(f"the vector type {name!r} ({vtype['model']}) cannot be searched by text: use a "
                                   f"{clip.NAME} type, or {LABELS_MODEL} for the labels search", vector_type=name)
            return vtype
        default = self.vector_type()
        types = [default] + [t for t in self.vector_types() if t["count"] > 0]
        for model in (clip.NAME, LABELS_MODEL):
            for vtype in types:
                if vtype["model"] == model:
                    return vtype
        raise NotFound(f"none of this project's vector types can be searched by text: run `imagier embed --model "
                       f"{clip.NAME}` (or {LABELS_MODEL}, which needs no download, for a labels search)")

    def _clip_scores(self, vtype: dict, text: str, rows: np.ndarray, model_path: str | None,
                     text_model: str | None = None) -> np.ndarray:
        if text_model not in (None, clip.NAME):
            return rows @ multilingual.encoder_named(text_model).embed_texts([text])[0]
        model = clip.load(model_path, int8=bool(vtype["params"].get("int8")))
        made_by = vtype["params"].get("sha256", {}).get(clip.TEXT)
        if made_by is not None and clip.file_hash(model.folder / clip.TEXT) != made_by:
            raise InvalidInput(f"the CLIP model in {model.folder} is not the one that embedded this project's "
                               f"{vtype['name']} vectors (its {clip.TEXT} differs): give that model's folder "
                               "with --model-path", vector_type=vtype["name"], model_path=str(model.folder))
        return rows @ model.embed_texts([text])[0]

    def _label_scores(self, matrix, text: str, rows: np.ndarray) -> np.ndarray:
        from ..vectors.efficientnet import CLASS_NAMES
        classes = matching_classes(text, CLASS_NAMES)
        if not classes:
            words = {w for name in CLASS_NAMES for w in _words(name)}
            close = difflib.get_close_matches(text.strip().lower(), [n.lower() for n in CLASS_NAMES], 5, 0.6)
            for word in _words(text):
                close += [n for n in CLASS_NAMES if set(_words(n)) & set(difflib.get_close_matches(word, words, 3))]
            hint = f"; close class names: {', '.join(dict.fromkeys(close[:10]))}" if close else ""
            raise InvalidInput(f"no ImageNet class name matches {text!r} (without a CLIP model, text search looks "
                               f"for the words among the 1000 ImageNet classes{hint})", text=text)
        best, probabilities = self._label_table(matrix)
        return (np.isin(best[rows], classes) * probabilities[rows]).sum(axis=1)

    def _label_table(self, matrix) -> tuple[np.ndarray, np.ndarray]:
        """Each image's TOP_CLASSES best classes and their probabilities, in the rows of the type's matrix;
        computed once (class probabilities for every image are the slow part) and kept until the vectors
        change."""
        from ..vectors.efficientnet import class_scores
        cache = self.__dict__.setdefault("_label_tables", {})
        key = (matrix.type["id"], matrix.type["version"])
        if key not in cache:
            best, probabilities = [], []
            for start in range(0, len(matrix.content_ids), _CHUNK):
                scores = class_scores(self.vectors_of(matrix.type["name"], matrix.content_ids[start:start + _CHUNK]))
                top = np.argpartition(-scores, TOP_CLASSES, axis=1)[:, :TOP_CLASSES]
                best.append(top.astype(np.int16))
                probabilities.append(np.take_along_axis(scores, top, axis=1))
            cache.clear()
            cache[key] = (np.concatenate(best), np.concatenate(probabilities))
        return cache[key]

    def _ranked(self, content_ids: np.ndarray, scores: np.ndarray, top_k: int, allowed: set | None) -> list[dict]:
        """The top_k files best first (every file of a content shares its score), only `allowed` ones."""
        order = np.argsort(-scores, kind="stable")
        chosen: list[tuple[int, float]] = []
        for start in range(0, len(order), top_k):
            block = order[start:start + top_k]
            files = self.file_ids_of_contents(content_ids[block].tolist())
            for row in block:
                chosen += [(f, float(scores[row])) for f in files.get(int(content_ids[row]), [])
                           if allowed is None or f in allowed]
            if len(chosen) >= top_k:
                break
        chosen = chosen[:top_k]
        paths = {f["id"]: f["path"] for f in self.files([f for f, _ in chosen])}
        return [{"id": f, "path": paths[f], "score": round(s, 6)} for f, s in chosen]
