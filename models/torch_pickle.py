"""Read a legacy (pre-zip, PyTorch < 1.6) ``torch.save`` state dict without torch.

The legacy format is five things one after another: three small pickles (a magic number,
the protocol version 1001, a dict of type sizes), the pickled object itself, whose tensors
refer to storages by a persistent id, the pickled list of storage keys, and then each
storage's bytes in that order, every one prefixed by its element count as a little-endian
int64. Only what a state dict of float tensors needs is understood: ``OrderedDict``,
``torch._utils._rebuild_tensor_v2`` and the Float/Long/Int storages. Nothing else may be
unpickled (``find_class`` refuses every other global), so the file cannot run code.

    state = load_state_dict(Path("2.7_80x80_MiniFASNetV2.pth").read_bytes())
"""

from __future__ import annotations

import collections
import io
import pickle
from typing import Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4"), "LongStorage": np.dtype("<i8"),
                  "IntStorage": np.dtype("<i4"), "DoubleStorage": np.dtype("<f8")}


class PickleFormatError(ValueError):
    """The bytes are not a legacy torch state dict this reader understands."""


class _Storage:
    def __init__(self, dtype: np.dtype[Any], key: str, numel: int) -> None:
        self.dtype, self.key, self.numel = dtype, key, numel
        self.data: np.ndarray | None = None


class _Tensor:
    """A tensor waiting for its storage's bytes (they come after the pickle)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise PickleFormatError(f"storage {self.storage.key} was never read")
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride])
        return np.array(view)  # a copy, in C order


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple[int, ...],
                       stride: tuple[int, ...], *_: object) -> _Tensor:
    return _Tensor(storage, offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _Unpickler(pickle.Unpickler):
    def __init__(self, f: io.BytesIO) -> None:
        super().__init__(f)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise PickleFormatError(f"refusing to unpickle {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        # ("storage", storage type, key, location, element count, view metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and pid[5] is None):
            raise PickleFormatError(f"unexpected persistent id {pid!r:.80}")
        _, kind, key, _location, numel, _ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(STORAGE_DTYPES[kind.name], key, int(numel))
        return self.storages[key]


def load_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """Tensor name -> numpy array (a leading ``module.`` of DataParallel is removed)."""
    f = io.BytesIO(data)
    try:
        if pickle.load(f) != MAGIC or pickle.load(f) != PROTOCOL:  # noqa: S301 (plain ints)
            raise PickleFormatError("not a legacy torch.save file (magic or protocol differs)")
        pickle.load(f)  # noqa: S301 (sys info: a dict of ints)
        unpickler = _Unpickler(f)
        obj = unpickler.load()
        keys = pickle.load(f)  # noqa: S301 (a list of strings)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise PickleFormatError(f"not a legacy torch.save file: {exc}") from exc
    for key in keys:
        storage = unpickler.storages[key]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        if count != storage.numel:
            raise PickleFormatError(f"storage {key}: {count} elements, pickle said "
                                    f"{storage.numel}")
        raw = f.read(count * storage.dtype.itemsize)
        if len(raw) != count * storage.dtype.itemsize:
            raise PickleFormatError(f"storage {key} is truncated")
        storage.data = np.frombuffer(raw, storage.dtype)
    if f.read(1):
        raise PickleFormatError("trailing bytes after the last storage")
    if not isinstance(obj, dict):
        raise PickleFormatError("the pickled object is not a state dict")
    out = {}
    for name, tensor in obj.items():
        if not isinstance(tensor, _Tensor):
            raise PickleFormatError(f"{name} is not a tensor")
        out[name.removeprefix("module.")] = tensor.array()
    return out
