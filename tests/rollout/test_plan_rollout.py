"""Who gets which feature on which date, under a big-bang and a phased plan.

These tests compile plans without a database. Expected buckets of percentage waves
come from MurmurHash3 x86 32-bit, as Unleash computes them: bucket = hash of
"<wave>:<user id>" modulo 100, plus one.
"""

import datetime as dt
import itertools

import mmh3
import pytest

from app.rollout.decisions import Forecast, decide, forecast
from app.rollout.runtime import KillSwitchInfo, OverrideInfo
from tests.rollout.conftest import BIG_BANG_EXAMPLE, DEMO_PLAN, snapshot_of, subject

D = dt.date
PILOT_FEATURES = {"activities", "promises", "disputes", "payments", "dunning"}
ALL_FLAGS = [
    "worklist",
    "activities",
    "promises",
    "disputes",
    "payments",
    "dunning",
    "letters",
    "kpi_dashboard",
]
LETTERS_PASSED = {"letters-basics": D(2013, 6, 10)}

# Buckets in wave-2: user 1 is 64, user 3 is 10, user 9 is 5, user 11 is 67.
DEMO_USERS = [
    subject(1, "country-391"),
    subject(3, "country-391"),
    subject(4, "country-406"),
    subject(5, "country-770"),
    subject(6, None, role="manager"),
    subject(7, "country-897"),
    subject(9, "country-818"),
    subject(10, "country-406", modules=LETTERS_PASSED),
    subject(11, "country-818"),
]
EVERYONE = {user.user_id for user in DEMO_USERS}


def bucket(group: str, user_id: int) -> int:
    return mmh3.hash(f"{group}:{user_id}", 0, signed=False) % 100 + 1


def who_has(snapshot, users, day):
    """Return, by flag, the ids of the users the engine gives it to on ``day``."""
    return {
        flag: {
            user.user_id
            for user in users
            if snapshot.engine.is_enabled(flag, user.context(day))
        }
        for flag in snapshot.plan.flag_names
    }


def demo_snapshot(**records):
    return snapshot_of(DEMO_PLAN.read_text(encoding="utf-8"), **records)


def test_demo_buckets_are_as_documented():
    assert [bucket("wave-2", user_id) for user_id in (1, 3, 9, 11)] == [64, 10, 5, 67]


# --- big bang ----------------------------------------------------------------------


BIG_BANG_USERS = [
    subject(1, "country-391"),
    subject(2, None, role="manager"),
    subject(3, "country-406", modules=LETTERS_PASSED),
]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2013, 9, 1), {flag: set() for flag in ALL_FLAGS}),
        (
            D(2013, 9, 2),
            {flag: {1, 2, 3} for flag in ALL_FLAGS} | {"letters": {3}},
        ),
        (
            D(2014, 1, 1),
            {flag: {1, 2, 3} for flag in ALL_FLAGS} | {"letters": {3}},
        ),
    ],
    ids=["day before cutover", "cutover day", "after cutover"],
)
def test_big_bang_who_has_what(day, expected):
    snapshot = snapshot_of(BIG_BANG_EXAMPLE.read_text(encoding="utf-8"))

    assert who_has(snapshot, BIG_BANG_USERS, day) == expected


# --- phased ------------------------------------------------------------------------


def _phased(launch, pilot, wave_2, wave_3, letters):
    expected = {"worklist": launch, "kpi_dashboard": launch, "letters": letters}
    for flag in PILOT_FEATURES:
        expected[flag] = pilot | wave_2 | wave_3
    return expected


PHASED_CASES = [
    (D(2013, 5, 31), _phased(set(), set(), set(), set(), set())),
    (D(2013, 6, 1), _phased(EVERYONE, {4, 10}, set(), set(), {10})),
    (D(2013, 6, 30), _phased(EVERYONE, {4, 10}, set(), set(), {10})),
    (D(2013, 7, 14), _phased(EVERYONE, {4, 10}, set(), set(), {10})),
    (D(2013, 7, 15), _phased(EVERYONE, {4, 10}, {3, 9}, set(), {10})),
    (D(2013, 9, 1), _phased(EVERYONE, {4, 10}, {3, 9}, set(), {10})),
    (D(2013, 9, 2), _phased(EVERYONE, {4, 10}, {3, 9}, EVERYONE, {10})),
]


