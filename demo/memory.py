"""Memory handed back to the system after big requests.

A 512² render or walk leaves hundreds of MiB of freed heap in glibc's arenas, which a long-running
server would otherwise keep for good. `Trimmer` calls glibc's `malloc_trim(0)` from a background
thread a few seconds after the last request ended (never during one); elsewhere (no glibc) it does
nothing.
"""
import ctypes
import ctypes.util
import logging
import threading
import time

log = logging.getLogger("demo")


def _libc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_trim()


def trim():
    """Return freed heap pages to the system now → True where glibc did it."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


class Trimmer:
    """`busy()` around each request; `trim()` runs `delay` seconds after the last one ended."""

    def __init__(self, delay=3.0):
        self.delay, self._lock, self._running, self._ended = delay, threading.Lock(), 0, None
        self._wake = threading.Event()
        threading.Thread(target=self._loop, daemon=True, name="malloc-trim").start()

    def __enter__(self):
        with self._lock:
            self._running += 1

    def __exit__(self, *exc):
        with self._lock:
            self._running -= 1
            self._ended = time.monotonic()
        self._wake.set()

    def _loop(self):
        while True:
            self._wake.wait()
            time.sleep(self.delay)
            with self._lock:
                due = self._running == 0 and self._ended is not None and time.monotonic() - self._ended >= self.delay
                if due:
                    self._ended = None
                    self._wake.clear()
            if due:
                trim()


TRIMMER = Trimmer()
