"""CLIP ViT-B/32: image and text encoders run with ONNX Runtime, and the CLIP tokenizer and preprocessing.

The model is a folder in the layout of the hub repository HUB_REPO (an export of
openai/clip-vit-base-patch32): `onnx/vision_model.onnx` (pixel_values -> image_embeds),
`onnx/text_model.onnx` (input_ids -> text_embeds) and `tokenizer.json`. It comes from `model_path`, else
from the folder in $IMAGIER_CLIP_PATH, else the one `imagier models get` or `imagier models add` installed
(see models.py), else it is fetched from the hub and installed then.
int8 encoders are made from the fp32 ones by dynamic quantisation, once, and cached by the fp32 file's hash.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import InvalidInput
from . import models
from .models import Downloadable, Graph, cache_dir, file_hash
from .base import Embedder

NAME = "clip-vit-b32"
DIM = 512
HUB_REPO = "Xenova/clip-vit-base-patch32"
PATH_ENV = "IMAGIER_CLIP_PATH"
VISION, TEXT, TOKENIZER = "onnx/vision_model.onnx", "onnx/text_model.onnx", "tokenizer.json"

# CLIPImageProcessor of openai/clip-vit-base-patch32: shortest side to 224 (bicubic), centre crop 224.
SIZE = 224
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
CONTEXT = 77  # CLIP's text length: start token, up to 75 tokens, end token, padded with the end token
END_OF_TEXT = "<|endoftext|>"

SPEC = models.offer(Downloadable(
    name=NAME, label="CLIP model", hub_repo=HUB_REPO, path_env=PATH_ENV,
    purpose="CLIP ViT-B/32: image vectors for similarity, clusters and duplicates, and text search in English "
            "(\"a cat on a sofa\"); about 600 MB",
    uses=("image vectors", "text search"),
    graphs=(Graph(VISION, {"pixel_values": (None, 3, SIZE, SIZE)}, {"image_embeds": (None, DIM)}),
            Graph(TEXT, {"input_ids": (None, None)}, {"text_embeds": (None, DIM)})),
    files=(TOKENIZER,),
    extras=("config.json", "preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json",
            "vocab.json", "merges.txt")))


def model_folder(model_path: str | Path | None = None) -> tuple[Path, str]:
    """The folder of the CLIP model and where it came from ("local folder" or the hub repository)."""
    return models.folder_of(SPEC, model_path)


def quantized(path: Path) -> Path:
    """The int8 version of an fp32 encoder (dynamic quantisation of its matrix products), made once."""
    target = cache_dir() / "int8" / file_hash(path)[:20] / path.name
    if not target.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        # Only MatMul: the patch convolution and the embeddings hold few of the weights and most of the error.
        quantize_dynamic(path, partial, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        partial.replace(target)
    return target


def preprocess(images: Sequence[Image.Image]) -> np.ndarray:
    """CLIP's input: n x 3 x 224 x 224 float32, shortest side resized to 224 (bicubic), centre-cropped,
    scaled to [0, 1] and normalised by CLIP's mean and std."""
    batch = np.empty((len(images), 3, SIZE, SIZE), np.float32)
    for i, image in enumerate(images):
        image = image.convert("RGB")
        w, h = image.size
        scale = SIZE / min(w, h)
        w, h = max(SIZE, round(w * scale)), max(SIZE, round(h * scale))
        image = image.resize((w, h), Image.BICUBIC)
        left, top = (w - SIZE) // 2, (h - SIZE) // 2
        pixels = np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), np.float32) / 255.0
        batch[i] = ((pixels - MEAN) / STD).transpose(2, 0, 1)
    return batch


def _normalised(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float32, copy=False)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