@pytest.mark.parametrize(
    ("day", "expected"), PHASED_CASES, ids=[str(day) for day, _ in PHASED_CASES]
)
def test_phased_who_has_what(day, expected):
    assert who_has(demo_snapshot(), DEMO_USERS, day) == expected


def test_demo_worklist_for_every_team():
    users = [
        subject(index, team)
        for index, team in enumerate(
            ["country-391", "country-406", "country-770", "country-818", "country-897"],
            start=1,
        )
    ]

    enabled = who_has(demo_snapshot(), users, D(2013, 6, 30))["worklist"]

    assert enabled == {1, 2, 3, 4, 5}


WAVE_TEMPLATE = """\
strategy: phased
waves:
  - name: early
    start: 2013-06-01
    teams: [country-406]
  - name: wave-2
    start: 2013-07-15
    teams: [country-391, country-406]
    percent: {percent}
flags:
  activities:
    description: A.
  dunning:
    description: D.
"""
MANY_USERS = [subject(user_id, "country-391") for user_id in range(1, 1001)]


WAVE_2_START = D(2013, 7, 15)


def _enabled_ids(percent, flag="activities", users=MANY_USERS, day=WAVE_2_START):
    snapshot = snapshot_of(WAVE_TEMPLATE.format(percent=percent))
    return who_has(snapshot, users, day)[flag]


@pytest.mark.parametrize("percent", [1, 30, 50, 60, 100])
def test_percent_picks_users_by_bucket(percent):
    expected = {
        user.user_id for user in MANY_USERS if bucket("wave-2", user.user_id) <= percent
    }

    assert _enabled_ids(percent) == expected


@pytest.mark.parametrize(("smaller", "larger"), [(30, 60), (1, 2), (60, 100)])
def test_growing_percent_keeps_earlier_users(smaller, larger):
    before = _enabled_ids(smaller)
    after = _enabled_ids(larger)

    assert before <= after
    assert len(after) > len(before)


def test_same_users_get_every_flag_of_a_wave():
    assert _enabled_ids(30, "activities") == _enabled_ids(30, "dunning")


def test_later_wave_keeps_earlier_wave_users():
    early_users = [subject(user_id, "country-406") for user_id in range(1, 201)]

    on_at_start = _enabled_ids(10, users=early_users, day=D(2013, 6, 1))
    on_after_wave_2 = _enabled_ids(10, users=early_users, day=D(2013, 7, 15))

    assert on_at_start == set(range(1, 201))
    assert on_after_wave_2 == set(range(1, 201))


def test_wave_starts_at_midnight_paris():
    snapshot = demo_snapshot()
    strategy = snapshot.state["features"][1]["strategies"][1]

    # 2013-07-15 00:00 in Paris is 22:00 UTC the day before (summer time).
    assert strategy["constraints"][1] == {
        "contextName": "currentTime",
        "operator": "DATE_AFTER",
        "value": "2013-07-14T22:00:00.000Z",
        "caseInsensitive": False,
        "inverted": False,
    }


# --- compiled state ----------------------------------------------------------------


def test_compiled_wave_strategies():
    features = {f["name"]: f for f in demo_snapshot().state["features"]}
    activities = features["activities"]

    assert activities["enabled"] is True
    assert activities["dependencies"] == [{"feature": "worklist", "enabled": True}]
    assert [s["title"] for s in activities["strategies"]] == [
        "Wave pilot",
        "Wave wave-2",
        "Wave wave-3",
    ]
    assert activities["strategies"][1] == {
        "name": "flexibleRollout",
        "title": "Wave wave-2",
        "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "wave-2"},
        "constraints": [
            {
                "contextName": "team",
                "operator": "IN",
                "values": ["country-391", "country-818"],
                "caseInsensitive": False,
                "inverted": False,
            },
            {
                "contextName": "currentTime",
                "operator": "DATE_AFTER",
                "value": "2013-07-14T22:00:00.000Z",
                "caseInsensitive": False,
                "inverted": False,
            },
        ],
    }


def test_wave_for_everyone_has_no_team_constraint():
    features = {f["name"]: f for f in demo_snapshot().state["features"]}
    launch = features["worklist"]["strategies"][0]

    assert [c["contextName"] for c in launch["constraints"]] == ["currentTime"]


