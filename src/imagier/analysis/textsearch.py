"""Text search: the images that best match a few words, best first, among those a filter keeps.

Two ways, by the vector type searched:
- CLIP: the text encoder's embedding against the image embeddings; the score is their cosine.
- EfficientNet-Lite0 (offline, no text encoder): the words are read as ImageNet classes through WordNet.
  Each word or phrase ("dog", "animal", "sea lion", "drinks") stands for the classes whose synset, or one of
  whose hypernyms, has it as a lemma ("animal" is 398 classes, "dog" the 118 breeds); function words ("a",
  "on", "the") are dropped. An image's score is its probability of the union of the classes of all the
  words: the classifier's probabilities are of exclusive classes, so their sum is itself a probability,
  and a softmax shares its belief among the things a picture shows, so "a cat on a sofa" ranks a picture
  that is partly cat, partly sofa above one that is only as much cat. Images whose probability is below
  MIN_PROBABILITY are left out: what the model does not see there is not found.
  The words come from a table made from WordNet at development time (scripts/make_wordnet_table.py).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ..checks import whole_number
from ..errors import InvalidInput, NotFound
from ..operations.files import Files
from ..operations.query import Querying
from ..vectors import clip, multilingual
from ..vectors.space import VectorSpace

LABELS_MODEL = "efficientnet-lite0"
WORD_TABLE = "imagenet_words.json"
# An image is found when the words' classes hold at least this much of its probability (a hundred times
# chance among 1000 classes): below it EfficientNet-Lite0's guesses are mostly noise, as for its labels.
MIN_PROBABILITY = 0.1
# Words that say nothing about what is shown ("a photo of cats on the grass" searches for cats and grass).
STOP_WORDS = frozenset("""
    a an the of and or with without in on at to for from by near over under above below behind beside next into
    onto this that these those some its his her their my our your is are was were be being there here who which
    what very photo photos photograph photographs picture pictures image images showing shows
    """.split())
# WordNet's rules for regular noun plurals (morphy's detachment rules), tried when a word is not in the table.
PLURAL_ENDINGS = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
                  ("ies", "y"), ("s", ""))
GET_A_MODEL = (f"for any text, get a text-image model: `imagier models get {clip.NAME}`, then `imagier embed "
               f"PROJECT --model {clip.NAME}`")
_CHUNK = 50_000  # feature rows turned into class probabilities at once (50,000 x 1000 float32 = 200 MB)
# Each image keeps its best classes' probabilities only: the rest of its mass is too small to rank it, and
# the table (20 classes a row) stays small where all 1000 would take 2 GB at 500,000 images.
TOP_CLASSES = 20


def words(text: str) -> list[str]:
    """The words of a text, lower case, without punctuation: the one normal form of queries and of the
    table's lemmas ("Jack-o'-lantern" is "jack o lantern")."""
    return re.findall(r"[^\W_]+", text.lower())


@dataclass(frozen=True)
class WordTable:
    """The words the offline search knows: each word or phrase (as `words` gives it, joined by spaces) and
    the ImageNet classes (indices in the models' output order) it stands for."""

    classes_of: dict[str, frozenset[int]]
    plurals: dict[str, str]  # WordNet's irregular plurals: {"mice": "mouse"}
    class_names: list[str]  # each class's label name, to say what was searched

    @classmethod
    @functools.cache
    def shipped(cls) -> WordTable:
        table = json.loads(resources.files(__package__).joinpath(WORD_TABLE).read_text(encoding="utf-8"))
        classes_of: dict[str, set[int]] = {}
        for index, chain in enumerate(table["classes"]):
            for synset in chain:
                for lemma in table["synsets"][synset][1:]:
                    classes_of.setdefault(lemma, set()).add(index)
        return cls({w: frozenset(c) for w, c in classes_of.items()}, table["plurals"], table["names"])

    @functools.cached_property
    def longest(self) -> int:
        return max(len(phrase.split()) for phrase in self.classes_of)

    def lemma(self, phrase: str) -> str | None:
        """The table's word for `phrase`: itself, or the singular of its last word by WordNet's regular
        endings, then by its irregular plurals (regular first: WordNet reads "syringes" as the plural of
        "syrinx", a panpipe, where a search for syringes means syringes), or None."""
        if phrase in self.classes_of:
            return phrase
        head, _, last = phrase.rpartition(" ")
        candidates = [last[:-len(end)] + base for end, base in PLURAL_ENDINGS
                      if last.endswith(end) and len(last) > len(end)] + [self.plurals.get(last, "")]
        for singular in candidates:
            found = f"{head} {singular}" if head else singular
            if singular and found in self.classes_of:
                return found
        return None

    def closest(self, word: str, n: int = 5) -> list[str]:
        return difflib.get_close_matches(word, self.classes_of, n, 0.75)


