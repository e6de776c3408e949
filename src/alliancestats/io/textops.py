"""Vectorised operations on columns of text cells (pyarrow compute kernels).

The loader keeps text cells as text until each column's role is known. These helpers do the
bulk work on whole columns in compiled code: trimming and case-folding, spotting missing-value
codes, and converting the cells that are plain numbers. Anything that is not plainly valid is
handed back to the caller, which looks at those few cells one by one and explains them, so the
fast path never decides a doubtful cell.

Why pyarrow compute and not ``pandas.to_numeric``: on 100,000 text cells ``to_numeric`` takes
about 50-100 ms per column (it goes through Python objects), an arrow cast about 2-4 ms.

Examples
--------
>>> import pandas as pd
>>> arr = text_array(pd.Series(["3.5", " 4", None], dtype="str"))
>>> values, done = try_float(trimmed(arr))
>>> values[:2].tolist(), done.tolist()
([3.5, 4.0], [True, True, False])
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

__all__ = [
    "text_array",
    "is_text_dtype",
    "release_memory",
    "system_allocator",
    "encode",
    "as_text_series",
    "trimmed",
    "folded",
    "is_in",
    "try_float",
    "try_int",
    "to_bool_array",
    "take_text",
    "first_bytes",
    "second_bytes",
    "last_bytes",
    "contains_byte",
    "sample",
    "sorted_codes",
    "changes",
    "lengths",
    "null_where",
    "Dictionary",
    "dictionary",
    "dictionary_of",
    "encoded_parts",
    "cast_float",
    "plain_number_cells",
    "edge_space",
]

_NUMBER_BYTE = np.zeros(256, dtype=bool)
_NUMBER_BYTE[[ord(c) for c in "0123456789.eE+-"]] = True
_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[9, 10, 11, 12, 13, 32, 0xA0, 0xC2, 0xE2, 0xE3]] = True  # incl. UTF-8 lead bytes

#: Rows converted together; a piece with one bad cell is re-examined cell by cell.
PIECE = 4096


_TEXT_TYPES = (pa.string(), pa.large_string())


def text_array(values: Any) -> pa.Array | pa.ChunkedArray:
    """Strings of a text column as a pyarrow string array (nulls for missing cells).

    Accepts a pandas Series of string dtype, a list or object array of ``str``/``None``, or a
    pyarrow (chunked) array. Arrow-backed text is used as it is, without a copy: a column read
    from a file stays in the pieces the reader made (joining them would copy the column), and
    the helpers of this module work piece by piece.
    """
    if isinstance(values, pa.Array) and values.type in _TEXT_TYPES:
        return values
    if isinstance(values, pd.Series):
        values = values.array
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        if hasattr(values, "__arrow_array__") and is_text_dtype(values.dtype):
            values = pa.array(values)  # arrow-backed text: the same buffers
        else:
            values = pa.array(values, type=pa.large_string(), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 1:
            values = values.chunk(0)
        elif values.num_chunks == 0:
            values = pa.array([], type=pa.large_string())
    if values.type not in _TEXT_TYPES:
        values = values.cast(pa.large_string())
    return values


def is_text_dtype(dtype: Any) -> bool:
    """Whether a column uses pandas' string dtype (vectorised text operations)."""
    return isinstance(dtype, pd.StringDtype)


def _chunks(arr: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]


def _per_chunk(arr: Any, one: Any, dtype: Any, *shape: int) -> np.ndarray:
    """``one`` applied to each non-empty piece of a text column, results joined."""
    parts = [one(c) for c in _chunks(text_array(arr)) if len(c)]
    if not parts:
        return np.zeros((0, *shape), dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _offsets(arr: pa.Array) -> np.ndarray:
    """The offsets buffer of a (large) string array, as integers (one more than cells)."""
    dtype = np.int64 if arr.type == pa.large_string() else np.int32
    return np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset : arr.offset + len(arr) + 1]


