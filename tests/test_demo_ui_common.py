"""Pieces of the page every tab uses, without a server."""
from types import SimpleNamespace

from demo.ui_common import Newest


def test_only_the_newest_render_of_a_session_is_shown():
    """Overlapping renders of one page session (a committed value, then a click): the older result is
    dropped; other sessions are independent; the registry stays bounded."""
    newest = Newest(keep=3)
    a, b = SimpleNamespace(session_hash="a"), SimpleNamespace(session_hash="b")
    first, other = newest.start(a), newest.start(b)
    second = newest.start(a)
    assert not newest.is_newest(first) and newest.is_newest(second) and newest.is_newest(other)
    for name in "cde":
        newest.start(SimpleNamespace(session_hash=name))
    assert newest.is_newest(second)  # a forgotten session's render is shown (nothing newer is known)