def test_training_gate_compiles_to_constraint():
    features = {f["name"]: f for f in demo_snapshot().state["features"]}

    for strategy in features["letters"]["strategies"]:
        assert strategy["constraints"][-1] == {
            "contextName": "passedModules",
            "operator": "STR_CONTAINS",
            "values": [",letters-basics,"],
            "caseInsensitive": False,
            "inverted": False,
        }


def test_training_gate_does_not_match_longer_module_id():
    trained_elsewhere = subject(
        4, "country-406", modules={"letters-basics-2": D(2013, 6, 1)}
    )

    enabled = who_has(demo_snapshot(), [trained_elsewhere], D(2013, 6, 30))["letters"]

    assert enabled == set()


def test_big_bang_compiles_to_one_cutover_strategy():
    snapshot = snapshot_of(BIG_BANG_EXAMPLE.read_text(encoding="utf-8"))
    worklist = snapshot.state["features"][0]

    assert worklist["strategies"] == [
        {
            "name": "default",
            "title": "Cutover",
            "parameters": {},
            "constraints": [
                {
                    "contextName": "currentTime",
                    "operator": "DATE_AFTER",
                    "value": "2013-09-01T22:00:00.000Z",
                    "caseInsensitive": False,
                    "inverted": False,
                }
            ],
        }
    ]


# --- kill switch and overrides -----------------------------------------------------

SINCE = dt.datetime(2013, 6, 20, 8, 30)


def kill(flag):
    return {flag: KillSwitchInfo(flag, "Wrong totals.", "lead@test.example", SINCE)}


def override(number, flag, enabled, user_id=None, team=None):
    return OverrideInfo(
        id=number,
        flag=flag,
        user_id=user_id,
        user_email=f"user{user_id}@test.example" if user_id else None,
        team=team,
        enabled=enabled,
        reason="Asked by the manager.",
        actor="lead@test.example",
        since=SINCE,
    )


OVERRIDE_CASES = [
    # (case, kill switches, overrides, user, flag, expected on 2013-06-30)
    ("kill switch beats the plan", kill("activities"), (), 4, "activities", False),
    (
        "kill switch beats a user override",
        kill("activities"),
        (override(1, "activities", True, user_id=1),),
        1,
        "activities",
        False,
    ),
    (
        "user override beats the wave dates",
        {},
        (override(1, "activities", True, user_id=1),),
        1,
        "activities",
        True,
    ),
    (
        "user override skips the training gate",
        {},
        (override(1, "letters", True, user_id=4),),
        4,
        "letters",
        True,
    ),
    (
        "prerequisite off beats a user override",
        kill("dunning"),
        (override(1, "letters", True, user_id=10),),
        10,
        "letters",
        False,
    ),
    (
        "user forced off in a pilot team",
        {},
        (override(1, "activities", False, user_id=4),),
        4,
        "activities",
        False,
    ),
    (
        "team forced on",
        {},
        (override(1, "activities", True, team="country-391"),),
        1,
        "activities",
        True,
    ),
    (
        "team forced off",
        {},
        (override(1, "activities", False, team="country-406"),),
        4,
        "activities",
        False,
    ),
    (
        "user on beats team off",
        {},
        (
            override(1, "activities", False, team="country-406"),
            override(2, "activities", True, user_id=4),
        ),
        4,
        "activities",
        True,
    ),
    (
        "user off beats team on",
        {},
        (
            override(1, "activities", True, team="country-391"),
            override(2, "activities", False, user_id=1),
        ),
        1,
        "activities",
        False,
    ),
    (
        "team override leaves other teams alone",
        {},
        (override(1, "activities", True, team="country-391"),),
        7,
        "activities",
        False,
    ),
    (
        "prerequisite forced off turns dependent off",
        {},
        (override(1, "worklist", False, user_id=4),),
        4,
        "activities",
        False,
    ),
]


