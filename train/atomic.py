"""The trainer's atomic writes: the library's (lainr/atomic.py), which lainr.hub also saves weights with —
one durable write (temporary file beside the target, fsync, os.replace) for the whole project."""
from lainr.atomic import atomic_write, atomic_write_json, is_temporary, replacing  # noqa: F401 (re-exported)
