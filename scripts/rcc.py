"""Read Qt resource (.rcc) containers, as used by gcompris-qt-data for its sounds.

Format (Qt's rcc, versions 1-3): a big-endian header ``qres``, version, offsets of the
node tree, the data blob and the name table; tree nodes are 14 bytes (v1) or 22 bytes
(v2+, with a modification time); names are UTF-16BE with a length and a hash; file payloads
are a 4-byte size and, when flag 1 is set, a 4-byte uncompressed size plus zlib data.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

_COMPRESSED, _DIRECTORY, _COMPRESSED_ZSTD = 0x01, 0x02, 0x04


def iter_rcc(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (resource path, file bytes) for every file in a Qt ``.rcc`` container."""
    blob = Path(path).read_bytes()
    if blob[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource file (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    node_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack(">H", blob[names + offset : names + offset + 2])
        start = names + offset + 6
        return blob[start : start + 2 * length].decode("utf-16-be")

    def walk(node: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        base = tree + node * node_size
        name_offset, flags = struct.unpack(">IH", blob[base : base + 6])
        name = name_at(name_offset) if node else ""
        full = f"{prefix}/{name}" if name else prefix
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", blob[base + 6 : base + 14])
            for child in range(first, first + count):
                yield from walk(child, full)
            return
        (offset,) = struct.unpack(">I", blob[base + 10 : base + 14])
        (size,) = struct.unpack(">I", blob[data + offset : data + offset + 4])
        payload = blob[data + offset + 4 : data + offset + 4 + size]
        if flags & _COMPRESSED_ZSTD:
            raise ValueError(f"{path}:{full}: zstd-compressed resources are not supported")
        if flags & _COMPRESSED:
            payload = zlib.decompress(payload[4:])
        yield full, payload

    yield from walk(0, "")