@pytest.mark.parametrize(
    ("kill_switches", "overrides", "user_id", "flag", "expected"),
    [case[1:] for case in OVERRIDE_CASES],
    ids=[case[0] for case in OVERRIDE_CASES],
)
def test_overrides_precedence(kill_switches, overrides, user_id, flag, expected):
    snapshot = demo_snapshot(kill_switches=kill_switches, overrides=overrides)
    user = next(u for u in DEMO_USERS if u.user_id == user_id)

    engine_result = snapshot.engine.is_enabled(flag, user.context(D(2013, 6, 30)))
    decision = decide(snapshot, flag, user, D(2013, 6, 30))

    assert engine_result is expected
    assert decision.enabled is expected


def test_kill_switch_compiles_to_disabled_feature():
    snapshot = demo_snapshot(kill_switches=kill("activities"))
    features = {f["name"]: f for f in snapshot.state["features"]}

    assert features["activities"]["enabled"] is False
    assert features["promises"]["enabled"] is True


def test_overrides_compile_in_front_of_waves():
    overrides = (
        override(1, "activities", True, user_id=1),
        override(2, "activities", False, user_id=4),
        override(3, "activities", True, team="country-770"),
        override(4, "activities", False, team="country-406"),
    )
    snapshot = demo_snapshot(overrides=overrides)
    features = {f["name"]: f for f in snapshot.state["features"]}
    strategies = features["activities"]["strategies"]

    assert [s["title"] for s in strategies] == [
        "Forced on for users",
        "Forced on for teams",
        "Wave pilot",
        "Wave wave-2",
        "Wave wave-3",
    ]
    assert [
        (c["contextName"], c["operator"], c["values"])
        for c in strategies[1]["constraints"]
    ] == [("team", "IN", ["country-770"]), ("userId", "NOT_IN", ["4"])]
    assert [
        (c["contextName"], c["operator"], c.get("values"))
        for c in strategies[2]["constraints"]
    ] == [
        ("team", "IN", ["country-406"]),
        ("currentTime", "DATE_AFTER", None),
        ("userId", "NOT_IN", ["4"]),
        ("team", "NOT_IN", ["country-406"]),
    ]


# --- explanations ------------------------------------------------------------------


def _reasons(decision):
    return [
        (reason.depth, reason.passed, str(reason.message))
        for reason in decision.reasons
    ]


def test_explain_later_wave_user():
    user = DEMO_USERS[0]

    decision = decide(demo_snapshot(), "activities", user, D(2013, 7, 15))

    assert decision.enabled is False
    assert _reasons(decision) == [
        (0, True, "Prerequisite worklist is on for this user."),
        (1, True, "Wave launch gives the feature to everyone since 2013-06-01."),
        (0, False, "Wave pilot is for teams country-406, not country-391."),
        (
            0,
            False,
            "Wave wave-2 gives the feature to 50% of its users, and this user's "
            "bucket, 64 of 100, is above that share.",
        ),
        (0, False, "Wave wave-3 starts on 2013-09-02, after 2013-07-15."),
    ]
    assert str(decision.deciding.message).startswith("Wave wave-3 starts")


def test_explain_pilot_user():
    decision = decide(demo_snapshot(), "activities", DEMO_USERS[2], D(2013, 6, 30))

    assert decision.enabled is True
    assert decision.wave == "pilot"
    assert str(decision.deciding.message) == (
        "Wave pilot gives the feature to team country-406 since 2013-06-01."
    )


def test_explain_bucket_within_share():
    decision = decide(demo_snapshot(), "dunning", DEMO_USERS[1], D(2013, 7, 15))

    assert decision.enabled is True
    assert str(decision.deciding.message) == (
        "Wave wave-2 gives the feature to 50% of its users since 2013-07-15, and this "
        "user's bucket, 10 of 100, is within that share."
    )


@pytest.mark.parametrize(
    ("user_index", "expected"),
    [
        (
            2,
            (
                False,
                "Training gate: this user has not passed module letters-basics yet.",
            ),
        ),
        (
            7,
            (
                True,
                "Training gate: this user passed module letters-basics on 2013-06-10.",
            ),
        ),
    ],
)
def test_explain_training_gate(user_index, expected):
    decision = decide(
        demo_snapshot(), "letters", DEMO_USERS[user_index], D(2013, 6, 30)
    )

    reason = decision.deciding
    assert (reason.passed, str(reason.message)) == expected
    assert decision.enabled is expected[0]


