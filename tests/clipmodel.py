"""A CLIP ViT-B/32 of the exact shape of openai/clip-vit-base-patch32, with random weights, written as the
two ONNX files of the hub export that imagier loads (`onnx/vision_model.onnx`, `onnx/text_model.onnx`, the
input and output names of the Transformers.js / Optimum export) next to the real tokenizer files.

Built from NumPy with onnx.helper, no PyTorch: the graph follows Hugging Face's CLIPModel (pre-LN
transformer, quick_gelu, class token / end-of-text pooling, projections without bias), so it costs what
the real model costs and the loading code under test is the real one. Only the weights are random.

    python tests/clipmodel.py DIR     # build into DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOKENIZER = Path(__file__).resolve().parents[2] / "shared" / "models" / "clip-vit-b32-tokenizer"
if not TOKENIZER.is_dir():  # the tests run from a clone with shared/ beside it
    TOKENIZER = Path("/work/shared/models/clip-vit-b32-tokenizer")
VERSION = 1  # bump when the graph changes, so cached builds are rebuilt
OPSET = 17


class _Graph:
    """Collects nodes and random initialisers; names are made unique by a counter."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array: np.ndarray, hint: str = "w") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def normal(self, shape, std: float, hint: str = "w") -> str:
        return self.const((self.rng.standard_normal(shape, dtype=np.float32) * std).astype(np.float32), hint)

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def linear(self, x: str, d_in: int, d_out: int, bias: bool = True) -> str:
        y = self.op("MatMul", [x, self.normal((d_in, d_out), 0.02)])
        return self.op("Add", [y, self.const(np.zeros(d_out, np.float32), "b")]) if bias else y

    def layer_norm(self, x: str, width: int) -> str:
        return self.op("LayerNormalization", [x, self.const(np.ones(width, np.float32), "gamma"),
                                              self.const(np.zeros(width, np.float32), "beta")], axis=-1, epsilon=1e-5)

    def attention(self, x: str, width: int, heads: int, mask: str | None) -> str:
        head = width // heads
        split = self.const(np.array([0, 0, heads, head], np.int64), "shape")

        def project(perm):
            return self.op("Transpose", [self.op("Reshape", [self.linear(x, width, width), split])], perm=perm)

        q, k, v = project([0, 2, 1, 3]), project([0, 2, 3, 1]), project([0, 2, 1, 3])
        scores = self.op("Mul", [self.op("MatMul", [q, k]), self.const(np.array(head ** -0.5, np.float32), "scale")])
        if mask is not None:
            scores = self.op("Add", [scores, mask])
        context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
        merged = self.op("Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]),
                                     self.const(np.array([0, 0, width], np.int64), "shape")])
        return self.linear(merged, width, width)

    def encoder(self, x: str, width: int, heads: int, layers: int, inner: int, mask: str | None = None) -> str:
        for _ in range(layers):
            x = self.op("Add", [x, self.attention(self.layer_norm(x, width), width, heads, mask)])
            hidden = self.linear(self.layer_norm(x, width), width, inner)
            gelu = self.op("Mul", [hidden, self.op("Sigmoid", [
                self.op("Mul", [hidden, self.const(np.array(1.702, np.float32), "k")])])])  # quick_gelu
            x = self.op("Add", [x, self.linear(gelu, inner, width)])
        return x

    def save(self, path: Path, inputs, outputs) -> None:
        graph = helper.make_graph(self.nodes, path.stem, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="imagier-tests (random CLIP ViT-B/32)")
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))


