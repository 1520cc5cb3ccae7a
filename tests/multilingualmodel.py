"""The multilingual CLIP text encoder (sentence-transformers/clip-ViT-B-32-multilingual-v1) of its exact shape
with random weights, in the layout of its hub repository: `onnx/model.onnx` (a DistilBERT: 119,547 tokens,
768 wide, 6 layers of 12 heads, 3072 inner, 512 positions; input_ids and attention_mask -> last_hidden_state,
the names of the repository's ONNX export), `2_Dense/model.safetensors` (the 768 -> 512 projection without
bias) and a WordPiece `tokenizer.json` of the same kind as the model's (BERT normaliser keeping case and
accents, [CLS] text [SEP], 119,547 entries) whose vocabulary covers French and English words and every
letter, so any text tokenizes. Built from NumPy with onnx.helper like tests/clipmodel.py, no PyTorch: the
graph follows Hugging Face's DistilBertModel (post-LN transformer, GELU, learned positions), so it costs
what the real model costs; only the weights and the vocabulary's order are made up.

    python tests/multilingualmodel.py DIR     # build into DIR
"""

from __future__ import annotations

import json
import string
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from clipmodel import _Graph, cached_build

VERSION = 1  # bump when the graph or the tokenizer changes, so cached builds are rebuilt
CONFIG = {"activation": "gelu", "architectures": ["DistilBertModel"], "attention_dropout": 0.1, "dim": 768,
          "dropout": 0.1, "hidden_dim": 3072, "initializer_range": 0.02, "max_position_embeddings": 512,
          "model_type": "distilbert", "n_heads": 12, "n_layers": 6, "pad_token_id": 0,
          "sinusoidal_pos_embds": False, "vocab_size": 119547}
PROJECTION = 512
SPECIALS = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}  # mBERT's ids
WORDS = ("une affiche électorale élection vote candidat candidate un chat chats une tasse de café astronaute "
         "fusée moto appareil photo galaxie étoiles rétine portrait visage homme femme rue manifestation "
         "a cat an astronaut cup of coffee rocket motorcycle camera galaxy stars election poster the on in "
         "sur dans avec le la les des du et ou est").split()


def _vocabulary(size: int) -> dict[str, int]:
    letters = string.ascii_letters + string.digits + string.punctuation
    letters += "éèêëàâäîïôöùûüçœæÉÈÊÀÂÎÔÙÛÇ«»’"  # French
    tokens = list(SPECIALS) + sorted(set(WORDS)) + list(letters) + [f"##{c}" for c in letters]
    tokens += [f"##{w}" for w in sorted(set(WORDS))]
    vocab = {token: index for token, index in SPECIALS.items()}
    free = (i for i in range(size) if i not in SPECIALS.values())
    for token in tokens:
        if token not in vocab:
            vocab[token] = next(free)
    for index in free:  # fill to the model's vocabulary size, as mBERT's [unused] entries do
        vocab[f"[unused{index}]"] = index
    return vocab


def build_tokenizer(path: Path) -> None:
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    tokenizer = Tokenizer(WordPiece(_vocabulary(CONFIG["vocab_size"]), unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                                      lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", SPECIALS["[CLS]"]), ("[SEP]", SPECIALS["[SEP]"])])
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.save(str(path))


def _gelu(g: _Graph, x: str) -> str:
    scaled = g.op("Div", [x, g.const(np.array(np.sqrt(2.0), np.float32), "sqrt2")])
    one_plus = g.op("Add", [g.op("Erf", [scaled]), g.const(np.array(1.0, np.float32), "one")])
    return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const(np.array(0.5, np.float32), "half")])


def _distilbert(path: Path, rng) -> None:
    g = _Graph(rng)
    width, heads, inner = CONFIG["dim"], CONFIG["n_heads"], CONFIG["hidden_dim"]
    length = g.op("Slice", [g.op("Shape", ["input_ids"]), g.const(np.array([1], np.int64)),
                            g.const(np.array([2], np.int64))])
    zero = g.const(np.array([0], np.int64))
    x = g.op("Gather", [g.normal((CONFIG["vocab_size"], width), 0.02, "word_embeddings"), "input_ids"])
    positions = g.normal((CONFIG["max_position_embeddings"], width), 0.02, "position_embeddings")
    x = g.layer_norm(g.op("Add", [x, g.op("Slice", [positions, zero, length])]), width)
    # attention_mask 1 = token, 0 = padding -> 0 or a large negative number added to the attention scores
    keep = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    blocked = g.op("Mul", [g.op("Sub", [g.const(np.array(1.0, np.float32), "one"), keep]),
                           g.const(np.array(np.finfo(np.float32).min, np.float32), "minimum")])
    mask = g.op("Unsqueeze", [blocked, g.const(np.array([1, 2], np.int64), "axes")])
    for _ in range(CONFIG["n_layers"]):  # post-LN, as DistilBERT
        x = g.layer_norm(g.op("Add", [x, g.attention(x, width, heads, mask)]), width)
        x = g.layer_norm(g.op("Add", [x, g.linear(_gelu(g, g.linear(x, width, inner)), inner, width)]), width)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    g.save(path, [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
                  helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                                ["batch_size", "sequence_length"])],
           [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch_size", "sequence_length", width])])


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """The .safetensors layout: header length (8 bytes, little-endian), JSON header, the tensors' bytes."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, "<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + b"".join(blobs))


def build(folder: Path, seed: int = 0) -> Path:
    """Write the random-weight model into `folder` (the hub repository's layout); returns `folder`."""
    rng = np.random.default_rng(seed)
    for sub in ("onnx", "1_Pooling", "2_Dense"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    _distilbert(folder / "onnx" / "model.onnx", rng)
    weight = (rng.standard_normal((PROJECTION, CONFIG["dim"]), dtype=np.float32) * 0.05).astype(np.float32)
    write_safetensors(folder / "2_Dense" / "model.safetensors", {"linear.weight": weight})
    (folder / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": CONFIG["dim"], "out_features": PROJECTION, "bias": False,
         "activation_function": "torch.nn.modules.linear.Identity"}))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": CONFIG["dim"], "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False}))
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=2))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    build_tokenizer(folder / "tokenizer.json")
    return folder


def cached(root: Path | None = None) -> Path:
    """The model built once and kept under ~/.cache (building and saving 540 MB takes a few seconds)."""
    return cached_build(f"clip-vit-b32-multilingual-random-v{VERSION}", build, root)


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