@dataclass
class Reading:
    """What the offline search understood of a text: its known words and phrases with their classes (in the
    text's order), and the words it does not know."""

    known: dict[str, frozenset[int]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[int]:
        return sorted(set().union(*self.known.values()))

    def searched(self) -> str:
        return ", ".join(f"'{word}'" for word in self.known)

    def not_understood(self, table: WordTable) -> str:
        """"no ImageNet class is known for 'sea' (closest known words: seal...)": the unknown words."""
        parts = []
        for word in self.unknown:
            close = table.closest(word)
            parts.append(f"'{word}'" + (f" (closest known words: {', '.join(close)})" if close else ""))
        return "no ImageNet class is known for " + ", ".join(parts)

    def partly_understood(self, table: WordTable) -> str | None:
        """What was searched when some words were not understood, else None."""
        return f"searched {self.searched()}; {self.not_understood(table)}" if self.unknown else None

    def nothing_known(self, text: str, table: WordTable) -> str:
        what = self.not_understood(table) if self.unknown else f"{text.strip()!r} has no word to search for"
        return (f"{what}. Without a text-image model, search knows the 1000 ImageNet classes and the WordNet words "
                f"above them (animal, dog, vehicle, food, building...); {GET_A_MODEL}.")

    def nothing_found(self, table: WordTable, images: int) -> str:
        names = [table.class_names[c] for c in self.classes]
        listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        return (f"no image shows {self.searched()} ({len(names)} ImageNet class{'es' if len(names) > 1 else ''}: "
                f"{listed}) with a probability of at least {MIN_PROBABILITY} among the {images} images searched"
                f"{'; ' + self.not_understood(table) if self.unknown else ''}; {GET_A_MODEL}.")


def read_query(text: str, table: WordTable | None = None) -> Reading:
    """The words of `text` as the offline search reads them: the longest phrase the table knows at each
    place ("sea lions" before "sea"), singular or plural; other words are stop words, or unknown."""
    table = table or WordTable.shipped()
    reading, tokens, at = Reading(), words(text), 0
    while at < len(tokens):
        for size in range(min(table.longest, len(tokens) - at), 0, -1):
            lemma = table.lemma(" ".join(tokens[at:at + size]))
            if lemma is not None and not (size == 1 and tokens[at] in STOP_WORDS):
                reading.known[lemma] = table.classes_of[lemma]
                at += size
                break
        else:
            if tokens[at] not in STOP_WORDS and tokens[at] not in reading.unknown:
                reading.unknown.append(tokens[at])
            at += 1
    return reading


class SearchResults(list):
    """The images found, [{"id", "path", "score"}] best first, as a list; `message` says why it is empty, or
    which words of the text were not understood (else None)."""

    def __init__(self, found=(), message: str | None = None):
        super().__init__(found)
        self.message = message

    def as_dict(self, keys: tuple[str, ...] = ("id", "path", "score")) -> dict:
        """{"results": [...], "message"}: the answer of the HTTP API and of the CLI (which leaves out ids)."""
        return {"results": [{k: f[k] for k in keys} for f in self], "message": self.message}


class TextSearch:
    """Text search among the images `querying` selects, over the matrices of `vectors`; each EfficientNet
    vector type's table of best classes is kept, by type and version, in `_label_tables`."""

    def __init__(self, vectors: VectorSpace, files: Files, querying: Querying):
        self.vectors = vectors
        self.files = files
        self.querying = querying
        self._label_tables: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def search(self, text: str, *, top_k: int = 50, filter=None, vector_type: str | None = None,
               model_path: str | None = None, text_model: str | None = None) -> SearchResults:
        """The images that best match `text`: a list of {"id", "path", "score"}, best first, at most `top_k`,
        only among the images `filter` matches (all when None); its `message` says why it is empty, or which
        words were not understood. With a CLIP vector type the score is the cosine of the text and image
        embeddings; with EfficientNet-Lite0 it is the images' probability of the ImageNet classes the words
        name through WordNet ("animal", "a boat", "dogs"), and images below MIN_PROBABILITY are left out.
        The type is `vector_type`, else the default one if it is CLIP, else any CLIP type, else
        EfficientNet-Lite0. `model_path`: the CLIP model's folder (see clip.py). `text_model`:
        "clip-vit-b32-multilingual" encodes the text with the multilingual encoder (50+ languages) instead
        of CLIP's own (see multilingual.py)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("a text search needs some words, such as 'a cat on a sofa'")
        whole_number("top_k", top_k)
        multilingual.check_text_model(text_model)
        vtype = self._text_search_type(vector_type)
        matrix = self.vectors.matrix(vtype["name"])
        if len(matrix.content_ids) == 0:
            raise NotFound(f"no image has a {vtype['name']} vector yet: run `imagier embed --model {vtype['name']}`",
                           vector_type=vtype["name"])
        allowed = None
        rows = np.arange(len(matrix.content_ids))
        if filter is not None:
            allowed = set(self.querying.query_ids(filter))
            found = matrix.index_of(self.files.content_ids_of_files(allowed))
            rows = np.sort(found[found >= 0])
        if vtype["model"] == clip.NAME:
            scores = self._clip_scores(vtype, text, matrix.rows[rows], model_path, text_model)
            return SearchResults(self._ranked(matrix.content_ids[rows], scores, top_k, allowed))
        if text_model is not None:
            raise InvalidInput(f"the text model {text_model!r} searches {clip.NAME} vectors and this search is of "
                               f"{vtype['name']}: run `imagier embed --model {clip.NAME}`", text_model=text_model)
        return self._labels_search(matrix, text, rows, top_k, allowed)

    def _text_search_type(self, name: str | None) -> dict:
        if name is not None:
            vtype = self.vectors.store.vector_type(name)
            if vtype["model"] not in (clip.NAME, LABELS_MODEL):
                raise InvalidInput(f"the vector type {name!r} ({vtype['model']}) cannot be searched by text: use a "
                                   f"{clip.NAME} type, or {LABELS_MODEL} for the labels search", vector_type=name)
            return vtype
        default = self.vectors.store.vector_type()
        types = [default] + [t for t in self.vectors.store.vector_types() if t["count"] > 0]
        for model in (clip.NAME, LABELS_MODEL):
            for vtype in types:
                if vtype["model"] == model:
                    return vtype
        raise NotFound(f"none of this project's vector types can be searched by text: run `imagier embed --model "
                       f"{clip.NAME}` (or {LABELS_MODEL}, which needs no download, for a labels search)")

    def _clip_scores(self, vtype: dict, text: str, rows: np.ndarray, model_path: str | None,
                     text_model: str | None = None) -> np.ndarray:
        if text_model not in (None, clip.NAME):  # the multilingual encoder, the one other (checked first)
            return rows @ multilingual.load().embed_texts([text])[0]
        model = clip.load(model_path, int8=bool(vtype["params"].get("int8")))
        made_by = vtype["params"].get("sha256", {}).get(clip.TEXT)
        if made_by is not None and clip.file_hash(model.folder / clip.TEXT) != made_by:
            raise InvalidInput(f"the CLIP model in {model.folder} is not the one that embedded this project's "
                               f"{vtype['name']} vectors (its {clip.TEXT} differs): give that model's folder "
                               "with --model-path", vector_type=vtype["name"], model_path=str(model.folder))
        return rows @ model.embed_texts([text])[0]

    def _labels_search(self, matrix, text: str, rows: np.ndarray, top_k: int, allowed: set | None) -> SearchResults:
        table = WordTable.shipped()
        reading = read_query(text, table)
        if not reading.known:
            return SearchResults([], reading.nothing_known(text, table))
        best, probabilities = self._label_table(matrix)
        wanted = np.zeros(len(table.class_names), dtype=bool)
        wanted[reading.classes] = True  # a lookup, three times as fast as np.isin on a million images
        scores = (wanted[best[rows]] * probabilities[rows]).sum(axis=1)
        seen = scores >= MIN_PROBABILITY
        found = self._ranked(matrix.content_ids[rows][seen], scores[seen], top_k, allowed)
        if not found:
            return SearchResults([], reading.nothing_found(table, len(rows)))
        return SearchResults(found, reading.partly_understood(table))

    def _label_table(self, matrix) -> tuple[np.ndarray, np.ndarray]:
        """Each image's TOP_CLASSES best classes and their probabilities, in the rows of the type's matrix;
        computed once (class probabilities for every image are the slow part) and kept until the vectors
        change."""
        from ..vectors.efficientnet import class_scores
        cache = self._label_tables
        key = (matrix.type["id"], matrix.type["version"])
        if key not in cache:
            best, probabilities = [], []
            for start in range(0, len(matrix.content_ids), _CHUNK):
                chunk = matrix.content_ids[start:start + _CHUNK]
                scores = class_scores(self.vectors.store.vectors_of(matrix.type["name"], chunk))
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
            files = self.files.file_ids_of_contents(content_ids[block].tolist())
            for row in block:
                chosen += [(f, float(scores[row])) for f in files.get(int(content_ids[row]), [])
                           if allowed is None or f in allowed]
            if len(chosen) >= top_k:
                break
        chosen = chosen[:top_k]
        paths = {f["id"]: f["path"] for f in self.files.files([f for f, _ in chosen])}
        return [{"id": f, "path": paths[f], "score": round(s, 6)} for f, s in chosen]