#: pandas' default text dtype (``"str"``), built once: looking the name up costs more than
#: wrapping a column.
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def as_text_series(arr: pa.ChunkedArray | pa.Array, index: Any = None) -> pd.Series:
    """A pandas Series of the default text dtype (``str``) over ``arr`` (no copy)."""
    if arr.type == pa.large_string():  # arrow's own text: wrapped as it is
        return pd.Series(ArrowStringArray(arr, dtype=_STR), index=index, copy=False)
    return pd.Series(pd.array(arr, dtype=_STR), index=index, copy=False)


def release_memory() -> None:
    """Return memory that the allocators hold but no array uses to the system.

    Allocators keep freed blocks for reuse; after a step that built and dropped large
    temporary arrays (parsing, encoding a column) handing them back keeps the process's
    resident memory close to what the loaded data need (it takes well under a millisecond;
    for the C library's allocator arrow calls ``malloc_trim`` where it exists).
    """
    pa.system_memory_pool().release_unused()
    pa.default_memory_pool().release_unused()


@contextmanager
def system_allocator() -> Iterator[None]:
    """Let arrow allocate from the C library's allocator inside the block.

    arrow's default pool (mimalloc) keeps several times the memory a load's temporary arrays
    need resident (measured: 5 MB of resident memory to encode a 100,000-cell ID column whose
    arrays take 2 MB), and memory it frees serves only arrow; with the C library's allocator,
    freed memory is reused by numpy's arrays and returned by :func:`release_memory`. Every
    buffer remembers the pool it came from, so switching is safe for arrays made before or
    after.
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
        release_memory()


def trimmed(arr: pa.Array) -> pa.Array:
    """Cells without surrounding white space (Unicode white space such as no-break spaces
    too; the ASCII-only kernel is used when every cell is ASCII, which is much faster)."""
    if not len(arr) or pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_trim_whitespace(arr)
    return pc.utf8_trim_whitespace(arr)


def folded(arr: pa.Array, ascii_only: bool = True) -> pa.Array:
    """Trimmed and lower-cased cells (for case-insensitive comparisons)."""
    t = trimmed(arr)
    return pc.ascii_lower(t) if ascii_only else pc.utf8_lower(t)


def is_in(arr: pa.Array, values: Any) -> np.ndarray:
    """Boolean mask of cells equal to one of ``values`` (nulls give ``False``)."""
    if not len(arr):
        return np.zeros(0, dtype=bool)
    mask = pc.is_in(arr, value_set=pa.array(list(values), type=pa.string()))
    return _mask(mask)


def _mask(x: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(x, False).to_numpy(zero_copy_only=False), dtype=bool)


def _cast_pieces(arr: pa.Array, target: pa.DataType) -> list[tuple[int, pa.Array]]:
    """Cast the whole array, or, when some cell does not parse, each piece that does."""
    try:
        return [(0, pc.cast(arr, target))]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = []
    for s in range(0, len(arr), PIECE):
        try:
            out.append((s, pc.cast(arr.slice(s, PIECE), target)))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return out


def try_float(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Convert plainly numeric text cells to float64.

    Returns ``(values, done)``: ``done`` marks cells converted here to a number (not NaN);
    the others (nulls, cells spelling ``nan``, and every cell of a piece of :data:`PIECE` rows
    that holds something else) are NaN and left to the caller. Cells must already be trimmed.
    """
    a = arr
    values = np.full(len(a), np.nan)
    for s, conv in _cast_pieces(a, pa.float64()):
        values[s : s + len(conv)] = conv.to_numpy(zero_copy_only=False)
    return values, ~np.isnan(values)


