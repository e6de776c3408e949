"""Text files (CSV, TSV, ...): strict decoding, the delimiter, and the cells of every record.

Decoding (the rules stated in the "What the loader promises" docs page):

1. A byte-order mark decides (UTF-8, UTF-16 as written by Excel's "Unicode text", UTF-32).
2. Otherwise the file must be valid UTF-8 throughout.
3. A file that is mostly UTF-8 but has some bytes that are not (one line pasted from a
   Windows program) is refused, naming the line and the byte: decoding it either way would
   turn ``Müller`` into two different patients.
4. A file with no UTF-8 text at all is decoded with the encoding detected by
   charset-normalizer (Windows-1252 preferred among equally good Western code pages), and the
   loader says so (a note in the summary and a warning) so that ``encoding=`` can confirm it.
5. ``encoding=`` is applied strictly; a byte it cannot decode is an error naming the line.

Records are split by pyarrow's CSV reader when the file is regular: every record on one
line, the same number of fields everywhere, quotes balanced. Anything else (ragged rows,
fields with line breaks, a stray quote, a header further down) is read by Python's csv
module, which reports such rows one by one. Both give the same cells; the fast path exists
because a pure-Python loop takes seconds on a 100,000-row file.

Examples
--------
>>> decode_bytes("id;Ort\\n1;Malmö\\n".encode("utf-8"), None, "x.csv")[:2]
('id;Ort\\n1;Malmö\\n', 'utf-8')
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats.errors import FileFormatError, ParameterError
from alliancestats.io.textops import encoded_parts, first_bytes, release_memory, to_bool_array
from alliancestats.io.typed import (
    ENCODED,
    LineCells,
    column_types,
    failed_column,
    read_arrow_table,
    unsafe_reason,
)

__all__ = [
    "FileInput",
    "TextCells",
    "TypeHints",
    "decode_bytes",
    "read_text_cells",
    "sniff_delimiter",
]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BLANK_START = np.zeros(256, dtype=bool)
_BLANK_START[[0, 9, 10, 13, 32, 0xC2, 0xE2, 0xE3]] = (
    True  # empty, white space, no-break/ideographic
)
#: Fields spanning more lines than this, or continuing with what looks like whole records, are
#: reported as probably swallowed by an unmatched quote.
SWALLOW_LINES = 3
#: Bytes at the start of a file used to find the delimiter, the header and column types.
HEAD_BYTES = 65536


@dataclass
class TextCells:
    """Cells of a text file as read, before any interpretation."""

    header: list[str]
    columns: list[pa.ChunkedArray] | None  # fast path: one column per header field
    records: list[list[str]] | None  # exact path: one list per record (padded/truncated)
    rows: np.ndarray  # user-visible row number of each record
    n_blank: int
    encoding: str
    encoding_note: str | None
    delimiter: str
    problems: list[tuple[int, Any, Any, str, str]] = field(default_factory=list)
    quoted: bool = True  # whether any field may be quoted (and so hold a delimiter)
    typed: set[int] = field(default_factory=set)  # columns typed by pyarrow (not text)
    encoded: set[int] = field(default_factory=set)  # text columns read dictionary-encoded
    line_cells: LineCells | None = None  # the text of cells of typed columns


@dataclass(frozen=True)
class TypeHints:
    """The columns the loader reads as numbers (or dates); all others stay text.

    Columns in neither ``numbers`` nor ``plain`` (covariates, undeclared columns) may be
    read dictionary-encoded when they repeat few values (see :mod:`.typed`); ``plain``
    columns (identifiers, ...) are always read as plain text.
    """

    numbers: frozenset[str] = frozenset()
    plain: frozenset[str] | None = None

    def positions(self, header: list[str]) -> set[int]:
        """Positions in ``header`` of the columns read as numbers (names compared folded)."""
        return _positions(header, self.numbers)

    def encodable(self, header: list[str]) -> set[int]:
        """Positions in ``header`` of the columns that may be read dictionary-encoded."""
        if self.plain is None:
            return set()
        return set(range(len(header))) - _positions(header, self.numbers | self.plain)


def _positions(header: list[str], names: frozenset[str]) -> set[int]:
    wanted = {str(t).strip().casefold() for t in names}
    return {j for j, h in enumerate(header) if h.strip().casefold() in wanted}


# ----------------------------------------------------------------------------- decoding


def _where(raw: bytes, pos: int) -> str:
    line = raw.count(b"\n", 0, pos) + 1
    start = raw.rfind(b"\n", 0, pos) + 1
    end = raw.find(b"\n", pos)
    snippet = raw[start : end if end >= 0 else len(raw)][:80].decode("utf-8", errors="replace")
    return f"line {line}, byte 0x{raw[pos]:02X} at position {pos - start + 1} ({snippet.strip()!r})"


def _decode_strict(raw: bytes, encoding: str, name: str, why: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{name!r} cannot be decoded as {encoding} ({why}): {_where(raw, exc.start)}. "
            "Pass the file's encoding, e.g. encoding='cp1252' (Excel's CSV on Windows) or "
            "encoding='latin-1', or re-save the file as UTF-8"
        ) from None


def _detect(raw: bytes, name: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise FileFormatError(
            f"{name!r} is not UTF-8 and its encoding could not be recognised; pass encoding="
        )
    best = min(m.chaos for m in matches)
    good = [m for m in matches if m.chaos == best]
    chosen = next((m for m in good if "cp1252" in (m.encoding, *m.could_be_from_charset)), good[0])
    encoding = (
        "cp1252"
        if "cp1252" in (chosen.encoding, *chosen.could_be_from_charset)
        else (chosen.encoding)
    )
    text = _decode_strict(raw, encoding, name, "detected")
    sample = next((w for w in text.split() if not w.isascii()), "")[:30]
    shown = f"; non-ASCII text reads {sample!r}" if sample else ""
    note = (
        f"{name!r} is not UTF-8: decoded as {encoding} (detected{shown}); pass encoding= if "
        "names look wrong"
    )
    return encoding, note


def decode_bytes(raw: bytes, encoding: str | None, name: str) -> tuple[str, str, str | None]:
    """Decode a text file strictly: ``(text, encoding used, note or None)``.

    Raises
    ------
    FileFormatError
        For bytes the encoding cannot decode (line and byte named), a file mixing UTF-8
        with another encoding, or a file that is not text.
    ParameterError
        For an unknown ``encoding=``.
    """
    if encoding is not None:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise ParameterError(
                f"unknown encoding {encoding!r}; use a name such as 'utf-8', 'cp1252', "
                "'latin-1' or 'utf-16'"
            ) from None
        if codec == "utf-8" and raw.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        return _decode_strict(raw, codec, name, "as requested"), codec, None
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return _decode_strict(raw, enc, name, "byte-order mark"), enc, None
    if b"\x00" in raw[:4096]:
        enc, note = _detect(raw, name)
        if not enc.startswith(("utf_16", "utf_32", "utf-16", "utf-32")):
            raise FileFormatError(
                f"{name!r} contains NUL bytes: it is not a text file (or pass encoding=)"
            )
        return _decode_strict(raw, enc, name, "detected"), enc, note
    try:
        return raw.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    loose = raw.decode("utf-8", errors="surrogateescape")
    if any(ord(c) > 0x7F and not 0xDC80 <= ord(c) <= 0xDCFF for c in loose):
        raise FileFormatError(
            f"{name!r} mixes encodings: most of it is UTF-8 but {_where(raw, first_bad)} is "
            "not. Decoding the whole file either way would change names (Müller would become "
            "two patients). Fix that line, or pass encoding= to decode the whole file one way"
        )
    enc, note = _detect(raw, name)
    return _decode_strict(raw, enc, name, "detected"), enc, note


# ----------------------------------------------------------------------------- records


def sniff_delimiter(text: str) -> str:
    """The field delimiter among ``,`` ``;`` tab and ``|``.

    Examples
    --------
    >>> sniff_delimiter("id;wai\\n1;3,5\\n")
    ';'
    """
    lines = [ln for ln in text[:65536].splitlines() if ln.strip()][:50]
    if not lines:
        return ","
    # the common case without quotes: one candidate splits every line into the same number
    # of fields (more than one); the csv Sniffer is slower and only needed otherwise
    if '"' not in "".join(lines):
        steady = [
            c for c in ",;\t|" if lines[0].count(c) and len({ln.count(c) for ln in lines}) == 1
        ]
        if len(steady) == 1:
            return steady[0]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    best, best_score = ",", 0
    for cand in (",", ";", "\t", "|"):
        counts = [ln.count(cand) for ln in lines]
        score = counts[0] + (1000 if counts[0] > 0 and min(counts) == max(counts) else 0)
        if score > best_score:
            best, best_score = cand, score
    return best


class FileInput:
    """The bytes of a text file, in memory or on disk, and the scans the fast path needs.

    A file on disk is scanned in blocks and parsed by pyarrow from the path, so its bytes are
    never held in memory at once.
    """

    BLOCK = 1 << 20

    def __init__(self, raw: bytes | None = None, path: Path | None = None) -> None:
        self._raw = raw
        self._path = path
        self._scanned: tuple[int, int, bool] | None = None
        self._quoted: bool | None = None

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes."""
        if self._raw is not None:
            return self._raw[:n]
        with open(self._path, "rb") as fh:
            return fh.read(n)

    def read_all(self) -> bytes:
        """All bytes (for the exact reader and for looking up single cells)."""
        return self._raw if self._raw is not None else self._path.read_bytes()

    def has_quote(self) -> bool:
        """Whether the file holds a quote character (searched block by block)."""
        if self._raw is not None:
            return b'"' in self._raw
        if self._quoted is None:
            block = bytearray(self.BLOCK)
            self._quoted = False
            with open(self._path, "rb", buffering=0) as fh:
                while n := fh.readinto(block):
                    if block.find(b'"', 0, n) >= 0:
                        self._quoted = True
                        break
        return self._quoted

    def scan(self) -> tuple[int, int, bool]:
        """Numbers of quote characters and of line feeds, and whether the last byte is one."""
        if self._scanned is None:
            if self._raw is not None:
                raw = self._raw
                self._scanned = (raw.count(b'"'), raw.count(b"\n"), raw.endswith(b"\n"))
            else:
                quotes = feeds = 0
                last = b""
                with open(self._path, "rb") as fh:
                    while block := fh.read(self.BLOCK):
                        quotes += block.count(b'"')
                        feeds += block.count(b"\n")
                        last = block[-1:]
                self._scanned = (quotes, feeds, last == b"\n")
        return self._scanned

    def arrow(self) -> Any:
        """What to hand to pyarrow's CSV reader (it skips a UTF-8 byte-order mark itself)."""
        if self._raw is not None:
            return pa.BufferReader(pa.py_buffer(self._raw))
        return str(self._path)


