"""Atomic file writes: the new content goes to a temporary file in the same folder, is flushed to disk, then
os.replace()s the target, so a reader or a crash sees the old file or the new one, never half of one.
Used by lainr.hub (model.safetensors) and, through train/atomic.py, by everything the trainer writes."""
import contextlib
import json
import os
from pathlib import Path


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path` (same suffix, so np.savez / savefig keep their format) to write to;
    on success it is synced and replaces `path`; on an exception it is removed and `path` is left as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path, data):
    """Write `data` (str: UTF-8 text, or bytes) to `path` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"atomic_write takes str or bytes, got {type(data).__name__}")
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path, obj, **dumps_kwargs):
    """`obj` as JSON (default: indent 2, sorted keys; json.dumps keywords override) + a newline, atomically."""
    atomic_write(path, json.dumps(obj, **{"indent": 2, "sort_keys": True, **dumps_kwargs}) + "\n")


def is_temporary(name):
    """Whether a file name is one of replacing()'s temporary files (left behind only by a killed writer)."""
    return name.startswith(".") and ".tmp" in name
