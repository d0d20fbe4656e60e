"""Keep the server's memory flat: glibc gives every thread that allocates its own malloc arena (up to 8 per core),
and 20 concurrent requests on fresh Gradio worker threads left ~0.9 GB in arenas that were never given back."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

M_ARENA_MAX = -8  # mallopt parameter number (glibc malloc.h)


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(count: int) -> bool:
    """At most `count` malloc arenas from now on (0 = leave glibc's default). False where there is no glibc."""
    libc = _libc()
    if count <= 0 or libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give free heap memory back to the system (glibc malloc_trim); False where unavailable."""
    libc = _libc()
    return bool(libc is not None and hasattr(libc, "malloc_trim") and libc.malloc_trim(0))


class Trimmer(threading.Thread):
    """Calls trim() every `every_s` seconds (a daemon thread; stop() ends it)."""

    def __init__(self, every_s: float) -> None:
        super().__init__(daemon=True, name="malloc-trim")
        self.every_s = every_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every_s):
            trim()

    def stop(self) -> None:
        self._stopped.set()
