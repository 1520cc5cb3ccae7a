"""Reading the tensors of a PyTorch checkpoint (a saved state dict) into NumPy arrays, without PyTorch.

A checkpoint is a pickle whose tensors point, through "persistent ids", at raw storages kept beside it.
Two layouts exist:
- the legacy one (PyTorch < 1.6, and the EfficientNet-Lite0 weights we ship): five things one after the
  other in one stream: a magic number, a protocol version, system info, the pickled object, the list of
  storage keys, then each storage as an int64 element count followed by its bytes;
- the zip one (PyTorch >= 1.6): `<name>/data.pkl` and one file `<name>/data/<key>` per storage.
Only tensors, storages and ordered dicts are rebuilt: any other class in the pickle is refused, so
reading a checkpoint never runs code from it.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2", "LongStorage": "<i8",
                   "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?"}


class _Storage:
    """A storage known by key and type; its bytes are attached once they have been read."""

    def __init__(self, key: str, dtype: np.dtype):
        self.key, self.dtype = key, dtype
        self.array: np.ndarray | None = None


class _Tensor:
    def __init__(self, storage: _Storage, offset: int, shape: tuple, strides: tuple):
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(shape), tuple(strides)

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.array
        if not self.shape:
            return flat[self.offset].copy()
        # Tensors may be saved with any strides (the stem's weights are channels-last in ours).
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.shape,
                                               [s * flat.itemsize for s in self.strides])
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, offset, shape, strides, *_):
    return _Tensor(storage, offset, shape, strides)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return np.dtype(_STORAGE_DTYPES[name])
        raise InvalidInput(f"{self.path}: the checkpoint holds a {module}.{name}, which a weights file should "
                           "not (only tensors are read)", path=str(self.path))

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise InvalidInput(f"{self.path}: unknown persistent id in the checkpoint", path=str(self.path))
        dtype, key = pid[1], str(pid[2])
        if key not in self.storages:
            self.storages[key] = _Storage(key, dtype)
        return self.storages[key]


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint file: {name: array}, in the file's order."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            obj = _load_legacy(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, StopIteration) as e:
        raise InvalidInput(f"{path} is not a readable PyTorch checkpoint: {e}", path=str(path)) from None
    if not isinstance(obj, dict):
        raise InvalidInput(f"{path} holds a {type(obj).__name__}, not a state dict of tensors", path=str(path))
    return {name: tensor.to_numpy() for name, tensor in obj.items() if isinstance(tensor, _Tensor)}


def _load_legacy(path: Path):
    stream = io.BytesIO(path.read_bytes())
    if pickle.load(stream) != _LEGACY_MAGIC:
        raise ValueError("no PyTorch magic number")
    pickle.load(stream)  # protocol version
    pickle.load(stream)  # system info (endianness: every storage written by PyTorch here is little-endian)
    unpickler = _Unpickler(stream, path)
    obj = unpickler.load()
    for key in pickle.load(stream):
        storage = unpickler.storages[str(key)]
        count = int(np.frombuffer(stream.read(8), "<i8")[0])
        data = stream.read(count * storage.dtype.itemsize)
        if len(data) != count * storage.dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        storage.array = np.frombuffer(data, storage.dtype)
    return obj


def _load_zip(path: Path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        unpickler = _Unpickler(io.BytesIO(archive.read(pkl)), path)
        obj = unpickler.load()
        for key, storage in unpickler.storages.items():
            storage.array = np.frombuffer(archive.read(f"{prefix}data/{key}"), storage.dtype)
    return obj
