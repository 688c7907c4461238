"""Exact-result tests of the Unleash-compatible evaluation engine.

Expected buckets come from MurmurHash3 x86 32-bit, so each one is a fixed number for
its group and identifier.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.rollout.engine import (
    VARIANT_HASH_SEED,
    Engine,
    normalized_hash,
    semver_key,
)


def feature(
    strategies: list[dict[str, Any]], name: str = "flag", **fields: Any
) -> dict[str, Any]:
    return {"name": name, "enabled": True, "strategies": strategies, **fields}


def engine_with(
    *features: dict[str, Any],
    segments: list[dict[str, Any]] | None = None,
    hostname: str = "test-host",
) -> Engine:
    state = {"version": 2, "features": list(features), "segments": segments or []}
    return Engine(state, hostname=hostname)


def single_strategy(strategy: dict[str, Any], hostname: str = "test-host") -> Engine:
    return engine_with(feature([strategy]), hostname=hostname)


def single_constraint(constraint: dict[str, Any]) -> Engine:
    return single_strategy({"name": "default", "constraints": [constraint]})


# --- Bucketing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group_id", "identifier", "modulus", "seed", "expected"),
    [
        # The Node SDK's tests state these two values are the same across the
        # Node, Java and Go clients.
        ("gr1", "123", 100, 0, 73),
        ("groupX", "999", 100, 0, 25),
        ("rollout-g", "alice", 100, 0, 56),
        ("rollout-g", "bob", 100, 0, 36),
        ("flag", "alice", 100, 0, 18),
        ("gr1", "123", 1000, VARIANT_HASH_SEED, 796),
        ("flag", "carol", 1000, VARIANT_HASH_SEED, 297),
    ],
)
def test_normalized_hash_values(
    group_id: str, identifier: str, modulus: int, seed: int, expected: int
) -> None:
    assert normalized_hash(group_id, identifier, modulus, seed) == expected


def test_normalized_hash_defaults() -> None:
    assert normalized_hash("gr1", "123") == 73


# --- Strategies --------------------------------------------------------------------

FLEXIBLE_50 = {"rollout": "50", "stickiness": "default", "groupId": "rollout-g"}


@pytest.mark.parametrize(
    ("strategy", "context", "expected"),
    [
        ({"name": "default"}, {}, True),
        (
            {"name": "userWithId", "parameters": {"userIds": "123, 222, 88"}},
            {"userId": "222"},
            True,
        ),
        (
            {"name": "userWithId", "parameters": {"userIds": "123, 222, 88"}},
            {"userId": "22"},
            False,
        ),
        (
            {"name": "userWithId", "parameters": {"userIds": "123, 222, 88"}},
            {"userId": 88},
            True,
        ),
        ({"name": "userWithId", "parameters": {"userIds": "123, 222, 88"}}, {}, False),
        (
            {"name": "userWithId", "parameters": {"userIds": "123"}},
            {"properties": {"userId": "123"}},
            True,
        ),
        (
            {
                "name": "gradualRolloutUserId",
                "parameters": {"percentage": "50", "groupId": "AB12A"},
            },
            {"userId": "122"},
            True,
        ),
        (
            {
                "name": "gradualRolloutUserId",
                "parameters": {"percentage": "50", "groupId": "AB12A"},
            },
            {"userId": "155"},
            False,
        ),
        (
            {
                "name": "gradualRolloutUserId",
                "parameters": {"percentage": "100", "groupId": "AB12A"},
            },
            {},
            False,
        ),
        (
            {
                "name": "gradualRolloutUserId",
                "parameters": {"percentage": "0", "groupId": "AB12A"},
            },
            {"userId": "122"},
            False,
        ),
        (
            {"name": "gradualRolloutUserId", "parameters": {"percentage": "100"}},
            {"userId": "122"},
            False,
        ),
        (
            {
                "name": "gradualRolloutSessionId",
                "parameters": {"percentage": "47", "groupId": "g"},
            },
            {"sessionId": "s4"},
            True,
        ),
        (
            {
                "name": "gradualRolloutSessionId",
                "parameters": {"percentage": "47", "groupId": "g"},
            },
            {"sessionId": "s1"},
            False,
        ),
        (
            {
                "name": "gradualRolloutSessionId",
                "parameters": {"percentage": "100", "groupId": "g"},
            },
            {"userId": "u1"},
            False,
        ),
        (
            {"name": "gradualRolloutRandom", "parameters": {"percentage": "0"}},
            {"userId": "u1"},
            False,
        ),
        (
            {"name": "gradualRolloutRandom", "parameters": {"percentage": "100"}},
            {},
            True,
        ),
        (
            {"name": "flexibleRollout", "parameters": FLEXIBLE_50},
            {"userId": "bob"},
            True,
        ),
        (
            {"name": "flexibleRollout", "parameters": FLEXIBLE_50},
            {"userId": "alice"},
            False,
        ),
        (
            {"name": "flexibleRollout", "parameters": FLEXIBLE_50},
            {"sessionId": "bob"},
            True,
        ),
        (
            {"name": "flexibleRollout", "parameters": FLEXIBLE_50},
            {"userId": "alice", "sessionId": "bob"},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "rollout": "100"},
            },
            {},
            True,
        ),
        (
            {"name": "flexibleRollout", "parameters": {**FLEXIBLE_50, "rollout": "0"}},
            {"userId": "bob"},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "rollout": "12.5"},
            },
            {"userId": "erin"},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "rollout": "abc"},
            },
            {"userId": "erin"},
            False,
        ),
        (
            {"name": "flexibleRollout", "parameters": {**FLEXIBLE_50, "rollout": 50}},
            {"userId": "bob"},
            True,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "stickiness": "userId"},
            },
            {"sessionId": "bob"},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "stickiness": "userId"},
            },
            {"userId": "bob"},
            True,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "stickiness": "sessionId"},
            },
            {"userId": "bob", "sessionId": "alice"},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "stickiness": "sessionId"},
            },
            {"sessionId": "bob"},
            True,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {**FLEXIBLE_50, "stickiness": "random", "rollout": "100"},
            },
            {},
            True,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "50", "stickiness": "team"},
            },
            {"properties": {"team": "finance"}},
            True,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "50", "stickiness": "team"},
            },
            {"properties": {"team": "ops"}},
            False,
        ),
        (
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "team"},
            },
            {"userId": "bob"},
            False,
        ),
        # Without a groupId the feature name is the group: alice is in bucket 18 of
        # "flag" and in bucket 56 of "rollout-g".
        (
            {"name": "flexibleRollout", "parameters": {"rollout": "50"}},
            {"userId": "alice"},
            True,
        ),
        (
            {"name": "flexibleRollout", "parameters": {"rollout": "50"}},
            {"userId": "carol"},
            False,
        ),
        ({"name": "flexibleRollout"}, {"userId": "alice"}, False),
        (
            {"name": "someCustomStrategy", "parameters": {"x": "1"}},
            {"userId": "alice"},
            False,
        ),
    ],
)
def test_strategy_results(
    strategy: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    engine = single_strategy(strategy)

    assert engine.is_enabled("flag", context) is expected


REMOTE_IPS = {"IPs": "10.0.0.1, 192.168.0.0/16, 2001:db8::/32, ::1, not-an-ip"}


@pytest.mark.parametrize(
    ("remote_address", "expected"),
    [
        ("10.0.0.1", True),
        ("10.0.0.2", False),
        ("192.168.44.5", True),
        ("192.169.0.1", False),
        ("2001:db8::ff", True),
        ("2001:0db8:0000::0001", True),
        ("2001:db9::1", False),
        ("::1", True),
        ("::ffff:10.0.0.1", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_remote_address_ranges(remote_address: str | None, expected: bool) -> None:
    engine = single_strategy({"name": "remoteAddress", "parameters": REMOTE_IPS})
    context = {} if remote_address is None else {"remoteAddress": remote_address}

    assert engine.is_enabled("flag", context) is expected


@pytest.mark.parametrize(
    ("machine_hostname", "context", "expected"),
    [
        ("test-host", {"properties": {"hostname": "WEB-1"}}, True),
        ("test-host", {"properties": {"hostname": "web-3"}}, False),
        ("Worker-2", {}, True),
        ("db-1", {}, False),
        ("worker-2", {"properties": {"hostname": "db-1"}}, False),
    ],
)
def test_application_hostname(
    machine_hostname: str, context: dict[str, Any], expected: bool
) -> None:
    strategy = {
        "name": "applicationHostname",
        "parameters": {"hostNames": "Web-1, worker-2"},
    }
    engine = single_strategy(strategy, hostname=machine_hostname)

    assert engine.is_enabled("flag", context) is expected


def test_unknown_strategy_then_default() -> None:
    engine = engine_with(feature([{"name": "someCustomStrategy"}, {"name": "default"}]))

    assert engine.is_enabled("flag", {}) is True


@pytest.mark.parametrize(
    ("strategies", "context", "expected"),
    [
        ([{"name": "default", "disabled": True}], {}, False),
        (
            [
                {"name": "default", "disabled": True},
                {"name": "userWithId", "parameters": {"userIds": "1"}},
            ],
            {"userId": "1"},
            True,
        ),
        (
            [
                {"name": "default", "disabled": True},
                {"name": "userWithId", "parameters": {"userIds": "1"}},
            ],
            {"userId": "2"},
            False,
        ),
        ([{"name": "default", "disabled": False}], {}, True),
    ],
)
def test_disabled_strategy_skipped(
    strategies: list[dict[str, Any]], context: dict[str, Any], expected: bool
) -> None:
    engine = engine_with(feature(strategies))

    assert engine.is_enabled("flag", context) is expected


# --- Features ----------------------------------------------------------------------


def test_disabled_feature_off() -> None:
    engine = engine_with(feature([{"name": "default"}], enabled=False))

    assert engine.is_enabled("flag", {}) is False


def test_feature_without_strategies_on() -> None:
    engine = engine_with(feature([]))

    assert engine.is_enabled("flag", {}) is True


def test_unknown_toggle_uses_fallback() -> None:
    engine = engine_with(feature([{"name": "default"}]))

    assert engine.is_enabled("missing", {}) is False
    assert engine.is_enabled("missing", {}, fallback=True) is True
    assert engine.is_enabled("flag", {}, fallback=False) is True


def test_feature_names_listed() -> None:
    engine = engine_with(feature([], name="a"), feature([], name="b"))

    assert engine.feature_names == ["a", "b"]


def test_feature_without_name_rejected() -> None:
    state = {"version": 2, "features": [{"name": "a"}, {"enabled": True}]}

    with pytest.raises(ValueError, match="feature at index 1 has no name"):
        Engine(state)


# --- Constraint operators ----------------------------------------------------------


def on_team(operator: str, values: list[str], **flags: Any) -> dict[str, Any]:
    return {"contextName": "team", "operator": operator, "values": values, **flags}


def on_value(field: str, operator: str, value: str, **flags: Any) -> dict[str, Any]:
    return {"contextName": field, "operator": operator, "value": value, **flags}


def team_context(value: Any) -> dict[str, Any]:
    return {"properties": {"team": value}}


def property_context(name: str, value: Any) -> dict[str, Any]:
    return {"properties": {name: value}}


@pytest.mark.parametrize(
    ("constraint", "context", "expected"),
    [
        (on_team("IN", ["ops", "sales"]), team_context("ops"), True),
        (on_team("IN", ["ops", "sales"]), team_context("finance"), False),
        (on_team("IN", ["ops", "sales"]), team_context("OPS"), False),
        (
            on_team("IN", ["ops", "sales"], caseInsensitive=True),
            team_context("OPS"),
            False,
        ),
        (on_team("IN", ["ops"]), {}, False),
        (on_team("IN", ["ops"]), team_context(None), False),
        (on_team("IN", ["ops"]), {"team": "ops"}, True),
        (on_team("IN", ["ops"], inverted=True), team_context("ops"), False),
        (on_team("IN", ["ops"], inverted=True), {}, True),
        (on_team("IN", []), team_context("ops"), False),
        (on_team("IN", ["7"]), team_context(7), True),
        (on_team("NOT_IN", ["ops"]), team_context("ops"), False),
        (on_team("NOT_IN", ["ops"]), team_context("sales"), True),
        (on_team("NOT_IN", ["ops"]), {}, True),
        (on_team("NOT_IN", ["ops"], inverted=True), {}, False),
        (on_team("NOT_IN", ["ops"], inverted=True), team_context("ops"), True),
        (on_team("NOT_IN", []), team_context("ops"), True),
        (
            on_team("STR_CONTAINS", ["pay", "bill"]),
            team_context("accounts-payable"),
            True,
        ),
        (on_team("STR_CONTAINS", ["pay"]), team_context("ACCOUNTS-PAYABLE"), False),
        (
            on_team("STR_CONTAINS", ["pay"], caseInsensitive=True),
            team_context("ACCOUNTS-PAYABLE"),
            True,
        ),
        (
            on_team("STR_CONTAINS", ["pay"], inverted=True),
            team_context("treasury"),
            True,
        ),
        (on_team("STR_CONTAINS", ["pay"]), {}, False),
        (on_team("STR_CONTAINS", ["pay"], inverted=True), {}, True),
        (on_team("STR_STARTS_WITH", ["ar-", "ap-"]), team_context("ap-east"), True),
        (on_team("STR_STARTS_WITH", ["ar-"]), team_context("east-ar-"), False),
        (
            on_team("STR_STARTS_WITH", ["AR-"], caseInsensitive=True),
            team_context("ar-west"),
            True,
        ),
        (on_team("STR_ENDS_WITH", ["-eu"]), team_context("ar-eu"), True),
        (on_team("STR_ENDS_WITH", ["-eu"]), team_context("ar-EU"), False),
        (
            on_team("STR_ENDS_WITH", ["-eu"], caseInsensitive=True),
            team_context("ar-EU"),
            True,
        ),
        (
            on_team("STR_ENDS_WITH", ["-eu"], inverted=True, caseInsensitive=True),
            team_context("ar-EU"),
            False,
        ),
        (on_value("score", "NUM_EQ", "12"), property_context("score", "12.0"), True),
        (on_value("score", "NUM_EQ", "12.0"), property_context("score", "12"), True),
        (on_value("score", "NUM_EQ", "12"), property_context("score", 12), True),
        (on_value("score", "NUM_EQ", "12"), property_context("score", "13"), False),
        (
            on_value("score", "NUM_EQ", "12", inverted=True),
            property_context("score", "13"),
            True,
        ),
        (on_value("score", "NUM_GT", "12"), property_context("score", "12.5"), True),
        (on_value("score", "NUM_GT", "12"), property_context("score", "12"), False),
        (on_value("score", "NUM_GTE", "12"), property_context("score", "12"), True),
        (on_value("score", "NUM_GTE", "12"), property_context("score", "11.99"), False),
        (on_value("score", "NUM_LT", "12"), property_context("score", "-3"), True),
        (on_value("score", "NUM_LT", "12"), property_context("score", "12"), False),
        (on_value("score", "NUM_LTE", "12"), property_context("score", "12"), True),
        (on_value("score", "NUM_LTE", "12"), property_context("score", "1e2"), False),
        (on_value("score", "NUM_GT", "12"), property_context("score", "abc"), False),
        (
            on_value("score", "NUM_GT", "12", inverted=True),
            property_context("score", "abc"),
            True,
        ),
        (on_value("score", "NUM_GT", "1"), property_context("score", " 2"), False),
        (on_value("score", "NUM_GT", "1"), property_context("score", "1_000"), False),
        (on_value("score", "NUM_GT", "1"), {}, False),
        (on_value("score", "NUM_GT", "abc"), property_context("score", "5"), False),
        (
            on_value("score", "NUM_GT", "abc", inverted=True),
            property_context("score", "5"),
            False,
        ),
        (
            on_value("due", "DATE_AFTER", "2024-05-01T00:00:00Z"),
            property_context("due", "2024-05-01T00:00:01Z"),
            True,
        ),
        (
            on_value("due", "DATE_AFTER", "2024-05-01T00:00:00Z"),
            property_context("due", "2024-05-01T00:00:00.000Z"),
            False,
        ),
        (
            on_value("due", "DATE_AFTER", "2024-05-01T00:00:00Z"),
            property_context("due", "2024-05-01T01:30:00+02:00"),
            False,
        ),
        (
            on_value("due", "DATE_AFTER", "2024-05-01T00:00:00Z"),
            property_context("due", "not a date"),
            False,
        ),
        (
            on_value("due", "DATE_AFTER", "2024-05-01T00:00:00Z", inverted=True),
            property_context("due", "not a date"),
            True,
        ),
        (
            on_value("due", "DATE_BEFORE", "2024-05-01T00:00:00Z"),
            property_context("due", "2024-04-30T23:59:59Z"),
            True,
        ),
        (
            on_value("due", "DATE_BEFORE", "2024-05-01T00:00:00Z"),
            property_context("due", "2024-05-01T00:00:00Z"),
            False,
        ),
        (on_value("due", "DATE_BEFORE", "2024-05-01T00:00:00Z"), {}, False),
        (
            on_value("due", "DATE_BEFORE", "yesterday"),
            property_context("due", "2024-04-30T23:59:59Z"),
            False,
        ),
        (
            on_value("version", "SEMVER_EQ", "1.2.3"),
            property_context("version", "1.2.3"),
            True,
        ),
        (
            on_value("version", "SEMVER_EQ", "1.2.3"),
            property_context("version", "1.2.3+build.7"),
            True,
        ),
        (
            on_value("version", "SEMVER_EQ", "1.2.3"),
            property_context("version", "1.2.3-rc.1"),
            False,
        ),
        (
            on_value("version", "SEMVER_EQ", "1.2.3"),
            property_context("version", "v1.2.3"),
            False,
        ),
        (
            on_value("version", "SEMVER_GT", "1.2.3"),
            property_context("version", "1.10.0"),
            True,
        ),
        (
            on_value("version", "SEMVER_GT", "1.0.0-alpha"),
            property_context("version", "1.0.0-alpha.1"),
            True,
        ),
        (
            on_value("version", "SEMVER_GT", "1.0.0-alpha.beta"),
            property_context("version", "1.0.0-alpha.1"),
            False,
        ),
        (
            on_value("version", "SEMVER_GT", "1.0.0-rc.1"),
            property_context("version", "1.0.0"),
            True,
        ),
        (
            on_value("version", "SEMVER_LT", "1.0.0"),
            property_context("version", "1.0.0-rc.1"),
            True,
        ),
        (
            on_value("version", "SEMVER_LT", "1.0.0"),
            property_context("version", "1.0"),
            False,
        ),
        (
            on_value("version", "SEMVER_LT", "1.0.0", inverted=True),
            property_context("version", "1.0"),
            True,
        ),
        (
            on_value("version", "SEMVER_LT", "1.0"),
            property_context("version", "0.1.0"),
            False,
        ),
        (
            on_value("version", "SEMVER_LT", "v1.0.0", inverted=True),
            property_context("version", "0.1.0"),
            False,
        ),
        (on_team("in", ["ops"]), team_context("ops"), False),
        (
            on_team("NOT_A_VALID_OPERATOR", ["ops"], inverted=True),
            team_context("ops"),
            False,
        ),
        (
            {"contextName": "userId", "operator": "IN", "values": ["u1"]},
            {"userId": "u1"},
            True,
        ),
        (
            {"contextName": "userId", "operator": "IN", "values": ["u1"]},
            {"userId": "u2", "properties": {"userId": "u1"}},
            False,
        ),
        (
            {"contextName": "environment", "operator": "IN", "values": ["production"]},
            {"environment": "production"},
            True,
        ),
        (
            {"contextName": "appName", "operator": "NOT_IN", "values": ["cadence"]},
            {"appName": "cadence"},
            False,
        ),
        (
            {
                "contextName": "remoteAddress",
                "operator": "STR_STARTS_WITH",
                "values": ["10."],
            },
            {"remoteAddress": "10.1.2.3"},
            True,
        ),
        (
            {"contextName": "sessionId", "operator": "IN", "values": ["s1"]},
            {"sessionId": "s1"},
            True,
        ),
    ],
)
def test_constraint_operators(
    constraint: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    engine = single_constraint(constraint)

    assert engine.is_enabled("flag", context) is expected


def test_constraints_all_must_pass() -> None:
    constraints = [
        on_team("IN", ["ops", "sales"]),
        on_value("score", "NUM_GTE", "10"),
    ]
    engine = single_strategy({"name": "default", "constraints": constraints})

    assert engine.is_enabled("flag", {"properties": {"team": "ops", "score": "10"}})
    assert not engine.is_enabled("flag", {"properties": {"team": "ops", "score": "9"}})
    assert not engine.is_enabled("flag", {"properties": {"team": "hr", "score": "10"}})


# --- currentTime -------------------------------------------------------------------

AFTER_MAY = on_value("currentTime", "DATE_AFTER", "2024-05-01T00:00:00Z")
BEFORE_MAY = on_value("currentTime", "DATE_BEFORE", "2024-05-01T00:00:00Z")
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("constraint", "current_time", "expected"),
    [
        (AFTER_MAY, "2024-05-01T00:00:01Z", True),
        (AFTER_MAY, "2024-05-01T00:00:00.000Z", False),
        (AFTER_MAY, "2024-05-01T02:00:01+02:00", True),
        (AFTER_MAY, "2024-05-01T00:00:01", True),
        (AFTER_MAY, "garbage", False),
        (AFTER_MAY, datetime(2024, 5, 1, 0, 0, 1, tzinfo=UTC), True),
        (AFTER_MAY, datetime(2024, 5, 1, 0, 0, 0, tzinfo=UTC), False),
        (AFTER_MAY, datetime(2024, 5, 1, 1, 0, 0, tzinfo=PLUS_TWO), False),
        (AFTER_MAY, datetime(2024, 5, 1, 0, 0, 1), True),
        (BEFORE_MAY, "2024-04-30T23:59:59Z", True),
        (BEFORE_MAY, datetime(2024, 4, 30, 23, 59, 59, tzinfo=UTC), True),
        (BEFORE_MAY, datetime(2024, 5, 1, 1, 59, 59, tzinfo=PLUS_TWO), True),
        (BEFORE_MAY, "2024-05-01T00:00:00Z", False),
        ({**AFTER_MAY, "inverted": True}, "2024-04-01T00:00:00Z", True),
        ({**AFTER_MAY, "inverted": True}, "garbage", True),
    ],
)
def test_current_time_forms(
    constraint: dict[str, Any], current_time: Any, expected: bool
) -> None:
    engine = single_constraint(constraint)

    assert engine.is_enabled("flag", {"currentTime": current_time}) is expected


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (on_value("currentTime", "DATE_AFTER", "2000-01-01T00:00:00Z"), True),
        (on_value("currentTime", "DATE_BEFORE", "2000-01-01T00:00:00Z"), False),
        (on_value("currentTime", "DATE_AFTER", "2999-01-01T00:00:00Z"), False),
        (on_value("currentTime", "DATE_BEFORE", "2999-01-01T00:00:00Z"), True),
        (
            {
                "contextName": "currentTime",
                "operator": "STR_STARTS_WITH",
                "values": ["2"],
            },
            True,
        ),
    ],
)
def test_current_time_defaults_now(constraint: dict[str, Any], expected: bool) -> None:
    engine = single_constraint(constraint)

    assert engine.is_enabled("flag", {}) is expected


def test_current_time_from_properties() -> None:
    engine = single_constraint(AFTER_MAY)
    context = {"properties": {"currentTime": "2024-04-01T00:00:00Z"}}

    assert engine.is_enabled("flag", context) is False


# --- Semantic versions -------------------------------------------------------------

# The precedence example of the SemVer 2.0.0 specification, lowest first.
SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "2.0.0-0",
    "2.0.0",
]


def test_semver_precedence_order() -> None:
    keys = [semver_key(version) for version in SEMVER_ORDER]

    assert None not in keys
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1.0.0+build.1", "1.0.0"),
        ("1.0.0-rc.1+build.5", "1.0.0-rc.1"),
        ("1.0.0+a", "1.0.0+b"),
    ],
)
def test_semver_build_metadata_ignored(left: str, right: str) -> None:
    assert semver_key(left) == semver_key(right)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.0",
        "1.0.0.0",
        "v1.0.0",
        "01.0.0",
        "1.00.0",
        "1.0.0-",
        "1.0.0-01",
        "1.0.0-alpha..1",
        "1.0.0-alpha_1",
        "1.0.0+",
        "1.0.0+build..1",
        "1.0.x",
        " 1.0.0",
        "1.0.0-é",
    ],
)
def test_semver_invalid_rejected(text: str) -> None:
    assert semver_key(text) is None


# --- Segments ----------------------------------------------------------------------

SEGMENTS = [
    {"id": 1, "name": "ops-team", "constraints": [on_team("IN", ["ops"])]},
    {
        "id": 2,
        "name": "big-invoices",
        "constraints": [on_value("amount", "NUM_GT", "1000")],
    },
]


@pytest.mark.parametrize(
    ("segment_ids", "properties", "expected"),
    [
        ([1], {"team": "ops"}, True),
        ([1], {"team": "finance"}, False),
        ([1, 2], {"team": "ops", "amount": "5000"}, True),
        ([1, 2], {"team": "ops", "amount": "50"}, False),
        (["2"], {"amount": "5000"}, True),
        ([99], {"team": "ops"}, False),
        ([1, 99], {"team": "ops"}, False),
    ],
)
def test_segment_constraints(
    segment_ids: list[Any], properties: dict[str, str], expected: bool
) -> None:
    strategy = {"name": "default", "segments": segment_ids}
    engine = engine_with(feature([strategy]), segments=SEGMENTS)

    assert engine.is_enabled("flag", {"properties": properties}) is expected


def test_segment_with_strategy_constraints() -> None:
    strategy = {
        "name": "default",
        "segments": [1],
        "constraints": [on_value("amount", "NUM_LT", "10")],
    }
    engine = engine_with(feature([strategy]), segments=SEGMENTS)

    assert engine.is_enabled("flag", {"properties": {"team": "ops", "amount": "5"}})
    assert not engine.is_enabled(
        "flag", {"properties": {"team": "ops", "amount": "50"}}
    )
    assert not engine.is_enabled("flag", {"properties": {"team": "hr", "amount": "5"}})


def test_unknown_segment_only_that_strategy() -> None:
    strategies = [
        {"name": "default", "segments": [99]},
        {"name": "userWithId", "parameters": {"userIds": "u1"}},
    ]
    engine = engine_with(feature(strategies), segments=SEGMENTS)

    assert engine.is_enabled("flag", {"userId": "u1"}) is True
    assert engine.is_enabled("flag", {"userId": "u2"}) is False


# --- Variants ----------------------------------------------------------------------

# Variant buckets of feature "flag" (seed 86028157, 1000 buckets): alice 144,
# u2 125, carol 297, bob 732.
FEATURE_VARIANTS = [
    {
        "name": "red",
        "weight": 200,
        "stickiness": "default",
        "payload": {"type": "string", "value": "R"},
    },
    {"name": "green", "weight": 300, "stickiness": "default"},
    {"name": "blue", "weight": 500, "stickiness": "default"},
]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"userId": "alice"},
            {
                "name": "red",
                "enabled": True,
                "feature_enabled": True,
                "payload": {"type": "string", "value": "R"},
            },
        ),
        (
            {"userId": "u2"},
            {
                "name": "red",
                "enabled": True,
                "feature_enabled": True,
                "payload": {"type": "string", "value": "R"},
            },
        ),
        (
            {"userId": "carol"},
            {"name": "green", "enabled": True, "feature_enabled": True},
        ),
        ({"userId": "bob"}, {"name": "blue", "enabled": True, "feature_enabled": True}),
        (
            {"sessionId": "carol"},
            {"name": "green", "enabled": True, "feature_enabled": True},
        ),
        (
            {"userId": "bob", "sessionId": "carol"},
            {"name": "blue", "enabled": True, "feature_enabled": True},
        ),
    ],
)
def test_feature_variant_by_stickiness(
    context: dict[str, Any], expected: dict[str, Any]
) -> None:
    engine = engine_with(feature([{"name": "default"}], variants=FEATURE_VARIANTS))

    assert engine.get_variant("flag", context) == expected


def test_variant_payload_copied() -> None:
    engine = engine_with(feature([{"name": "default"}], variants=FEATURE_VARIANTS))

    first = engine.get_variant("flag", {"userId": "alice"})
    first["payload"]["value"] = "changed"
    second = engine.get_variant("flag", {"userId": "alice"})

    assert second["payload"] == {"type": "string", "value": "R"}


def test_variant_custom_stickiness() -> None:
    variants = [
        {"name": "red", "weight": 200, "stickiness": "team"},
        {"name": "green", "weight": 300, "stickiness": "team"},
        {"name": "blue", "weight": 500, "stickiness": "team"},
    ]
    engine = engine_with(feature([{"name": "default"}], variants=variants))

    carol_team = engine.get_variant(
        "flag", {"userId": "x", "properties": {"team": "carol"}}
    )
    bob_team = engine.get_variant(
        "flag", {"userId": "x", "properties": {"team": "bob"}}
    )

    assert carol_team["name"] == "green"
    assert bob_team["name"] == "blue"


def test_variant_override_first_match() -> None:
    variants = [
        {
            "name": "red",
            "weight": 200,
            "overrides": [{"contextName": "userId", "values": ["bob"]}],
        },
        {
            "name": "green",
            "weight": 300,
            "overrides": [{"contextName": "team", "values": ["ops", "bob"]}],
        },
        {"name": "blue", "weight": 500},
    ]
    engine = engine_with(feature([{"name": "default"}], variants=variants))

    assert engine.get_variant("flag", {"userId": "bob"})["name"] == "red"
    assert (
        engine.get_variant("flag", {"userId": "alice", "properties": {"team": "ops"}})[
            "name"
        ]
        == "green"
    )
    # No override matches alice, so her bucket, 144 of 1000, selects red.
    assert engine.get_variant("flag", {"userId": "alice"})["name"] == "red"


@pytest.mark.parametrize(
    ("features", "name", "expected"),
    [
        (
            [feature([{"name": "default"}], enabled=False, variants=FEATURE_VARIANTS)],
            "flag",
            {"name": "disabled", "enabled": False, "feature_enabled": False},
        ),
        (
            [
                feature(
                    [{"name": "userWithId", "parameters": {"userIds": "x"}}],
                    variants=FEATURE_VARIANTS,
                )
            ],
            "flag",
            {"name": "disabled", "enabled": False, "feature_enabled": False},
        ),
        (
            [feature([{"name": "default"}])],
            "flag",
            {"name": "disabled", "enabled": False, "feature_enabled": True},
        ),
        (
            [feature([{"name": "default"}], variants=[{"name": "red", "weight": 0}])],
            "flag",
            {"name": "disabled", "enabled": False, "feature_enabled": True},
        ),
        (
            [feature([{"name": "default"}])],
            "missing",
            {"name": "disabled", "enabled": False, "feature_enabled": False},
        ),
        (
            [feature([], variants=FEATURE_VARIANTS)],
            "flag",
            {"name": "blue", "enabled": True, "feature_enabled": True},
        ),
    ],
)
def test_variant_disabled_cases(
    features: list[dict[str, Any]], name: str, expected: dict[str, Any]
) -> None:
    engine = engine_with(*features)

    assert engine.get_variant(name, {"userId": "bob"}) == expected


# Strategy variant buckets in group "strategy-g": frank 1, carol 392, dave 568,
# u1 1000.
STRATEGY_VARIANTS = [
    {
        "name": "one",
        "weight": 500,
        "stickiness": "sessionId",
        "overrides": [{"contextName": "userId", "values": ["u1"]}],
    },
    {"name": "two", "weight": 500, "stickiness": "sessionId"},
]


@pytest.mark.parametrize(
    ("context", "expected_name"),
    [
        ({"userId": "frank"}, "one"),
        ({"userId": "carol"}, "one"),
        ({"userId": "dave"}, "two"),
        ({"userId": "u1"}, "two"),
    ],
)
def test_strategy_variants_use_strategy(
    context: dict[str, Any], expected_name: str
) -> None:
    strategy = {
        "name": "flexibleRollout",
        "parameters": {
            "rollout": "100",
            "stickiness": "userId",
            "groupId": "strategy-g",
        },
        "variants": STRATEGY_VARIANTS,
    }
    engine = engine_with(feature([strategy], variants=FEATURE_VARIANTS))

    assert engine.get_variant("flag", context)["name"] == expected_name


def test_first_matching_strategy_picks_variants() -> None:
    strategies = [
        {"name": "userWithId", "parameters": {"userIds": "bob"}},
        {"name": "default", "variants": [{"name": "strategy-only", "weight": 1000}]},
    ]
    engine = engine_with(feature(strategies, variants=FEATURE_VARIANTS))

    assert engine.get_variant("flag", {"userId": "bob"})["name"] == "blue"
    assert engine.get_variant("flag", {"userId": "alice"})["name"] == "strategy-only"


# --- Dependencies ------------------------------------------------------------------


def child(*dependencies: dict[str, Any]) -> dict[str, Any]:
    return feature([{"name": "default"}], name="child", dependencies=list(dependencies))


# Variant buckets of feature "parent": bob 102 (red), carol 528 (blue).
PARENT_ON = feature([{"name": "default"}], name="parent", variants=FEATURE_VARIANTS)
PARENT_OFF = feature([{"name": "default"}], name="parent", enabled=False)
PARENT_FOR_BOB = feature(
    [{"name": "userWithId", "parameters": {"userIds": "bob"}}], name="parent"
)
OTHER_ON = feature([{"name": "default"}], name="other")


@pytest.mark.parametrize(
    ("features", "context", "expected"),
    [
        ([PARENT_ON, child({"feature": "parent"})], {}, True),
        ([PARENT_OFF, child({"feature": "parent"})], {}, False),
        ([PARENT_OFF, child({"feature": "parent", "enabled": False})], {}, True),
        ([PARENT_ON, child({"feature": "parent", "enabled": False})], {}, False),
        ([PARENT_FOR_BOB, child({"feature": "parent"})], {"userId": "bob"}, True),
        ([PARENT_FOR_BOB, child({"feature": "parent"})], {"userId": "alice"}, False),
        (
            [PARENT_FOR_BOB, child({"feature": "parent", "enabled": False})],
            {"userId": "alice"},
            True,
        ),
        (
            [PARENT_ON, child({"feature": "parent", "variants": ["blue"]})],
            {"userId": "carol"},
            True,
        ),
        (
            [PARENT_ON, child({"feature": "parent", "variants": ["red", "green"]})],
            {"userId": "carol"},
            False,
        ),
        (
            [PARENT_ON, child({"feature": "parent", "variants": ["red", "green"]})],
            {"userId": "bob"},
            True,
        ),
        (
            [PARENT_ON, child({"feature": "parent", "variants": []})],
            {"userId": "bob"},
            True,
        ),
        (
            [PARENT_FOR_BOB, child({"feature": "parent", "variants": ["disabled"]})],
            {"userId": "bob"},
            True,
        ),
        (
            [PARENT_FOR_BOB, child({"feature": "parent", "variants": ["disabled"]})],
            {"userId": "alice"},
            False,
        ),
        ([child({"feature": "parent"})], {}, False),
        ([child({"feature": "parent", "enabled": False})], {}, False),
        (
            [PARENT_ON, OTHER_ON, child({"feature": "parent"}, {"feature": "other"})],
            {},
            True,
        ),
        (
            [
                PARENT_ON,
                OTHER_ON,
                child({"feature": "parent"}, {"feature": "other", "enabled": False}),
            ],
            {},
            False,
        ),
    ],
)
def test_dependency_results(
    features: list[dict[str, Any]], context: dict[str, Any], expected: bool
) -> None:
    engine = engine_with(*features)

    assert engine.is_enabled("child", context) is expected
    assert engine.get_variant("child", context)["feature_enabled"] is expected


def test_dependency_chain_off() -> None:
    grandparent = feature([{"name": "default"}], name="grandparent")
    parent = feature(
        [{"name": "default"}], name="parent", dependencies=[{"feature": "grandparent"}]
    )
    engine = engine_with(grandparent, parent, child({"feature": "parent"}))

    assert engine.is_enabled("parent", {}) is True
    assert engine.is_enabled("child", {}) is False


def test_disabled_child_ignores_dependencies() -> None:
    disabled_child = {**child({"feature": "parent"}), "enabled": False}
    engine = engine_with(PARENT_ON, disabled_child)

    assert engine.is_enabled("child", {}) is False


# --- Explanations ------------------------------------------------------------------

PHASED_STRATEGIES = [
    {
        "name": "flexibleRollout",
        "title": "Pilot teams",
        "parameters": {"rollout": "100", "stickiness": "userId", "groupId": "flag"},
        "constraints": [on_team("IN", ["ops", "sales"])],
    },
    {
        "name": "flexibleRollout",
        "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "flag"},
        "constraints": [AFTER_MAY],
    },
]


def test_explain_unknown_feature() -> None:
    engine = engine_with(feature([]))

    explanation = engine.explain("missing", {}, fallback=True)

    assert explanation.feature == "missing"
    assert explanation.found is False
    assert explanation.enabled is True
    assert explanation.reasons == [
        'Feature "missing" is not in the state, so the fallback value True is returned.'
    ]


def test_explain_disabled_feature() -> None:
    engine = engine_with(feature([{"name": "default"}], enabled=False))

    explanation = engine.explain("flag", {})

    assert explanation.found is True
    assert explanation.enabled is False
    assert explanation.reasons == ['Feature "flag" is disabled (enabled: false).']


def test_explain_no_strategies() -> None:
    engine = engine_with(feature([]))

    explanation = engine.explain("flag", {})

    assert explanation.enabled is True
    assert explanation.reasons == [
        'Feature "flag" is enabled and has no strategies, so it is on.'
    ]


def test_explain_constraint_then_bucket() -> None:
    engine = engine_with(feature(PHASED_STRATEGIES))
    context = {
        "userId": "alice",
        "currentTime": "2024-06-01T00:00:00Z",
        "properties": {"team": "finance"},
    }

    explanation = engine.explain("flag", context)

    assert explanation.enabled is True
    assert explanation.reasons == [
        'Strategy 1 "Pilot teams" (flexibleRollout): constraint team IN ["ops", '
        '"sales"] failed: team is "finance".',
        'Strategy 1 "Pilot teams" (flexibleRollout) did not match because a '
        "constraint failed.",
        "Strategy 2 (flexibleRollout): constraint currentTime DATE_AFTER "
        '"2024-05-01T00:00:00Z" passed: currentTime is "2024-06-01T00:00:00Z".',
        'Strategy 2 (flexibleRollout) matched: bucket 18 of userId "alice" in group '
        '"flag" is within the 50% rollout.',
    ]


def test_explain_bucket_above_rollout() -> None:
    engine = engine_with(feature(PHASED_STRATEGIES))
    context = {
        "userId": "carol",
        "currentTime": "2024-06-01T00:00:00Z",
        "properties": {"team": "finance"},
    }

    explanation = engine.explain("flag", context)

    assert explanation.enabled is False
    assert explanation.reasons[-2:] == [
        'Strategy 2 (flexibleRollout) did not match: bucket 85 of userId "carol" in '
        'group "flag" is above the 50% rollout.',
        'No strategy of feature "flag" matched, so it is off.',
    ]


def test_explain_missing_field_flags() -> None:
    constraint = on_team("STR_ENDS_WITH", ["-eu"], inverted=True, caseInsensitive=True)
    engine = single_constraint(constraint)

    explanation = engine.explain("flag", {})

    assert explanation.enabled is True
    assert explanation.reasons == [
        'Strategy 1 (default): constraint team STR_ENDS_WITH ["-eu"] (inverted, '
        "case-insensitive) passed: team is not set.",
        "Strategy 1 (default) matched: the default strategy is on for everyone.",
    ]


def test_explain_skipped_and_unsupported() -> None:
    strategies = [
        {"name": "default", "disabled": True},
        {"name": "someCustomStrategy"},
        {"name": "default", "segments": [7]},
        {"name": "default", "constraints": [on_team("LIKE", ["ops"])]},
    ]
    engine = engine_with(feature(strategies))

    explanation = engine.explain("flag", {"properties": {"team": "ops"}})

    assert explanation.enabled is False
    assert explanation.reasons == [
        "Strategy 1 is skipped because it is disabled.",
        "Strategy 2 (someCustomStrategy) did not match: the strategy "
        '"someCustomStrategy" is not supported.',
        "Strategy 3 (default) is off: segment 7 is not in the state.",
        'Strategy 4 (default): constraint team LIKE failed: the operator "LIKE" is '
        "not supported.",
        "Strategy 4 (default) did not match because a constraint failed.",
        'No strategy of feature "flag" matched, so it is off.',
    ]


def test_explain_segment_constraint() -> None:
    strategy = {"name": "default", "segments": [1]}
    engine = engine_with(feature([strategy]), segments=SEGMENTS)

    explanation = engine.explain("flag", {"properties": {"team": "ops"}})

    assert explanation.enabled is True
    assert explanation.reasons[0] == (
        'Strategy 1 (default): segment 1 constraint team IN ["ops"] passed: team is '
        '"ops".'
    )


def test_explain_current_time_default() -> None:
    engine = single_constraint(
        on_value("currentTime", "DATE_AFTER", "2000-01-01T00:00:00Z")
    )

    explanation = engine.explain("flag", {})

    assert explanation.enabled is True
    assert explanation.reasons[0].startswith(
        "Strategy 1 (default): constraint currentTime DATE_AFTER "
        '"2000-01-01T00:00:00Z" passed: currentTime is not set, so the current time '
    )


@pytest.mark.parametrize(
    ("features", "context", "expected_enabled", "expected_reasons"),
    [
        (
            [PARENT_OFF, child({"feature": "parent"})],
            {},
            False,
            [
                'Dependency on "parent" is not met: "parent" is off.',
                'Feature "child" is off because a dependency is not met.',
            ],
        ),
        (
            [PARENT_OFF, child({"feature": "parent", "enabled": False})],
            {},
            True,
            [
                'Dependency on "parent" is met: "parent" is off, as required.',
                "Strategy 1 (default) matched: the default strategy is on for "
                "everyone.",
            ],
        ),
        (
            [PARENT_ON, child({"feature": "parent", "enabled": False})],
            {},
            False,
            [
                'Dependency on "parent" is not met: "parent" is on but must be off.',
                'Feature "child" is off because a dependency is not met.',
            ],
        ),
        (
            [child({"feature": "parent"})],
            {},
            False,
            [
                'Dependency on "parent" is not met: "parent" is not in the state.',
                'Feature "child" is off because a dependency is not met.',
            ],
        ),
        (
            [PARENT_ON, child({"feature": "parent", "variants": ["red", "green"]})],
            {"userId": "carol"},
            False,
            [
                'Dependency on "parent" is not met: "parent" variant "blue" (bucket '
                '528 of 1000 for "carol" in group "parent" in the feature variants) '
                'is not one of "red", "green".',
                'Feature "child" is off because a dependency is not met.',
            ],
        ),
    ],
)
def test_explain_dependencies(
    features: list[dict[str, Any]],
    context: dict[str, Any],
    expected_enabled: bool,
    expected_reasons: list[str],
) -> None:
    engine = engine_with(*features)

    explanation = engine.explain("child", context)

    assert explanation.enabled is expected_enabled
    assert explanation.reasons == expected_reasons


def test_explain_chain_dependency() -> None:
    grandparent = feature([{"name": "default"}], name="grandparent")
    parent = feature(
        [{"name": "default"}], name="parent", dependencies=[{"feature": "grandparent"}]
    )
    engine = engine_with(grandparent, parent, child({"feature": "parent"}))

    explanation = engine.explain("child", {})

    assert explanation.enabled is False
    assert explanation.reasons[0] == (
        'Dependency on "parent" is not met: "parent" has dependencies of its own.'
    )


@pytest.mark.parametrize(
    "context",
    [
        {"userId": user, "currentTime": time, "properties": {"team": team_name}}
        for user in ("alice", "bob", "carol", "dave", "erin", "frank")
        for time in ("2024-04-01T00:00:00Z", "2024-06-01T00:00:00Z")
        for team_name in ("ops", "finance")
    ],
)
def test_explain_matches_is_enabled(context: dict[str, Any]) -> None:
    engine = engine_with(feature(PHASED_STRATEGIES))

    assert engine.explain("flag", context).enabled is engine.is_enabled("flag", context)
