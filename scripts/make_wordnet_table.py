"""Write the word table of the offline text search, src/imagier/analysis/imagenet_words.json, from WordNet 3.0.

Run at development time, when WordNet or the class list changes (Debian: `apt-get install wordnet-base`):

    PYTHONPATH=src python scripts/make_wordnet_table.py [--wordnet /usr/share/wordnet]

The 1000 ImageNet classes are WordNet 3.0 noun synsets: their ids (n + the synset's offset in data.noun) are
the first column of src/imagier/vectors/imagenet_classes.txt. For each class the table keeps its synset and
all its hypernyms, except the few at the top that say nothing ("entity", "object", "whole", "artifact"...),
with their lemmas; and WordNet's irregular plurals of those lemmas. At run time only this table is read.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
from pathlib import Path

from imagier.analysis.textsearch import WORD_TABLE, words

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ROOT / "src" / "imagier" / "vectors" / "imagenet_classes.txt"
# A hypernym this close to WordNet's root ("entity", "physical entity", "object", "abstraction", "matter")
# says nothing about what an image shows; nor does one above more than half of the classes ("whole",
# "artifact"): a search for it would rank every image.
MIN_DEPTH = 3
MAX_SHARE = 0.5
# Plurals WordNet lists as words of their own, not as plurals, though a search means the singular.
EXTRA_PLURALS = {"people": "person"}
HYPERNYM_POINTERS = ("@", "@i")  # hypernym, instance hypernym


def phrase(lemma: str) -> str:
    """A lemma in the search's normal form: "Jack-o'-lantern" and "jack_o'_lantern" are "jack o lantern"."""
    return " ".join(words(lemma))


def read_synsets(data_noun: Path) -> dict[str, tuple[list[str], list[str]]]:
    """{offset: (lemmas, hypernym offsets)} of every noun synset (the format is WordNet's wndb(5))."""
    synsets = {}
    for line in data_noun.read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):  # the licence at the top of the file
            continue
        fields = line.split("|")[0].split()
        count = int(fields[3], 16)
        lemmas = [phrase(lemma) for lemma in fields[4:4 + 2 * count:2]]
        at = 4 + 2 * count
        pointers = [fields[at + 1 + 4 * i: at + 5 + 4 * i] for i in range(int(fields[at]))]
        synsets[fields[0]] = (lemmas, [offset for symbol, offset, pos, _ in pointers
                                       if symbol in HYPERNYM_POINTERS and pos == "n"])
    return synsets


def licence(data_noun: Path) -> str:
    """WordNet's licence, as the head of its data files states it; it must go with every copy."""
    lines = [line[2:].split(" ", 1)[-1].strip() for line in data_noun.read_text(encoding="utf-8").splitlines()
             if line.startswith("  ")]
    return ("imagenet_words.json is made from WordNet 3.0, under this licence:\n\n"
            + "\n".join(lines).strip() + "\n")


def read_classes() -> list[tuple[str, str]]:
    """(synset offset, label name) of each class, in the models' output order."""
    rows = [line.split("\t") for line in CLASSES.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return [(row[0].removeprefix("n"), row[1]) for row in rows]


def build(wordnet: Path) -> dict:
    synsets = read_synsets(wordnet / "data.noun")

    @functools.cache
    def depth(offset: str) -> int:
        hypernyms = synsets[offset][1]
        return 1 + min(depth(h) for h in hypernyms) if hypernyms else 0

    def ancestors(offset: str) -> list[str]:
        """The synset and all its hypernyms, the synset first, each once."""
        found, todo = [], [offset]
        while todo:
            current = todo.pop(0)
            if current not in found:
                found.append(current)
                todo += synsets[current][1]
        return found

    offsets, names = zip(*read_classes())
    chains = [ancestors(offset) for offset in offsets]
    above = collections.Counter(o for chain in chains for o in chain)  # how many classes each synset is above
    kept = sorted({o for o in above if depth(o) >= MIN_DEPTH and above[o] <= MAX_SHARE * len(offsets)}
                  | set(offsets))
    index = {offset: i for i, offset in enumerate(kept)}
    vocabulary = {lemma for offset in kept for lemma in synsets[offset][0]}
    plurals = {phrase(line.split()[0]): phrase(line.split()[1])
               for line in (wordnet / "noun.exc").read_text(encoding="utf-8").splitlines()}
    return {
        "about": "ImageNet-1k classes and their WordNet 3.0 hypernyms, made by scripts/make_wordnet_table.py from "
                 "WordNet 3.0 (Princeton University, see imagenet_words.LICENSE)",
        "synsets": [[f"n{offset}", *synsets[offset][0]] for offset in kept],
        "classes": [[index[o] for o in chain if o in index] for chain in chains],
        "names": list(names),
        "plurals": dict(sorted((p, s) for p, s in (plurals | EXTRA_PLURALS).items() if s in vocabulary and p != s)),
    }


def to_json(table: dict) -> str:
    """JSON with one synset, class, name or plural a line, so that a change of WordNet or of the classes reads as
    a diff of the lines it changes."""
    def rows(items) -> str:
        return ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return (f'{{"about": {json.dumps(table["about"])},\n"synsets": [\n{rows(table["synsets"])}\n],\n'
            f'"classes": [\n{rows(table["classes"])}\n],\n"names": [\n{rows(table["names"])}\n],\n"plurals": {{\n'
            + ",\n".join(f"{json.dumps(p)}: {json.dumps(s)}" for p, s in table["plurals"].items()) + "\n}\n}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"),
                        help="WordNet 3.0's database folder (data.noun, noun.exc)")
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "imagier" / "analysis" / WORD_TABLE,
                        help="the table to write (its licence is written beside it)")
    args = parser.parse_args()
    table = build(args.wordnet)
    args.out.write_text(to_json(table), encoding="utf-8")
    args.out.with_suffix(".LICENSE").write_text(licence(args.wordnet / "data.noun"), encoding="utf-8")
    print(f"{args.out}: {len(table['synsets'])} synsets, {len(table['plurals'])} irregular plurals")


if __name__ == "__main__":
    main()