def test_explain_kill_switch():
    snapshot = demo_snapshot(kill_switches=kill("activities"))

    decision = decide(snapshot, "activities", DEMO_USERS[2], D(2013, 6, 30))

    assert _reasons(decision) == [
        (
            0,
            False,
            "The kill switch of activities was pulled by lead@test.example on "
            "2013-06-20: Wrong totals.",
        )
    ]


def test_explain_prerequisite_off():
    snapshot = demo_snapshot(kill_switches=kill("dunning"))

    decision = decide(snapshot, "letters", DEMO_USERS[7], D(2013, 6, 30))

    assert decision.enabled is False
    assert str(decision.deciding.message) == (
        "Prerequisite dunning is off for this user, so this feature is off too."
    )


def test_explain_override():
    snapshot = demo_snapshot(overrides=(override(1, "activities", True, user_id=1),))

    decision = decide(snapshot, "activities", DEMO_USERS[0], D(2013, 6, 30))

    assert str(decision.deciding.message) == (
        "Forced on for this user by lead@test.example on 2013-06-20: Asked by the "
        "manager."
    )


def test_explain_flag_not_in_plan():
    decision = decide(demo_snapshot(), "chat", DEMO_USERS[0], D(2013, 6, 30))

    assert _reasons(decision) == [
        (0, False, "chat is not in the rollout plan, so it is off for everyone.")
    ]


DECISION_DATES = [D(2013, 5, 31), D(2013, 6, 1), D(2013, 7, 15), D(2013, 9, 2)]
DECISION_RECORDS = [
    {},
    {"kill_switches": kill("worklist")},
    {"kill_switches": kill("dunning")},
    {
        "overrides": (
            override(1, "activities", True, team="country-770"),
            override(2, "activities", False, user_id=5),
            override(3, "worklist", False, team="country-818"),
            override(4, "letters", True, user_id=3),
        )
    },
]


@pytest.mark.parametrize(
    "records", DECISION_RECORDS, ids=["plain", "kill", "kill2", "overrides"]
)
@pytest.mark.parametrize(
    "plan_path", [DEMO_PLAN, BIG_BANG_EXAMPLE], ids=["phased", "big_bang"]
)
def test_decide_agrees_with_engine(plan_path, records):
    snapshot = snapshot_of(plan_path.read_text(encoding="utf-8"), **records)

    disagreements = [
        (flag, user.user_id, day)
        for flag, user, day in itertools.product(ALL_FLAGS, DEMO_USERS, DECISION_DATES)
        if decide(snapshot, flag, user, day).enabled
        != snapshot.engine.is_enabled(flag, user.context(day))
    ]

    assert disagreements == []


# --- forecasts ---------------------------------------------------------------------

FORECAST_CASES = [
    ("later wave", 0, "activities", {}, Forecast(day=D(2013, 9, 2), team=None)),
    (
        "percent wave",
        1,
        "activities",
        {},
        Forecast(day=D(2013, 7, 15), team="country-391"),
    ),
    ("waiting for training", 2, "letters", {}, Forecast(training="letters-basics")),
    (
        "later wave and training",
        3,
        "letters",
        {},
        Forecast(day=D(2013, 9, 2), team=None, training="letters-basics"),
    ),
    (
        "kill switch",
        2,
        "activities",
        {"kill_switches": kill("activities")},
        Forecast(killed=True),
    ),
    ("not in plan", 0, "chat", {}, Forecast()),
]


@pytest.mark.parametrize(
    ("user_index", "flag", "records", "expected"),
    [case[1:] for case in FORECAST_CASES],
    ids=[case[0] for case in FORECAST_CASES],
)
def test_forecast(user_index, flag, records, expected):
    snapshot = demo_snapshot(**records)

    result = forecast(snapshot, flag, DEMO_USERS[user_index], D(2013, 6, 30))

    assert result == expected


def test_forecast_names_team_of_team_wave():
    plan = """\
    strategy: phased
    waves:
      - name: pilot
        start: 2013-06-01
        teams: [country-406]
      - name: second
        start: 2013-07-15
        teams: [country-391]
    flags:
      activities:
        description: A.
    """

    result = forecast(snapshot_of(plan), "activities", DEMO_USERS[0], D(2013, 6, 30))

    assert result == Forecast(day=D(2013, 7, 15), team="country-391")
