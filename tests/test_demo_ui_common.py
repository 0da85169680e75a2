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


def test_renders_are_ordered_as_the_page_asked_for_them():
    """A render asked for earlier (stamp 1: the values before a change) that starts on the server after a later
    one (stamp 2) is not shown: the later one's result stands (issue 37: a render lost after a settings change
    and a click under load)."""
    newest = Newest()
    page = SimpleNamespace(session_hash="p")
    later = newest.start(page, stamp=2)
    earlier = newest.start(page, stamp=1)  # reached the queue last
    assert newest.is_newest(later) and not newest.is_newest(earlier)
    api = newest.start(page)  # no stamp: counts from when it starts, after the page's latest
    assert newest.is_newest(api) and not newest.is_newest(later)
    assert newest.is_newest(newest.start(page, stamp=3))
