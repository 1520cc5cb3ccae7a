"""A text encoder for 50+ languages aligned with CLIP ViT-B/32's image space: searching a project's
clip-vit-b32 vectors in French ("une affiche électorale"), German, Spanish, ... as well as in English.

The model is sentence-transformers/clip-ViT-B-32-multilingual-v1: a multilingual DistilBERT trained (by
multilingual knowledge distillation) so that its sentence vectors match CLIP's text vectors, whose image
encoder is CLIP's own. A folder in the layout of that hub repository:
- `onnx/model.onnx`: the DistilBERT, input_ids and attention_mask -> last_hidden_state (n x length x 768),
  the repository's ONNX export;
- `tokenizer.json`: its WordPiece tokenizer (texts are cut at 128 tokens, as the model was trained);
- `2_Dense/model.safetensors`: the projection to CLIP's 512 dimensions (`linear.weight`, 512 x 768, no bias).
Its sentence vector is the mean of the token vectors (the padding left out), projected to 512 dimensions
(`1_Pooling/config.json` says mean pooling, `2_Dense/config.json` the projection).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InvalidInput
from . import clip, models
from .models import Downloadable, Graph

NAME = "clip-vit-b32-multilingual"
HUB_REPO = "sentence-transformers/clip-ViT-B-32-multilingual-v1"
PATH_ENV = "IMAGIER_MULTILINGUAL_PATH"
MODEL, TOKENIZER, DENSE = "onnx/model.onnx", "tokenizer.json", "2_Dense/model.safetensors"
WIDTH, DIM = 768, 512
MAX_TOKENS = 128  # the model's max_seq_length (sentence_bert_config.json)
IMAGE_MODEL = clip.NAME  # the image vectors its text vectors are comparable with


def dense_weights(folder: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """The projection's weight (512 x 768) and bias (None: this model has none), refused by name when the
    file is not a safetensors file of that shape."""
    path = folder / DENSE
    tensors = read_safetensors(path)
    weight = tensors.get("linear.weight")
    if weight is None or weight.shape != (DIM, WIDTH):
        shape = None if weight is None else weight.shape
        raise InvalidInput(f"{path} is not the projection of {HUB_REPO}: it needs a linear.weight of shape "
                           f"{(DIM, WIDTH)}, not {shape}", model=NAME, file=DENSE)
    return weight.astype(np.float32), tensors.get("linear.bias")


_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "BF16": None}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file: an 8-byte header length, a JSON header naming each tensor's
    dtype, shape and byte range, then the bytes."""
    try:
        data = path.read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
            if dtype is None:
                raise ValueError(f"tensor {name} has the unsupported dtype {info['dtype']}")
            start, end = (8 + length + offset for offset in info["data_offsets"])
            if end > len(data):
                raise ValueError(f"tensor {name} runs past the end of the file (truncated?)")
            tensors[name] = np.frombuffer(data[start:end], dtype).reshape(info["shape"])
        return tensors
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InvalidInput(f"{path} is corrupt or not a safetensors file: {e}", model=NAME, file=DENSE) from None


SPEC = models.offer(Downloadable(
    name=NAME, label="multilingual text encoder", hub_repo=HUB_REPO, path_env=PATH_ENV,
    purpose="text search in 50+ languages (\"une affiche électorale\") among a project's clip-vit-b32 vectors: "
            "a multilingual DistilBERT aligned with CLIP ViT-B/32's image space; about 540 MB",
    uses=("text search",),
    graphs=(Graph(MODEL, {"input_ids": (None, None), "attention_mask": (None, None)},
                  {"last_hidden_state": (None, None, WIDTH)}),),
    files=(TOKENIZER, DENSE),
    extras=("2_Dense/config.json", "1_Pooling/config.json", "config.json", "sentence_bert_config.json",
            "tokenizer_config.json", "special_tokens_map.json", "modules.json"),
    check=dense_weights))


class MultilingualEncoder:
    """The encoder of one model folder; its ONNX session is opened on first use."""

    def __init__(self, folder: Path, source: str):
        self.folder, self.source = folder, source
        from tokenizers import Tokenizer
        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad or 0, pad_token="[PAD]")  # to the batch's longest text
        self.weight, self.bias = dense_weights(folder)
        self._session = None
        self._lock = threading.Lock()

    def session(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                path = self.folder / MODEL
                try:
                    self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                except Exception as e:
                    raise InvalidInput(f"{path} is not a text encoder ONNX Runtime can load: {e}",
                                       model_path=str(self.folder)) from None
            return self._session

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask (1 for the text's tokens, 0 for padding), n x length int64."""
        encoded = self.tokenizer.encode_batch(list(texts))
        return (np.array([e.ids for e in encoded], np.int64), np.array([e.attention_mask for e in encoded], np.int64))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """n x 512 L2-normalised text vectors, comparable with clip-vit-b32 image vectors by a dot product."""
        session = self.session()
        ids, mask = self.tokenize(texts)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in {i.name for i in session.get_inputs()}:  # BERT-like exports may take it
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(["last_hidden_state"], feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors = pooled @ self.weight.T
        if self.bias is not None:
            vectors = vectors + self.bias
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


_encoders: dict[str, MultilingualEncoder] = {}
_encoders_lock = threading.Lock()


def load(model_path: str | Path | None = None) -> MultilingualEncoder:
    """The encoder of this folder (else $IMAGIER_MULTILINGUAL_PATH's, else the installed one, else the hub's),
    opened once per process."""
    folder, source = models.folder_of(SPEC, model_path)
    key = str(folder.resolve())
    with _encoders_lock:
        if key not in _encoders:
            _encoders[key] = MultilingualEncoder(folder, source)
        return _encoders[key]


def check_text_model(name: str | None) -> None:
    """InvalidInput unless a search may name `name` as its text model: None or CLIP's own, or this one."""
    if name not in (None, IMAGE_MODEL, NAME):
        raise InvalidInput(f"unknown text model {name!r}; the text models are {IMAGE_MODEL} (CLIP's own, English) "
                           f"and {NAME} (50+ languages)", text_model=name)