def _typed_table(
    source: FileInput, delim: str, width: int, types: dict[int, Any] | None, quoted: bool
) -> pa.Table:
    """Read the file with ``types`` (see :mod:`.typed`); a column that does not convert, or
    whose typed values would lose something, is read again as text (at most three reads)."""
    failures = 0
    while True:
        try:
            table = read_arrow_table(source.arrow(), delim, width, types, quoted)
        except pa.ArrowInvalid as exc:
            failed = failed_column(exc, types) if types is not None else set()
            if not failed:
                raise
            failures += 1
            if failures > 1:  # several columns fail late: give up typing numbers at all
                failed |= {j for j, t in types.items() if t == pa.float64()}
            types = {**types, **dict.fromkeys(failed, pa.large_string())}
            continue
        if types is None:
            return table
        redo = {
            j for j, t in types.items() if t != pa.large_string() and unsafe_reason(table.column(j))
        }
        if not redo:
            return table
        types = {**types, **dict.fromkeys(redo, pa.large_string())}


def _fast_columns(
    source: FileInput,
    delim: str,
    width: int,
    wanted: set[int] | None = None,
    head: bytes = b"",
    encodable: set[int] = frozenset(),
) -> tuple[list[pa.ChunkedArray], set[int]] | None:
    """Cells via pyarrow, and the columns typed (not text); ``None`` if the file is irregular.

    Without any quote character every line is one record; with quotes the lines are counted to
    make sure no record spans several. ``wanted=None`` reads every column as text; otherwise
    the columns in ``wanted`` are typed where :mod:`.typed` finds that exact, with types
    chosen from ``head`` (the first bytes of the file); columns in ``encodable`` that repeat
    few values there are read dictionary-encoded (text all the same, not counted as typed).
    """
    quoted = source.has_quote()
    if width == 0:
        return None
    n_lines = 0
    if quoted:
        quotes, feeds, ends_in_feed = source.scan()
        if quotes % 2:
            return None
        n_lines = feeds + (0 if ends_in_feed else 1)
    types = None
    if wanted is not None:
        types = column_types(head, delim, width, wanted, quoted, encodable)
    try:
        table = _typed_table(source, delim, width, types, quoted)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if quoted and table.num_rows + 1 != n_lines:
        return None  # a record spans lines: read it exactly instead
    columns = table.columns  # kept in the reader's pieces: joining them would copy the file
    typed = {j for j, c in enumerate(columns) if not _is_text(c.type)}
    return columns, typed


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_large_string(t) or pa.types.is_string(t) or t == ENCODED


