"""Benchmark flag evaluation: Cadence's rollout engine against the Unleash Python SDK.

Both engines evaluate the same state, shaped like a compiled phased-rollout plan, for
the same contexts. The script prints microseconds per evaluation for each, their
ratio, and on how many evaluations the two agree. The official SDK is bootstrapped
from a dict and never initialised, so it fetches nothing, and an audit hook counts
the socket connections attempted through Python's ``socket`` module.

Run from the repository root:

    .venv/bin/python bench/flag_eval.py

It needs the ``bench`` extra (UnleashClient).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from UnleashClient import UnleashClient
from UnleashClient.cache import FileCache

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.rollout.engine import Engine  # noqa: E402

TEAMS = [f"team-{number:02d}" for number in range(12)]
PILOT_TEAMS = TEAMS[:3]
SECOND_WAVE_TEAMS = TEAMS[3:8]
TOGGLE_COUNT = 20
PAST_START = "2025-01-15T09:00:00Z"
SECOND_WAVE_START = "2025-03-01T09:00:00Z"
FUTURE_START = "2099-01-01T00:00:00Z"

Evaluate = Callable[[str, dict[str, Any]], bool]

connection_attempts = 0


def count_connections(event: str, args: tuple[Any, ...]) -> None:
    global connection_attempts
    if event == "socket.connect":
        connection_attempts += 1


def team_in(teams: list[str]) -> dict[str, Any]:
    return {"contextName": "team", "operator": "IN", "values": teams}


def starts_after(moment: str) -> dict[str, Any]:
    return {"contextName": "currentTime", "operator": "DATE_AFTER", "value": moment}


def phase(rollout: int, group_id: str, *constraints: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "parameters": {
            "rollout": str(rollout),
            "stickiness": "userId",
            "groupId": group_id,
        },
        "constraints": list(constraints),
    }


def build_state() -> dict[str, Any]:
    """Build 20 toggles, each with three phases: pilot, second wave, everyone.

    Odd-numbered toggles open to everyone in 2099, so that phase never matches.
    """
    features = []
    for number in range(TOGGLE_COUNT):
        name = f"collections.feature-{number:02d}"
        everyone_start = FUTURE_START if number % 2 else SECOND_WAVE_START
        strategies = [
            phase(100, name, team_in(PILOT_TEAMS), starts_after(PAST_START)),
            phase(
                10 + 4 * number,
                name,
                team_in(SECOND_WAVE_TEAMS),
                starts_after(SECOND_WAVE_START),
            ),
            phase(5 + number, name, starts_after(everyone_start)),
        ]
        features.append(
            {"name": name, "enabled": True, "strategies": strategies, "project": "ar"}
        )
    return {"version": 2, "features": features, "segments": []}


def build_contexts(count: int, seed: int) -> list[dict[str, Any]]:
    """Build user contexts.

    Every tenth context sets currentTime, and the others are evaluated at the current
    time.
    """
    generator = random.Random(seed)
    contexts = []
    for number in range(count):
        context: dict[str, Any] = {
            "userId": f"user-{number:05d}",
            "sessionId": f"session-{generator.getrandbits(32):08x}",
            "environment": "production",
            "appName": "cadence",
            "properties": {"team": generator.choice(TEAMS)},
        }
        if number % 10 == 0:
            context["currentTime"] = "2025-02-01T12:00:00Z"
        contexts.append(context)
    return contexts


def run_all(
    evaluate: Evaluate, names: Sequence[str], contexts: Sequence[dict[str, Any]]
) -> list[bool]:
    return [evaluate(name, context) for context in contexts for name in names]


def time_best(
    evaluate: Evaluate,
    names: Sequence[str],
    contexts: Sequence[dict[str, Any]],
    repeat: int,
) -> tuple[float, list[bool]]:
    """Return the fastest of ``repeat`` full passes in seconds, and its results."""
    best = float("inf")
    results: list[bool] = []
    for _ in range(repeat):
        started = time.perf_counter()
        results = run_all(evaluate, names, contexts)
        best = min(best, time.perf_counter() - started)
    return best, results


def make_unleash_client(state: dict[str, Any], cache_dir: str) -> UnleashClient:
    """Create an UnleashClient that evaluates ``state`` without any server.

    The loopback URL is never contacted: a bootstrapped client loads its cache in
    the constructor, and ``initialize_client``, which starts fetching, is not called.
    """
    cache = FileCache("cadence-bench", directory=cache_dir)
    cache.bootstrap_from_dict(state)
    return UnleashClient(
        url="http://127.0.0.1:9/api",
        app_name="cadence",
        environment="production",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--contexts",
        type=int,
        default=10_000,
        help="number of contexts (default 10000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed passes per engine, of which the fastest counts (default 3)",
    )
    parser.add_argument(
        "--seed", type=int, default=20250301, help="seed of the random contexts"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    sys.addaudithook(count_connections)
    logging.basicConfig(level=logging.WARNING)

    state = build_state()
    names = [feature["name"] for feature in state["features"]]
    contexts = build_contexts(arguments.contexts, arguments.seed)
    evaluations = len(names) * len(contexts)

    engine = Engine(state)
    ours_seconds, ours = time_best(engine.is_enabled, names, contexts, arguments.repeat)

    with tempfile.TemporaryDirectory(prefix="cadence-bench-") as cache_dir:
        # destroy() is not called: it only stops a scheduler that never started,
        # and it logs a warning saying so.
        client = make_unleash_client(state, cache_dir)
        sdk_seconds, theirs = time_best(
            client.is_enabled, names, contexts, arguments.repeat
        )

    agreement = sum(
        mine == official for mine, official in zip(ours, theirs, strict=True)
    )
    ours_micros = ours_seconds / evaluations * 1e6
    sdk_micros = sdk_seconds / evaluations * 1e6

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}")
    print(
        f"python: {platform.python_version()}, UnleashClient {version('UnleashClient')}"
    )
    print(
        f"state: {len(names)} toggles x 3 flexibleRollout phases; "
        f"contexts: {len(contexts)}; evaluations per pass: {evaluations}; "
        f"best of {arguments.repeat} passes"
    )
    print(f"enabled results: {sum(ours)} of {evaluations}")
    print(f"cadence engine: {ours_micros:.2f} us per evaluation")
    print(f"UnleashClient:  {sdk_micros:.2f} us per evaluation")
    print(f"ratio (cadence / UnleashClient): {ours_micros / sdk_micros:.3f}")
    print(f"agreement: {agreement} of {evaluations}")
    print(f"socket connections attempted: {connection_attempts}")
    return 0 if agreement == evaluations and connection_attempts == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