def _vision(config: dict, projection: int, path: Path, rng) -> None:
    g = _Graph(rng)
    width, patch, size = config["hidden_size"], config["patch_size"], config["image_size"]
    patches = g.op("Conv", ["pixel_values", g.normal((width, 3, patch, patch), 0.02)],
                   kernel_shape=[patch, patch], strides=[patch, patch])
    tokens = g.op("Transpose", [g.op("Reshape", [patches, g.const(np.array([0, width, -1], np.int64))])],
                  perm=[0, 2, 1])
    batch = g.op("Slice", [g.op("Shape", ["pixel_values"]), g.const(np.array([0], np.int64)),
                           g.const(np.array([1], np.int64))])
    cls_shape = g.op("Concat", [batch, g.const(np.array([1, width], np.int64))], axis=0)
    cls = g.op("Expand", [g.normal((1, 1, width), width ** -0.5, "class_embedding"), cls_shape])
    x = g.op("Concat", [cls, tokens], axis=1)
    x = g.op("Add", [x, g.normal(((size // patch) ** 2 + 1, width), 0.02, "position_embedding")])
    x = g.encoder(g.layer_norm(x, width), width, config["num_attention_heads"], config["num_hidden_layers"],
                  config["intermediate_size"])
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    pooled = g.layer_norm(g.op("Gather", [x, g.const(np.array(0, np.int64))], axis=1), width)
    g.nodes.append(helper.make_node("MatMul", [pooled, g.normal((width, projection), 0.02)], ["image_embeds"]))
    g.save(path, [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT,
                                                ["batch_size", 3, size, size])],
           [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch_size", projection]),
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch_size", "sequence_length", width])])


def _text(config: dict, projection: int, path: Path, rng) -> None:
    g = _Graph(rng)
    width, positions = config["hidden_size"], config["max_position_embeddings"]
    length = g.op("Slice", [g.op("Shape", ["input_ids"]), g.const(np.array([1], np.int64)),
                            g.const(np.array([2], np.int64))])
    zero = g.const(np.array([0], np.int64))
    x = g.op("Gather", [g.normal((config["vocab_size"], width), 0.02, "token_embedding"), "input_ids"])
    x = g.op("Add", [x, g.op("Slice", [g.normal((positions, width), 0.01, "position_embedding"), zero, length])])
    causal = np.triu(np.full((positions, positions), np.finfo(np.float32).min, np.float32), 1)
    mask = g.op("Slice", [g.const(causal, "causal_mask"), g.op("Concat", [zero, zero], axis=0),
                          g.op("Concat", [length, length], axis=0)])
    x = g.encoder(x, width, config["num_attention_heads"], config["num_hidden_layers"], config["intermediate_size"],
                  mask)
    x = g.layer_norm(x, width)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    # Pool at the end-of-text token: the highest id of each row, as Hugging Face does for this vocabulary.
    eot = g.op("ArgMax", [g.op("Cast", ["input_ids"], to=TensorProto.FLOAT)], axis=1, keepdims=1)
    pooled = g.op("GatherND", [x, eot], batch_dims=1)
    g.nodes.append(helper.make_node("MatMul", [pooled, g.normal((width, projection), 0.02)], ["text_embeds"]))
    g.save(path, [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])],
           [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch_size", projection]),
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch_size", "sequence_length", width])])


def build(folder: Path, seed: int = 0) -> Path:
    """Write the random-weight model into `folder` (the hub repository's layout); returns `folder`."""
    config = json.loads((TOKENIZER / "config.json").read_text())
    (folder / "onnx").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    _vision(config["vision_config"], config["projection_dim"], folder / "onnx" / "vision_model.onnx", rng)
    _text(config["text_config"], config["projection_dim"], folder / "onnx" / "text_model.onnx", rng)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                 "config.json", "preprocessor_config.json"):
        shutil.copyfile(TOKENIZER / name, folder / name)
    return folder


def cached(root: Path | None = None) -> Path:
    """The model built once and kept under ~/.cache (building and saving 600 MB takes a few seconds)."""
    return cached_build(f"clip-vit-b32-random-v{VERSION}", build, root)


def cached_build(name: str, build_into, root: Path | None = None) -> Path:
    """The folder `name` under ~/.cache/imagier-tests, made by `build_into(folder)` the first time; a build
    that was interrupted is made again, never used."""
    root = root or Path.home() / ".cache" / "imagier-tests"
    folder = root / name
    if not (folder / "complete").exists():
        partial = root / f"{folder.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        build_into(partial)
        (partial / "complete").touch()
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return folder


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
