"""Every kind of plan error names its line and what to write instead."""

import textwrap

import pytest

from app.rollout.plan_file import PlanInvalid, parse_plan, read_plan
from tests.conftest import ALL_FEATURES_PLAN
from tests.rollout.conftest import BIG_BANG_EXAMPLE, DEMO_PLAN, DEMO_TEAMS

PHASED_HEAD = """\
strategy: phased
waves:
  - name: pilot
    start: 2013-06-01
    teams: [country-406]
"""

# (case, plan text, expected line, expected message)
CASES = [
    (
        "unknown top-level key",
        "strategy: big_bang\ncutovr: 2013-06-01\nflags: {}\n",
        2,
        "Unknown key cutovr. Did you mean cutover? Valid keys here: strategy, "
        "cutover, waves, flags.",
    ),
    (
        "unknown wave key",
        PHASED_HEAD + "    percnt: 50\nflags: {}\n",
        6,
        "Unknown key percnt. Did you mean percent? Valid keys here: name, start, "
        "teams, percent.",
    ),
    (
        "unknown flag key",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n    require: [x]\n",
        6,
        "Unknown key require. Did you mean requires? Valid keys here: description, "
        "requires, training, waves.",
    ),
    (
        "unknown key without a close match",
        "strategy: big_bang\ncutover: 2013-06-01\nowner: paul\nflags: {}\n",
        3,
        "Unknown key owner. Valid keys here: strategy, cutover, waves, flags.",
    ),
    (
        "repeated key",
        "strategy: big_bang\ncutover: 2013-06-01\ncutover: 2013-07-01\nflags: {}\n",
        3,
        "Key cutover appears twice; the first is on line 2. Keep only one of them.",
    ),
    (
        "bad cutover date",
        "strategy: big_bang\ncutover: 2013-6-1\nflags: {}\n",
        2,
        "Invalid date 2013-6-1 for cutover. Write the date as YYYY-MM-DD, for "
        "example 2013-07-15.",
    ),
    (
        "impossible wave date",
        PHASED_HEAD.replace("2013-06-01", "2013-02-30") + "flags: {}\n",
        4,
        "Invalid date 2013-02-30 for start. Write the date as YYYY-MM-DD, for "
        "example 2013-07-15.",
    ),
    (
        "date with a time",
        "strategy: big_bang\ncutover: 2013-06-01 08:00\nflags: {}\n",
        2,
        "Invalid date 2013-06-01 08:00 for cutover. Write the date as YYYY-MM-DD, "
        "for example 2013-07-15.",
    ),
    (
        "unknown team with a close match",
        PHASED_HEAD.replace("country-406", "country-460") + "flags: {}\n",
        5,
        "Unknown team country-460. Did you mean country-406?",
    ),
    (
        "unknown team without a close match",
        PHASED_HEAD.replace("country-406", "sales") + "flags: {}\n",
        5,
        "Unknown team sales. Known teams: country-391, country-406, country-770, "
        "country-818, country-897.",
    ),
    (
        "team given as a single word",
        PHASED_HEAD.replace("[country-406]", "country-406") + "flags: {}\n",
        5,
        "teams must be a list of team codes or the word all. Write "
        "teams: [country-406].",
    ),
    (
        "empty team list",
        PHASED_HEAD.replace("[country-406]", "[]") + "flags: {}\n",
        5,
        "teams is empty. List at least one team code, or write teams: all.",
    ),
    (
        "team listed twice",
        PHASED_HEAD.replace("[country-406]", "[country-406, country-406]")
        + "flags: {}\n",
        5,
        "country-406 is listed twice in teams. Remove one of them.",
    ),
    (
        "unknown prerequisite",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n  letters:\n    description: L.\n"
        "    requires: [dunnig]\n  dunning:\n    description: D.\n",
        8,
        "Unknown prerequisite dunnig. Did you mean dunning?",
    ),
    (
        "prerequisite cycle",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n    requires: [letters]\n  letters:\n"
        "    description: L.\n    requires: [worklist]\n",
        6,
        "The prerequisites form a cycle: worklist -> letters -> worklist. Remove one "
        "of these requires.",
    ),
    (
        "flag requiring itself",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n    requires: [worklist]\n",
        6,
        "The prerequisites form a cycle: worklist -> worklist. Remove one of these "
        "requires.",
    ),
    (
        "chained prerequisites",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n  dunning:\n    description: D.\n"
        "    requires: [worklist]\n  letters:\n    description: L.\n"
        "    requires: [dunning]\n",
        11,
        "dunning cannot be a prerequisite, because it requires worklist itself and "
        "Unleash evaluates one level of prerequisites only. Require worklist here "
        "instead, or remove the requires of dunning.",
    ),
    (
        "percent above 100",
        PHASED_HEAD + "    percent: 150\nflags: {}\n",
        6,
        "Invalid percent 150. Write a whole number from 1 to 100, without the % "
        "sign, or remove percent to include every user of the teams.",
    ),
    (
        "percent of zero",
        PHASED_HEAD + "    percent: 0\nflags: {}\n",
        6,
        "Invalid percent 0. Write a whole number from 1 to 100, without the % "
        "sign, or remove percent to include every user of the teams.",
    ),
    (
        "percent with a sign",
        PHASED_HEAD + "    percent: 50%\nflags: {}\n",
        6,
        "Invalid percent 50%. Write a whole number from 1 to 100, without the % "
        "sign, or remove percent to include every user of the teams.",
    ),
    (
        "duplicate wave name",
        PHASED_HEAD + "  - name: pilot\n    start: 2013-07-01\n"
        "    teams: [country-391]\nflags: {}\n",
        6,
        "Wave pilot is already defined on line 3. Give each wave its own name.",
    ),
    (
        "flag naming an unknown wave",
        PHASED_HEAD + "flags:\n  worklist:\n    description: W.\n    waves: [pilto]\n",
        9,
        "Unknown wave pilto. Did you mean pilot?",
    ),
    (
        "flag naming a far unknown wave",
        PHASED_HEAD + "flags:\n  worklist:\n    description: W.\n    waves: [later]\n",
        9,
        "Unknown wave later. Waves of this plan: pilot.",
    ),
    (
        "flag with an empty wave list",
        PHASED_HEAD + "flags:\n  worklist:\n    description: W.\n    waves: []\n",
        9,
        "waves is empty, so this flag would never turn on. List at least one wave, "
        "or remove waves to give the flag in every wave.",
    ),
    (
        "big_bang with waves",
        "strategy: big_bang\ncutover: 2013-06-01\nwaves:\n  - name: pilot\n"
        "    start: 2013-06-01\n    teams: [country-406]\nflags: {}\n",
        3,
        "A big_bang plan has no waves, because every flag turns on for everyone at "
        "the cutover. Remove waves, or write strategy: phased.",
    ),
    (
        "big_bang flag with waves",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n    waves: [pilot]\n",
        6,
        "waves on a flag needs strategy: phased. Remove it, because a big_bang plan "
        "turns every flag on for everyone at the cutover.",
    ),
    (
        "big_bang without cutover",
        "strategy: big_bang\nflags: {}\n",
        1,
        "A big_bang plan needs the date on which every flag turns on. Add "
        "cutover: YYYY-MM-DD.",
    ),
    (
        "phased without waves",
        "strategy: phased\nflags: {}\n",
        1,
        "A phased plan needs at least one wave. Add waves: with a name, a start date "
        "and teams for each wave.",
    ),
    (
        "phased with an empty wave list",
        "strategy: phased\nwaves: []\nflags: {}\n",
        2,
        "waves must be a list with at least one wave. Start each wave on its own "
        "line with '- name:'.",
    ),
    (
        "phased with a cutover",
        PHASED_HEAD + "cutover: 2013-06-01\nflags: {}\n",
        6,
        "A phased plan has no cutover date, because each wave has its own start. "
        "Remove cutover, or write strategy: big_bang.",
    ),
    (
        "unknown strategy",
        "strategy: phase\nflags: {}\n",
        1,
        "Unknown strategy phase. Did you mean phased? Write strategy: big_bang or "
        "strategy: phased.",
    ),
    (
        "missing strategy",
        "cutover: 2013-06-01\nflags: {}\n",
        1,
        "The plan has no strategy. Add strategy: big_bang to turn every flag on at "
        "one date, or strategy: phased to roll out in waves.",
    ),
    (
        "missing flags",
        "strategy: big_bang\ncutover: 2013-06-01\n",
        1,
        "The plan lists no flags. Add flags: with one entry per feature, each with "
        "a description.",
    ),
    (
        "flag without description",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    requires: []\n",
        4,
        "Flag worklist has no description. Add description: followed by one "
        "sentence that says what the feature does.",
    ),
    (
        "flag without settings",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n",
        4,
        "Flag worklist needs its settings as an indented mapping, at least "
        "description: followed by one sentence.",
    ),
    (
        "invalid flag name",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  work list:\n"
        "    description: W.\n",
        4,
        "Invalid flag name work list. Use letters, digits, '-', '_' or '.', "
        "starting with a letter or a digit.",
    ),
    (
        "requires given as a word",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n  letters:\n    description: L.\n"
        "    requires: worklist\n",
        8,
        "requires must be a list, such as requires: [worklist].",
    ),
    (
        "training module with a comma",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: W.\n    training: a,b\n",
        6,
        "Invalid training a,b. Use letters, digits, '-', '_' or '.', starting with "
        "a letter or a digit.",
    ),
    (
        "wave without teams",
        "strategy: phased\nwaves:\n  - name: pilot\n    start: 2013-06-01\nflags: {}\n",
        3,
        "This wave has no teams. Add teams: [country-391].",
    ),
    (
        "wave that is not a mapping",
        "strategy: phased\nwaves:\n  - pilot\nflags: {}\n",
        3,
        "Each wave must be a mapping with name, start and teams, such as "
        "'- name: pilot'.",
    ),
    (
        "plan that is a list",
        "- strategy: phased\n",
        1,
        "The plan must be a mapping with the keys strategy, flags and either cutover "
        "or waves.",
    ),
    (
        "empty file",
        "",
        1,
        "The plan is empty. Start with strategy: big_bang or strategy: phased, then "
        "list the flags under flags:.",
    ),
    (
        "YAML syntax error",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist: [a\n",
        5,
        "The file is not valid YAML (expected ',' or ']', but got '<stream end>'). "
        "Check the indentation, the colons and the dashes on this line.",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_error_names_line_and_fix(text, line, message):
    with pytest.raises(PlanInvalid) as raised:
        parse_plan(text, DEMO_TEAMS)

    errors = [(error.line, str(error.message)) for error in raised.value.errors]
    assert errors == [(line, message)]


def test_errors_listed_in_line_order():
    text = textwrap.dedent(
        """\
        strategy: phased
        waves:
          - name: pilot
            start: 2013-13-01
            teams: [country-999]
            percent: 101
        flags:
          worklist:
            descripton: W.
        """
    )

    with pytest.raises(PlanInvalid) as raised:
        parse_plan(text, DEMO_TEAMS)

    # The misspelled description is not reported as missing too.
    assert [error.line for error in raised.value.errors] == [4, 5, 6, 9]


def test_error_text_starts_with_line():
    with pytest.raises(PlanInvalid) as raised:
        parse_plan("strategy: big_bang\ncutover: 2013-6-1\nflags: {}\n", DEMO_TEAMS)

    assert str(raised.value.errors[0]).startswith("line 2: Invalid date 2013-6-1")


def test_team_check_skipped_without_known_teams():
    plan = parse_plan(PHASED_HEAD.replace("country-406", "sales") + "flags: {}\n")

    assert plan.waves[0].teams == ("sales",)


def test_missing_file_is_reported(tmp_path):
    path = tmp_path / "missing.yaml"

    with pytest.raises(PlanInvalid) as raised:
        read_plan(path, DEMO_TEAMS)

    error = raised.value.errors[0]
    assert error.line is None
    assert str(error.message) == (
        f"The plan file {path} does not exist. Create it, or set "
        "CADENCE_FEATURE_FLAGS to the path of the plan."
    )


def test_non_utf8_file_is_reported(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("strategy: big_bang\n# déploiement\n".encode("latin-1"))

    with pytest.raises(PlanInvalid) as raised:
        read_plan(path, DEMO_TEAMS)

    assert str(raised.value.errors[0].message) == (
        f"The plan file {path} is not UTF-8 text. Save it as UTF-8."
    )


@pytest.mark.parametrize("path", [DEMO_PLAN, BIG_BANG_EXAMPLE, ALL_FEATURES_PLAN])
def test_shipped_plans_are_valid(path):
    plan = read_plan(path, DEMO_TEAMS)

    assert plan.flag_names == [
        "worklist",
        "activities",
        "promises",
        "disputes",
        "payments",
        "dunning",
        "letters",
        "kpi_dashboard",
    ]


def test_plan_round_trips_through_json():
    plan = read_plan(DEMO_PLAN, DEMO_TEAMS)

    assert type(plan).from_json(plan.to_json()) == plan
