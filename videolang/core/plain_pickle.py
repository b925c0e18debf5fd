"""Reading other projects' pickles as data, never as code.

VidChapters released its chapters and ASR as pickles. `pickle.load` on such a
file runs whatever the file names; this reader resolves only the names that
build plain data: dict, list, tuple, set, str, bytes, numbers, booleans,
None, `collections.OrderedDict`, and numpy numbers / numeric arrays (WhisperX
times are numpy floats), which come back as Python numbers and lists. Any other
class or function named in the file is a `BadInputError` naming it and the
file, raised before anything is called.
"""
from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from videolang.core.errors import BadInputError
from videolang.core.io import decode_bytes, parse_json_text, read_bytes

_BUILTINS = {"dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset, "str": str,
             "bytes": bytes, "bytearray": bytearray, "int": int, "float": float, "bool": bool, "complex": complex}
_NUMERIC_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no object, string or void dtypes


class _DType:
    """Stands in for `numpy.dtype(...)` while unpickling: numeric dtypes only."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = True):
        try:
            self.dtype = np.dtype(spec) if isinstance(spec, str) else None
        except TypeError:
            self.dtype = None
        if self.dtype is None or self.dtype.kind not in _NUMERIC_KINDS:
            raise _Refused(f"numpy dtype {spec!r}")

    def __setstate__(self, state: Any) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else "|"
        if order in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(order)


class _Array:
    """Stands in for a numpy array: the BUILD state gives shape, dtype and raw bytes."""

    def __init__(self, *args: Any):
        self.value: list | None = None

    def __setstate__(self, state: Any) -> None:
        try:
            _, shape, dtype, fortran, raw = state
        except (TypeError, ValueError):
            raise _Refused("a numpy array in an unknown layout") from None
        if not isinstance(dtype, _DType) or not isinstance(raw, (bytes, bytearray)):
            raise _Refused("a numpy array of non-numeric values")
        array = np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(shape, order="F" if fortran else "C")
        self.value = array.tolist()


class _Refused(Exception):
    """A name or value the reader does not build (turned into a BadInputError naming the file)."""


def _scalar(dtype: Any, raw: Any = b"") -> Any:
    if not isinstance(dtype, _DType) or not isinstance(raw, (bytes, bytearray)):
        raise _Refused("a numpy scalar of a non-numeric type")
    return np.frombuffer(bytes(raw), dtype=dtype.dtype)[0].item()


def _reconstruct(cls: Any, shape: Any, dtype_char: Any) -> _Array:
    if cls is not _Array:
        raise _Refused("numpy _reconstruct of a class other than ndarray")
    return _Array()


def _frombuffer(raw: Any, dtype: Any, shape: Any, order: Any = "C") -> list:
    """Protocol 5's spelling of a numpy array."""
    if not isinstance(dtype, _DType) or not isinstance(raw, (bytes, bytearray, memoryview, pickle.PickleBuffer)):
        raise _Refused("a numpy array of non-numeric values")
    return np.frombuffer(bytes(raw), dtype=dtype.dtype).reshape(shape, order=order).tolist()


def _encoded(text: Any, encoding: Any = "utf-8") -> bytes:
    """`_codecs.encode`, which protocols 0-2 use to spell bytes: text to bytes, nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode of something other than latin-1 text")
    return text.encode("latin1")


_NUMPY = {"scalar": _scalar, "_reconstruct": _reconstruct}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in _BUILTINS:  # __builtin__: protocols 0-2
            return _BUILTINS[name]
        if module == "_codecs" and name == "encode":
            return _encoded
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in _NUMPY:
            return _NUMPY[name]
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _frombuffer
        if module == "numpy" and name == "dtype":
            return _DType
        if module == "numpy" and name == "ndarray":
            return _Array
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"a persistent reference {pid!r}")


def _plain(value: Any) -> Any:
    """Stand-ins replaced by their values, OrderedDicts by dicts (recursively)."""
    if isinstance(value, _Array):
        return value.value
    if isinstance(value, _DType):
        raise _Refused("a bare numpy dtype")
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_plain(v) for v in value)
    return value


def loads_plain(data: bytes, path: str | Path, what: str = "pickle") -> Any:
    """The plain data held by the pickle bytes `data` (read from `path`, which messages name)."""
    try:
        return _plain(_PlainUnpickler(io.BytesIO(data)).load())
    except _Refused as e:
        raise BadInputError(f"{what} holds {e}, which is not plain data: only dicts, lists, tuples, sets, strings, "
                            "numbers and numeric numpy values are read from a pickle (data, never code)",
                            path) from None
    except RecursionError:
        raise BadInputError(f"{what} is nested too deeply to read", path) from None
    except Exception as e:  # noqa: BLE001 - truncated or damaged pickles raise anything from EOFError to KeyError
        raise BadInputError(f"{what} cannot be read as a pickle ({type(e).__name__}: {e}; truncated or not a "
                            "pickle?)", path) from None


def read_plain_pickle(path: str | Path, what: str = "pickle") -> Any:
    """`loads_plain` of a file; missing, a folder, unreadable: a BadInputError naming it."""
    return loads_plain(read_bytes(path, what), path, what)


def is_pickle(path: str | Path, head: bytes) -> bool:
    """A pickle by its suffix (.pkl, .pickle), or by the protocol-2+ opcode that starts every modern pickle."""
    suffix = Path(path).suffix.lower()
    if suffix in (".pkl", ".pickle"):
        return True
    return suffix != ".json" and head[:1] == b"\x80"


def read_json_or_pickle(path: str | Path, what: str) -> Any:
    """A released data file: JSON, or a pickle read as plain data only (by `is_pickle`)."""
    raw = read_bytes(path, what)
    if is_pickle(path, raw[:1]):
        return loads_plain(raw, path, what)
    return parse_json_text(decode_bytes(raw, path, "text"), path, f"a JSON {what}")
