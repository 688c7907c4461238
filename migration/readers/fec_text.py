"""Read a FEC file in blocks of whole lines, as text columns parsed by pandas.

The FEC reader checks most lines with vectorised pandas and numpy operations and
parses the others one by one in Python. For each block of lines, this module gives
it what both need. That is the text columns from ``pandas.read_csv``, the field
count of every line, the lines that may have whitespace around a field, and the
raw bytes of each line for the Python parser.

A block's bytes are split into lines as Python's universal newlines split text
(``\\n``, ``\\r\\n`` and ``\\r``), so line numbers match the line-by-line reading.
That holds only for encodings in which line breaks and the separator are single
ASCII bytes that no other character contains: see ``supports_encoding``.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

BLOCK_BYTES = 8 << 20

# Encodings (codecs.lookup names) that encode every non-ASCII character with bytes
# of 0x80 and above, so a line break or separator byte is always that character.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "utf-8-sig", "ascii", "iso8859-1", "iso8859-15", "cp1252"}
)
_UTF8_BOM = codecs.BOM_UTF8
# ASCII whitespace that str.strip() removes, apart from the line breaks.
_ASCII_SPACES = b" \t\x0b\x0c\x1c\x1d\x1e\x1f"


@dataclasses.dataclass
class TextBlock:
    """Consecutive lines of a file and their text columns.

    ``frame`` has one row per line and the requested columns as unstripped text,
    with "" for a field the line does not have. It is None when pandas cannot be
    trusted to split this block the way Python does, so that every line of the
    block must be parsed in Python.
    """

    first_line: int  # line number of lines[0] in the file, the header being line 1
    lines: list[bytes]  # with their line breaks
    field_counts: np.ndarray
    padded: np.ndarray  # True where a field may start or end with whitespace
    frame: pd.DataFrame | None
    encoding: str

    def text(self, index: int) -> str:
        """Return line ``index`` of the block decoded, with a newline at its end."""
        return self.lines[index].rstrip(b"\r\n").decode(self.encoding) + "\n"


def supports_encoding(encoding: str) -> bool:
    return codecs.lookup(encoding).name in _ASCII_COMPATIBLE


def read_blocks(
    path: Path,
    *,
    encoding: str,
    separator: str,
    width: int,
    columns: dict[int, str],
    block_bytes: int | None = None,
) -> Iterator[TextBlock]:
    """Yield the lines after the header of ``path`` in blocks of about ``block_bytes``.

    ``width`` is the header's field count and ``columns`` maps the positions to read
    to column names. ``block_bytes`` defaults to ``BLOCK_BYTES``. Raises
    UnicodeDecodeError when a block is invalid in ``encoding``.
    """
    # After the header no byte order mark is stripped, as in a decoded stream.
    line_encoding = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
    first_line = 2
    header_pending = True
    for data in _line_blocks(path, block_bytes or BLOCK_BYTES):
        lines = data.splitlines(keepends=True)
        if header_pending:
            header_pending = False
            data = data[len(lines[0]) :]
            lines = lines[1:]
            if not lines:
                continue
        counts = np.fromiter(
            map(bytes.count, lines, repeat(separator.encode())), np.int64, len(lines)
        )
        block = TextBlock(
            first_line=first_line,
            lines=lines,
            field_counts=counts + 1,
            padded=_padded_lines(data, lines, separator),
            frame=_read_frame(
                data, len(lines), line_encoding, separator, width, columns
            ),
            encoding=line_encoding,
        )
        first_line += len(lines)
        yield block


def _line_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    """Yield the file's bytes in blocks that end after a line feed, or at its end."""
    with open(path, "rb") as handle:
        rest = b""
        while chunk := handle.read(block_bytes):
            data = rest + chunk
            end = data.rfind(b"\n") + 1
            rest = data[end:]
            if end:
                yield data[:end]
        if rest:
            yield rest


def _padded_lines(data: bytes, lines: list[bytes], separator: str) -> np.ndarray:
    """Return which lines have a field that may start or end with whitespace.

    A byte next to a separator, a line break or the block's ends is suspect when it
    is ASCII whitespace or belongs to a non-ASCII character, because some of those
    are whitespace too (no-break space, for example). This flags more lines than
    needed, never fewer.
    """
    edges = np.zeros(256, dtype=bool)
    edges[[ord(separator), ord("\r"), ord("\n")]] = True
    suspects = np.zeros(256, dtype=bool)
    suspects[list(_ASCII_SPACES)] = True
    suspects[0x80:] = True
    suspects[ord(separator)] = False

    octets = np.frombuffer(data, dtype=np.uint8)
    # Suspect bytes are few, so their neighbours are looked up, not every byte's.
    found = np.flatnonzero(suspects[octets])
    if len(found):
        before = octets[np.maximum(found - 1, 0)]
        after = octets[np.minimum(found + 1, len(octets) - 1)]
        at_end = (found == 0) | (found == len(octets) - 1)
        found = found[edges[before] | edges[after] | at_end]

    padded = np.zeros(len(lines), dtype=bool)
    if len(found):
        lengths = np.fromiter(map(len, lines), np.int64, len(lines))
        starts = np.cumsum(lengths) - lengths
        padded[np.searchsorted(starts, found, side="right") - 1] = True
    return padded


def _read_frame(
    data: bytes,
    line_count: int,
    encoding: str,
    separator: str,
    width: int,
    columns: dict[int, str],
) -> pd.DataFrame | None:
    """Parse the block's columns with pandas' C parser, or return None.

    None means the parser's rows might not be the block's lines: a NUL byte, which
    numpy's fixed-width text drops, a leading byte order mark, which the parser
    strips, a failure or a row count that differs from the line count.
    """
    if b"\x00" in data or data.startswith(_UTF8_BOM):
        return None
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=separator,
            header=None,
            names=range(width),
            usecols=sorted(columns),
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
        )
    except UnicodeDecodeError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        # ValueError: the first line has more fields than the header.
        return None
    if len(frame) != line_count:
        return None
    return frame.rename(columns=columns)
