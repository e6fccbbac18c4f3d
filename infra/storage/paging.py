"""Reading the event log: the one paging loop.

The log is read in bounded pages in global order (notification id = position); a page shorter
than the page size is the last. Memory holds one page at a time, whatever the history's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from eventsourcing.persistence import Notification

T = TypeVar("T")

PAGE_SIZE = 500


def pages(
    fetch: Callable[[int], Sequence[T]], position: Callable[[T], int], after: int = 0, page_size: int = PAGE_SIZE
) -> Iterator[Sequence[T]]:
    """Every page of rows after `after`: `fetch(after)` returns the next page (at most
    `page_size` rows), `position(row)` is where the next page starts. Empty pages are not yielded."""
    while True:
        page = fetch(after)
        if page:
            yield page
        if len(page) < page_size:
            return
        after = position(page[-1])


def paged(
    fetch: Callable[[int], Sequence[T]], position: Callable[[T], int], after: int = 0, page_size: int = PAGE_SIZE
) -> Iterator[T]:
    """Every row of `pages(...)`, one by one."""
    for page in pages(fetch, position, after, page_size):
        yield from page


def notification_id(notification: Notification) -> int:
    return notification.id