def _blank_rows(columns: list[pa.ChunkedArray], n: int, typed: set[int]) -> np.ndarray:
    """Rows whose every cell is empty or white space (null in typed columns)."""
    cand = np.ones(n, dtype=bool)
    # typed columns first: one null mask each, and a single filled one rules out most rows
    for j in sorted(range(len(columns)), key=lambda j: j not in typed):
        col = columns[j]
        if j in typed and not col.null_count:  # a column filled everywhere: no blank row
            return np.zeros(n, dtype=bool)
        if j in typed:
            cand &= to_bool_array(pc.is_null(col))
        elif col.type == ENCODED:
            indices, values = encoded_parts(col)
            cand &= _BLANK_START[first_bytes(values)].take(indices) if len(values) else True
        else:
            cand &= _BLANK_START[first_bytes(col)]
        if not cand.any():
            return cand
    idx = np.flatnonzero(cand)
    for j, col in enumerate(columns):
        if j in typed:
            continue
        texts = col.take(pa.array(idx)).to_pylist()
        keep = np.array([not t.strip() for t in texts], dtype=bool)
        idx = idx[keep]
        if not len(idx):
            break
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out


def _trailing(blank: np.ndarray) -> int:
    if not len(blank) or not blank[-1]:
        return 0
    nonblank = np.flatnonzero(~blank)
    return len(blank) - (nonblank[-1] + 1 if len(nonblank) else 0)


