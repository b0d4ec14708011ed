"""The topic table says who produces and who consumes each topic; it must be true to the code, so
"who handles X" has one answer and the generated AsyncAPI document can be trusted.

Consumers come from the services' declared subscribers (contracts.subscribers), and the gateway's
answer to a dial; producers from where each service's code builds an event (an event is built to be
published)."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

from contracts.registry import EVENT_TYPES, TOPICS
from contracts.subscribers import DECLARED

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "gateway": "services/gateway/src/gateway",
    "call-router": "services/call-router/src/call_router",
    "agent-worker": "services/agent-worker/src/agent_worker",
    "sentiment": "services/sentiment/src/sentiment",
    "analytics": "services/analytics/src/analytics",
    "postprocess": "services/postprocess/src/postprocess",
}
# The modules that declare each service's subscribers (importing them registers the declarations).
SUBSCRIBER_MODULES = ("call_router.app", "agent_worker.app", "agent_worker.rooms", "sentiment.app", "analytics.app",
                      "postprocess.app")


def declared_consumers() -> dict[str, set[str]]:
    for module in SUBSCRIBER_MODULES:
        importlib.import_module(module)
    from analytics.counters import TRIGGERS
    from call_router.app import LISTENED
    from gateway.routes.dialer import DIAL_ANSWERS

    consumers: dict[str, set[str]] = defaultdict(set)
    for subscriber in DECLARED:
        for event in subscriber.handled:
            consumers[event.topic].add(subscriber.service)
    for service, listened in (("gateway", DIAL_ANSWERS), ("analytics", TRIGGERS), ("call-router", LISTENED)):
        for event in listened:
            consumers[event.topic].add(service)
    return consumers


def built_events(package: Path) -> set[str]:
    names = {event.__name__ for event in EVENT_TYPES.values()}
    built: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
                built.add(node.func.id)
    return built


def test_the_topic_tables_consumers_are_the_declared_subscribers() -> None:
    consumers = declared_consumers()
    table = {topic.name: set(topic.consumers) for topic in TOPICS}
    assert table == {topic.name: consumers.get(topic.name, set()) for topic in TOPICS}


def test_the_topic_tables_producers_are_the_services_that_build_its_events() -> None:
    producers: dict[str, set[str]] = defaultdict(set)
    for service, package in SERVICES.items():
        for name in built_events(ROOT / package):
            producers[next(t.name for t in TOPICS if any(e.__name__ == name for e in t.events))].add(service)
    table = {topic.name: set(topic.producers) for topic in TOPICS}
    assert table == {topic.name: producers.get(topic.name, set()) for topic in TOPICS}
