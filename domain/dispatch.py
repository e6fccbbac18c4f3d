"""Dispatch on an event's type: the one idiom.

A handler method is marked `@handles(EventClass, ...)`; `handler_table(cls)` maps each handled
event's topic to the method's name (exact types, over the class and its bases), so a class
looks a handler up by the topic of a stored event or of a domain event (`topic_of`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eventsourcing.utils import get_topic


def handles(*event_classes: type) -> Any:
    """Mark a method as the handler of these event classes (exact types)."""

    def mark(method: Any) -> Any:
        method.handles_events = event_classes
        return method

    return mark


def handler_table(cls: type) -> dict[str, str]:
    """{event topic: name of the method that handles it} for `cls` (a subclass's handler wins)."""
    return {
        get_topic(event_class): attribute
        for klass in reversed(cls.__mro__)
        for attribute, member in vars(klass).items()
        for event_class in getattr(member, "handles_events", ())
    }


@lru_cache(maxsize=256)
def topic_of(event_class: type) -> str:
    return get_topic(event_class)


def topic_name(topic: str) -> str:
    """The event class's name in a topic ('domain.events:BindingStarted' -> 'BindingStarted')."""
    return topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