def try_int(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`try_float` for 64-bit integers (``"007"`` and ``"+7"`` convert too)."""
    a = arr
    values = np.zeros(len(a), dtype=np.int64)
    done = np.zeros(len(a), dtype=bool)
    for s, conv in _cast_pieces(a, pa.int64()):
        k = len(conv)
        done[s : s + k] = ~_mask(pc.is_null(conv))
        values[s : s + k] = conv.fill_null(0).to_numpy(zero_copy_only=False)
    return values, done


def null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """``arr`` with the cells under ``mask`` set to null (same type, no copy when none are)."""
    if not mask.any():
        return arr
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


class Dictionary:
    """A text column as its distinct values (stripped) and one index per cell (-1: null).

    Parameters
    ----------
    indices : numpy.ndarray
        Position of each cell's value in the distinct values (-1 for null cells).
    values : list of str or pyarrow.Array
        The distinct values.
    source : pyarrow.Array, optional
        The column encoded, when its cells are exactly the distinct values (nothing was
        stripped): :meth:`texts` then gives it back without building a copy.
    """

    def __init__(
        self, indices: np.ndarray, values: list[str] | pa.Array, source: Any = None
    ) -> None:
        self.indices = indices
        self._source = source
        if isinstance(values, pa.Array):
            self._array, self._list = values, None
        else:
            self._array, self._list = None, list(values)

    @property
    def values(self) -> list[str]:
        """The distinct values as Python strings."""
        if self._list is None:
            self._list = self._array.to_pylist()
        return self._list

    def value_array(self) -> pa.Array:
        """The distinct values as an arrow array."""
        if self._array is None:
            self._array = pa.array(self._list, type=pa.large_string())
        return self._array

    def __len__(self) -> int:
        return len(self._array) if self._array is not None else len(self._list)

    def per_cell(self, flags: np.ndarray) -> np.ndarray:
        """Spread a per-value boolean array to the cells (null cells get ``True``)."""
        flags = np.asarray(flags, dtype=bool)
        if not len(flags):
            return np.ones(len(self.indices), dtype=bool)
        null = self.indices < 0
        if not flags.any():  # the common case: no value flagged, one pass over the cells
            return null
        if not null.any():
            return flags.take(self.indices)
        return np.where(null, True, flags.take(np.maximum(self.indices, 0)))

    def texts(self) -> pa.Array:
        """The stripped text of every cell (null where the cell was null)."""
        if self._source is not None:
            return self._source
        idx = pa.array(self.indices, mask=self.indices < 0)
        return pc.take(self.value_array(), idx)

    def ranks(self) -> np.ndarray:
        """Per distinct value, its rank in sorted (code point) order."""
        order = pc.sort_indices(self.value_array()).to_numpy(zero_copy_only=False)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank


def encode(arr: Any) -> tuple[np.ndarray, pa.Array]:
    """Dictionary-encode a text column: ``(index of each cell's value or -1 for null,
    distinct values)``, in order of first appearance.

    The indices keep arrow's integer type (32 bits below 2**31 distinct values): widening
    them would cost a pass and twice the memory for every column encoded.
    """
    enc = pc.dictionary_encode(text_array(arr))
    pieces = _chunks(enc)
    if not pieces:
        return np.zeros(0, dtype=np.int64), pa.array([], type=pa.large_string())
    indices = pa.chunked_array([c.indices for c in pieces], type=pieces[0].indices.type)
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    joined = indices.to_numpy(zero_copy_only=False)
    # the pieces of a chunked column share one dictionary, complete in the last piece
    return joined, pieces[-1].dictionary


def dictionary(arr: pa.Array) -> Dictionary:
    """Dictionary-encode a text column once; the distinct values are stripped of white space.

    Looking at each distinct value (missing codes, numbers, categories) and spreading the
    answer to the cells costs one pass over the column whatever its length.
    """
    arr = text_array(arr)
    indices, uniques = encode(arr)
    return dictionary_of(indices, uniques, arr)


def dictionary_of(indices: np.ndarray, uniques: pa.Array, source: Any = None) -> Dictionary:
    """:func:`dictionary` of a column already encoded: the index of each cell's value (-1
    for null) and the distinct values, which are stripped of white space here.

    ``source``, the column's text, is given back by :meth:`Dictionary.texts` when nothing
    was stripped; without it the texts are rebuilt from the values.
    """
    uniques = text_array(uniques)
    if len(uniques) and edge_space(uniques):
        uniques = pc.utf8_trim_whitespace(uniques)
        stripped = uniques.to_pylist()
        if len(set(stripped)) != len(stripped):  # " a" and "a": one value once stripped
            first: dict[str, int] = {}
            remap = np.array([first.setdefault(v, len(first)) for v in stripped], dtype=np.int64)
            indices = np.where(indices >= 0, remap[np.maximum(indices, 0)], -1)
            return Dictionary(indices, list(first))
        return Dictionary(indices, stripped)
    return Dictionary(indices, uniques, source=source)


def encoded_parts(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """The index of each cell's value and the distinct values of a dictionary-encoded text
    column (as pyarrow's CSV reader makes them: one dictionary per piece, no nulls)."""
    if isinstance(arr, pa.ChunkedArray):
        if not arr.num_chunks:
            return np.zeros(0, dtype=np.int32), pa.array([], type=pa.large_string())
        arr = arr.unify_dictionaries().combine_chunks()  # one dictionary, indices joined
    return arr.indices.to_numpy(zero_copy_only=False), arr.dictionary.cast(pa.large_string())


def lengths(arr: pa.Array) -> np.ndarray:
    """Byte length of every cell (0 for nulls)."""
    arr = text_array(arr)
    if not len(arr):
        return np.zeros(0, dtype=np.int64)
    n = pc.binary_length(arr)
    if arr.null_count:
        n = pc.fill_null(n, 0)
    return n.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def edge_space(arr: pa.Array) -> bool:
    """Whether some cell may start or end with white space (so trimming is needed)."""
    arr = text_array(arr)
    return bool(_SPACE_BYTE[first_bytes(arr)].any() or _SPACE_BYTE[_edge_bytes(arr, True)].any())


def plain_number_cells(arr: pa.Array) -> np.ndarray:
    """Non-empty cells made only of digits, ``.``, ``e``/``E`` and signs (a numpy scan)."""
    return _per_chunk(arr, _plain_one, bool)


def _plain_one(arr: pa.Array) -> np.ndarray:
    data_buf = arr.buffers()[2]
    if data_buf is None:
        return np.zeros(len(arr), dtype=bool)
    offsets = _offsets(arr)
    seg = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    bad = np.concatenate([[0], np.cumsum(~_NUMBER_BYTE[seg], dtype=np.int64)])
    rel = offsets - offsets[0]
    out = (bad[rel[1:]] - bad[rel[:-1]] == 0) & (rel[1:] > rel[:-1])
    if arr.null_count:
        out &= ~_mask(pc.is_null(arr))
    return out


def cast_float(arr: pa.Array) -> np.ndarray | None:
    """All cells as float64 (nulls NaN) when every non-null cell parses, else ``None``."""
    try:
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _edge_bytes(arr: pa.Array, last: bool) -> np.ndarray:
    return _per_chunk(arr, lambda c: _edge_one(c, last), np.uint8)


def _edge_one(arr: pa.Array, last: bool) -> np.ndarray:
    k = len(arr)
    validity, _, data_buf = arr.buffers()
    if data_buf is None:
        return np.zeros(k, dtype=np.uint8)
    offsets = _offsets(arr)
    start, end = offsets[:-1], offsets[1:]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    if not len(data):
        return np.zeros(k, dtype=np.uint8)
    nonempty = end > start
    at = np.where(nonempty, (end - 1) if last else start, 0)
    out = np.where(nonempty, data[at], 0).astype(np.uint8)
    if validity is not None and arr.null_count:
        out[_mask(pc.is_null(arr))] = 0
    return out


def second_bytes(arr: pa.Array) -> np.ndarray:
    """The second byte of every cell (``0`` when a cell has fewer than two bytes)."""
    return _per_chunk(arr, _second_one, np.uint8)


def _second_one(arr: pa.Array) -> np.ndarray:
    k = len(arr)
    data_buf = arr.buffers()[2]
    if data_buf is None or not data_buf.size:
        return np.zeros(k, dtype=np.uint8)
    offsets = _offsets(arr)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    long = offsets[1:] - offsets[:-1] >= 2
    out = np.where(long, data[np.where(long, offsets[:-1] + 1, 0)], 0).astype(np.uint8)
    if arr.null_count:
        out[_mask(pc.is_null(arr))] = 0
    return out


def first_bytes(arr: pa.Array) -> np.ndarray:
    """The first byte of every cell (``0`` for empty and null cells), read from the buffers.

    Much cheaper than slicing strings: it lets converters skip cells that cannot start a
    number before asking arrow to parse them (failed parses are slow).
    """
    return _edge_bytes(arr, last=False)


def contains_byte(arr: pa.Array, char: str) -> bool:
    """Whether any cell contains the ASCII character ``char`` (a scan of the data buffer)."""
    for piece in _chunks(text_array(arr)):
        data_buf = piece.buffers()[2] if len(piece) else None
        if data_buf is None:
            continue
        offsets = _offsets(piece)
        data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
        if np.any(data == ord(char)):
            return True
    return False


def sample(arr: pa.Array, k: int = 32) -> list[str]:
    """Up to ``k`` non-null cells spread evenly over the column."""
    arr = text_array(arr)
    n = len(arr)
    if not n:
        return []
    step = max(1, n // k)
    picked = (arr[i].as_py() for i in range(0, n, step)[:k])  # no gather over the pieces
    return [t for t in picked if t is not None]


def sorted_codes(values: pd.Series) -> np.ndarray:
    """Integer codes that sort like the values (equal values, equal codes; NA last).

    Text columns use arrow's dictionary encoding (several times faster than
    ``pandas.factorize(sort=True)`` on strings) and sort only the distinct values.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.array.__class__.__name__.startswith(
        "Arrow"
    ):
        idx, dictionary = encode(values)
        uniques = np.asarray(dictionary.to_pylist(), dtype=object)
        rank = np.empty(len(uniques), dtype=np.int64)
        rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
        return np.where(idx >= 0, rank[np.maximum(idx, 0)] if len(uniques) else 0, len(uniques))
    codes = pd.factorize(values, sort=True)[0].astype(np.int64)
    return np.where(codes >= 0, codes, codes.max(initial=-1) + 1)


def changes(values: pd.Series) -> np.ndarray:
    """``True`` where a value differs from the one before it (and at the first position)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if isinstance(values.dtype, pd.StringDtype):
        arr = text_array(values)
        diff = _mask(pc.not_equal(arr.slice(1), arr.slice(0, n - 1)))
    else:
        v = values.to_numpy()
        diff = np.asarray(v[1:] != v[:-1], dtype=bool)
    return np.r_[True, diff]


def last_bytes(arr: pa.Array, k: int) -> np.ndarray:
    """The last ``k`` bytes of every cell as an ``(n, k)`` array (left-padded with zeros)."""
    return _per_chunk(arr, lambda c: _last_one(c, k), np.uint8, k)


def _last_one(arr: pa.Array, k: int) -> np.ndarray:
    n = len(arr)
    out = np.zeros((n, k), dtype=np.uint8)
    validity, _, data_buf = arr.buffers()
    if data_buf is None or not data_buf.size:
        return out
    offsets = _offsets(arr)
    start, end = offsets[:-1], offsets[1:]
    data = np.frombuffer(data_buf, dtype=np.uint8)
    top = max(len(data) - 1, 0)
    for j in range(1, k + 1):
        at = end - j
        out[:, k - j] = np.where(at >= start, data[np.clip(at, 0, top)], 0)
    if validity is not None and arr.null_count:
        out[_mask(pc.is_null(arr))] = 0
    return out


def to_bool_array(mask: Any) -> np.ndarray:
    """A numpy bool array from an arrow or numpy boolean mask (nulls as ``False``)."""
    if isinstance(mask, pa.ChunkedArray | pa.Array):
        return _mask(mask)
    return np.asarray(mask, dtype=bool)


def take_text(arr: pa.Array, positions: np.ndarray) -> np.ndarray:
    """The cells at ``positions`` as an object array of ``str`` (``None`` for nulls)."""
    if not len(positions):
        return np.empty(0, dtype=object)
    taken = arr.take(pa.array(np.asarray(positions, dtype=np.int64)))
    return np.asarray(taken.to_pylist(), dtype=object)