def _utf8_candidate(head: bytes, encoding: str | None) -> bool:
    """Whether the file may be plain UTF-8 (then pyarrow reads and checks it)."""
    if encoding is not None:
        try:
            if codecs.lookup(encoding).name != "utf-8":
                return False
        except LookupError:
            return False
    if head.startswith(codecs.BOM_UTF8):
        return True
    return not any(head.startswith(bom) for bom, _ in _BOMS) and b"\x00" not in head[:4096]


def _header(head: bytes, delimiter: str | None) -> tuple[str, list[str]] | None:
    """Delimiter and header fields from the first bytes, or ``None`` when they do not decode."""
    start = 3 if head.startswith(codecs.BOM_UTF8) else 0
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head[start:], final=False)
    except UnicodeDecodeError:
        return None
    if "\n" not in text and len(head) >= HEAD_BYTES:
        return None
    delim = delimiter or sniff_delimiter(text)
    header = next(csv.reader([text.split("\n", 1)[0].rstrip("\r")], delimiter=delim), [])
    return (delim, header) if any(h.strip() for h in header) else None


def _fast_cells(
    source: FileInput, delimiter: str | None, encoding: str | None, types: TypeHints | None
) -> TextCells | None:
    """Cells of a regular UTF-8 file read by pyarrow (which also checks the UTF-8)."""
    head = source.head(HEAD_BYTES)
    if not _utf8_candidate(head, encoding):
        return None
    found = _header(head, delimiter)
    if found is None:
        return None
    delim, header = found
    wanted = types.positions(header) if types is not None else None
    encodable = types.encodable(header) if types is not None else set()
    read = _fast_columns(source, delim, len(header), wanted, head, encodable)
    if read is None:
        return None
    columns, typed = read
    n = len(columns[0])
    blank = _blank_rows(columns, n, typed)
    rows = np.arange(2, n + 2, dtype=np.int64)
    n_blank = int(blank.sum()) - _trailing(blank)
    if blank.any():
        keep = pa.array(~blank)
        columns = [c.filter(keep) for c in columns]
        rows = rows[~blank]
    start = 3 if head.startswith(codecs.BOM_UTF8) else 0
    enc = "utf-8-sig" if start else "utf-8"
    cells = TextCells(header, columns, None, rows, n_blank, enc, None, delim)
    cells.quoted = source.has_quote()
    cells.typed = typed
    cells.encoded = {j for j, c in enumerate(columns) if c.type == ENCODED}
    cells.line_cells = LineCells(source.read_all, start, delim) if typed else None
    release_memory()  # the reader's working buffers
    return cells