class ClipModel:
    """The two encoders of one model folder; each ONNX session is opened on first use."""

    def __init__(self, folder: Path, source: str, *, int8: bool = False):
        self.folder, self.source, self.int8 = folder, source, int8
        self._sessions: dict[str, object] = {}
        self._lock = threading.Lock()
        from tokenizers import Tokenizer
        self.tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER))
        end = self.tokenizer.token_to_id(END_OF_TEXT)
        if end is None:
            raise InvalidInput(f"{self.folder / TOKENIZER} is not CLIP's tokenizer (it has no {END_OF_TEXT})",
                               model_path=str(self.folder))
        self.tokenizer.enable_truncation(CONTEXT)
        self.tokenizer.enable_padding(length=CONTEXT, pad_id=end, pad_token=END_OF_TEXT)

    @property
    def params(self) -> dict:
        """What identifies the vectors this model makes: its fp32 files' hashes, int8 or not, its source."""
        return {"source": self.source, "int8": self.int8,
                "sha256": {name: file_hash(self.folder / name) for name in (VISION, TEXT, TOKENIZER)}}

    def _session(self, name: str):
        with self._lock:
            if name not in self._sessions:
                import onnxruntime as ort
                path = self.folder / name
                if self.int8:
                    path = quantized(path)
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                try:
                    self._sessions[name] = ort.InferenceSession(str(path), options,
                                                                providers=["CPUExecutionProvider"])
                except Exception as e:
                    raise InvalidInput(f"{path} is not a CLIP encoder ONNX Runtime can load: {e}",
                                       model_path=str(self.folder)) from None
            return self._sessions[name]

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        """n x 77 int64 token ids: start token, the text's tokens (cut to fit), end token, end-token padding."""
        return np.array([e.ids for e in self.tokenizer.encode_batch(list(texts))], np.int64)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """n x 512 L2-normalised image embeddings."""
        session = self._session(VISION)
        return _normalised(session.run(["image_embeds"], {"pixel_values": preprocess(images)})[0])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """n x 512 L2-normalised text embeddings, comparable with the image embeddings by a dot product."""
        session = self._session(TEXT)
        ids = self.tokenize(texts)
        feeds = {"input_ids": ids}
        if "attention_mask" in {i.name for i in session.get_inputs()}:  # some exports take it, ours does not
            feeds["attention_mask"] = (np.arange(CONTEXT) <= ids.argmax(axis=1)[:, None]).astype(np.int64)
        return _normalised(session.run(["text_embeds"], feeds)[0])


_models: dict[tuple, ClipModel] = {}
_models_lock = threading.Lock()


def load(model_path: str | Path | None = None, *, int8: bool = False) -> ClipModel:
    """The model of this folder (or the environment's, or the hub's), opened once per process."""
    folder, source = model_folder(model_path)
    key = (str(folder.resolve()), int8)
    with _models_lock:
        if key not in _models:
            _models[key] = ClipModel(folder, source, int8=int8)
        return _models[key]


class ClipEmbedder(Embedder):
    """CLIP's image encoder as a vector type: 512-d, compared by cosine, stored as float16. The int8 encoders
    make vectors of their own type ("clip-vit-b32-int8"), so the two are never mixed in one matrix."""

    model = NAME
    dim = DIM
    dtype = "float16"
    metric = "cosine"

    def __init__(self, model_path: str | Path | None = None, *, int8: bool = False):
        self.clip = load(model_path, int8=int8)
        self.name = f"{NAME}-int8" if int8 else NAME
        self.params = self.clip.params

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        return self.clip.embed_images(images)


SPEED_SAMPLE = 8  # images embedded to measure this machine's speed


def seconds_per_image(folder: Path, *, int8: bool = False) -> float:
    """This machine's time to embed one image with the image encoder of the model in `folder`: measured once,
    on a few images after a first one that loads the encoder, and kept in the cache for these files and
    cores. Once measured, the model is not even opened (an offer of it costs nothing)."""
    vision = folder / VISION
    stat = vision.stat()
    key = f"{NAME}{'-int8' if int8 else ''}:{vision.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{os.cpu_count()}"

    def measure() -> float:
        model = load(folder, int8=int8)
        rng = np.random.default_rng(0)
        images = [Image.fromarray(rng.integers(0, 256, (256, 320, 3), np.uint8)) for _ in range(SPEED_SAMPLE + 1)]
        model.embed_images(images[:1])
        start = time.perf_counter()
        model.embed_images(images[1:])
        return (time.perf_counter() - start) / SPEED_SAMPLE

    return models.measured(key, measure)