def read_text_cells(
    raw: bytes | FileInput,
    *,
    name: str,
    delimiter: str | None,
    encoding: str | None,
    header_row: int,
    types: TypeHints | None = None,
) -> TextCells:
    """Split a text file into the header and the cells of every record, decoding strictly.

    ``raw`` is the file's bytes or a :class:`FileInput`. With ``types`` (see
    :class:`TypeHints`), a regular UTF-8 file has its columns typed by pyarrow where that is
    exact (:mod:`.typed`); otherwise every cell is text.
    """
    source = raw if isinstance(raw, FileInput) else FileInput(raw=raw)
    if header_row == 1:
        cells = _fast_cells(source, delimiter, encoding, types)
        if cells is not None:
            return cells
    raw = source.read_all()
    text, enc, note = decode_bytes(raw, encoding, name)
    return _exact_cells(text, name, delimiter or sniff_delimiter(text), header_row, enc, note)


def _exact_cells(
    text: str, name: str, delim: str, header_row: int, enc: str, note: str | None
) -> TextCells:
    """Python's csv module, record by record, reporting irregular records."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # a swallowed file is one huge field
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        records, lines = [], []
        previous = 0
        for rec in reader:
            records.append(rec)
            lines.append((previous + 1, reader.line_num))
            previous = reader.line_num
    except csv.Error as exc:
        raise FileFormatError(f"{name!r} cannot be read as delimited text: {exc}") from None
    finally:
        csv.field_size_limit(limit)
    if len(records) < header_row or not any(c.strip() for c in records[header_row - 1]):
        raise FileFormatError(
            f"{name!r} has no header in row {header_row}: the first row must hold the column "
            "names (pass header_row= if they are further down)"
        )
    header = records[header_row - 1]
    width = len(header)
    unbalanced = text.count('"') % 2 == 1
    out, rows, problems = [], [], []
    n_blank = trailing = 0
    for i, rec in enumerate(records[header_row:]):
        row = header_row + 1 + i
        if not any(c.strip() for c in rec):
            n_blank += 1
            trailing += 1
            continue
        trailing = 0
        pos = len(out)
        extra = [c for c in rec[width:] if c.strip()]
        if extra:
            problems.append(
                (
                    pos,
                    f"(beyond column {width})",
                    delim.join(rec[width:]).strip(delim),
                    f"the row has {len(rec)} fields but the header has {width}; a value may "
                    "contain an unquoted delimiter (e.g. a decimal comma: pass decimal=',' with a "
                    "';' delimiter) or a column name is missing",
                    "extra_fields",
                )
            )
        swallowed = _swallowed(rec, lines[header_row + i], delim, width, unbalanced)
        if swallowed:
            problems.append(
                (
                    pos,
                    header[swallowed[0]] if swallowed[0] < width else "-",
                    rec[swallowed[0]][:60] + "...",
                    swallowed[1],
                    "unmatched_quote",
                )
            )
        out.append((rec + [""] * width)[:width])
        rows.append(row)
    return TextCells(
        header,
        None,
        out,
        np.asarray(rows, dtype=np.int64),
        n_blank - trailing,
        enc,
        note,
        delim,
        problems,
    )


def _swallowed(
    rec: list[str], lines: tuple[int, int], delim: str, width: int, unbalanced: bool
) -> tuple[int, str] | None:
    """A field that probably swallowed following lines: ``(field position, reason)``."""
    first, last = lines
    if last == first:
        return None
    for j, cell in enumerate(rec):
        if "\n" not in cell and "\r" not in cell:
            continue
        parts = cell.splitlines()[1:]
        looks_like_rows = width > 1 and any(p.count(delim) >= width - 1 for p in parts)
        if last - first + 1 > SWALLOW_LINES or looks_like_rows or unbalanced:
            return j, (
                f"a quote opens a field that runs over lines {first}-{last} of the file "
                f"({last - first + 1} lines); an unmatched quote probably swallowed the rows "
                "that follow. Fix the quote in this row"
            )
    return None
