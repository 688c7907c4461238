"""Every kind of plan error names its line and what to write instead."""

import textwrap

import pytest

from app.rollout.catalogue import FLAG_CATALOGUE, describe_flag
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
        "The plan lists no flags. Add flags: followed by one indented line per "
        "feature, such as '  worklist:'.",
    ),
    (
        "flags without a value",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n",
        3,
        "flags has no value. Add one indented line per feature below it, such as "
        "'  worklist:', or write flags: {} for a plan that turns nothing on.",
    ),
    (
        "flags given as a list",
        "strategy: big_bang\ncutover: 2013-06-01\nflags: [worklist]\n",
        3,
        "flags must be a mapping from each flag name to its settings. Write each "
        "flag on its own indented line, such as '  worklist:'.",
    ),
    (
        "flag settings given as a word",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist: on\n",
        4,
        "The settings of flag worklist must be an indented mapping, such as "
        "description: and one sentence on the next line, or nothing after the colon.",
    ),
    (
        "flag name with a space",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  work list:\n"
        "    description: W.\n",
        4,
        "Unknown flag work list. Did you mean worklist? The flags of Cadence are "
        "worklist, activities, promises, disputes, payments, dunning, letters, "
        "kpi_dashboard.",
    ),
    (
        "unknown flag with a close match",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n  dunnig:\n",
        5,
        "Unknown flag dunnig. Did you mean dunning? The flags of Cadence are "
        "worklist, activities, promises, disputes, payments, dunning, letters, "
        "kpi_dashboard.",
    ),
    (
        "unknown flag without a close match",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  chat:\n",
        4,
        "Unknown flag chat. The flags of Cadence are worklist, activities, "
        "promises, disputes, payments, dunning, letters, kpi_dashboard.",
    ),
    (
        "misspelled flag named as a prerequisite",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  dunnig:\n"
        "  letters:\n    requires: [dunning]\n",
        4,
        "Unknown flag dunnig. Did you mean dunning? The flags of Cadence are "
        "worklist, activities, promises, disputes, payments, dunning, letters, "
        "kpi_dashboard.",
    ),
    (
        "prerequisite missing from the plan",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  letters:\n"
        "    requires: [dunning]\n",
        5,
        "Prerequisite dunning is not in this plan, so letters would stay off for "
        "everyone. Add dunning under flags:, or remove it from requires.",
    ),
    (
        "prerequisite misspelled like a plan flag",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  dunning:\n"
        "  letters:\n    requires: [dunnig]\n",
        6,
        "Unknown prerequisite dunnig. Did you mean dunning?",
    ),
    (
        "unknown prerequisite without a close match",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  letters:\n"
        "    requires: [chat]\n",
        5,
        "Unknown prerequisite chat. The flags of Cadence are worklist, activities, "
        "promises, disputes, payments, dunning, letters, kpi_dashboard.",
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
        "The plan must start with strategy:, and each of its keys must start a line "
        "of its own, for example:\n"
        "    strategy: big_bang\n"
        "    cutover: 2013-09-02\n"
        "    flags: {}",
    ),
    (
        "plan that is a word",
        "strategy phased\n",
        1,
        "The plan must start with strategy:, and each of its keys must start a line "
        "of its own, for example:\n"
        "    strategy: big_bang\n"
        "    cutover: 2013-09-02\n"
        "    flags: {}",
    ),
    (
        "empty file",
        "",
        1,
        "The plan is empty. Start with strategy: big_bang or strategy: phased, then "
        "list the flags under flags:.",
    ),
    (
        "unclosed list",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    requires: [a\n",
        5,
        "The list that opens with [ on this line is not closed. End it with ] on "
        "the same line, such as [pilot, wave-2].",
    ),
    (
        "unclosed mapping",
        "strategy: big_bang\ncutover: 2013-06-01\nflags: {worklist: {}\n",
        3,
        "The mapping that opens with { on this line is not closed. End it with } on "
        "the same line.",
    ),
    (
        "unclosed quote",
        "strategy: 'big_bang\ncutover: 2013-06-01\nflags: {}\n",
        1,
        "The quote that opens on this line is not closed. Add the same quote mark at "
        "the end of the value.",
    ),
    (
        "key without colon",
        "strategy: phased\nwaves\n  - name: pilot\nflags: {}\n",
        2,
        "This line has no colon after its key. Write it as key: value, or indent it "
        "like the lines around it.",
    ),
    (
        "colon inside a value",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: Calls: emails\n",
        5,
        "This line has a colon where YAML does not expect one. Put a value that "
        "contains ': ' in quotes, or check the line above for a missing colon.",
    ),
    (
        "misaligned key",
        "strategy: phased\nwaves:\n  - name: pilot\n   start: 2013-06-01\n",
        4,
        "This line is not indented like the lines above it. Keys of the same mapping "
        "start in the same column, and so does each '- ' of a list.",
    ),
    (
        "tab indentation",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n\tworklist:\n",
        4,
        "This line is indented with a tab. Use spaces, two per level.",
    ),
    (
        "tab after a colon",
        "strategy:\tbig_bang\ncutover: 2013-06-01\nflags: {}\n",
        1,
        "This line has a tab where YAML does not allow one. Replace it with spaces.",
    ),
    (
        "reserved first character",
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "    description: @home\n",
        5,
        "A value on this line starts with @, which YAML reserves. Put the value in "
        "quotes.",
    ),
    (
        "second document",
        "strategy: big_bang\ncutover: 2013-06-01\nflags: {}\n---\nflags: {}\n",
        4,
        "A second YAML document starts on this line. Delete this --- line, so that "
        "the whole plan is one document.",
    ),
    (
        "control character",
        "strategy: big_bang\ncutover: 2013-06-01\x07\nflags: {}\n",
        2,
        "This line contains a control character (code 7) that YAML does not allow. "
        "Delete it, or retype the line.",
    ),
    (
        "teams ALL in capitals",
        PHASED_HEAD.replace("[country-406]", "ALL") + "flags: {}\n",
        5,
        "Write all in lower case: teams: all.",
    ),
    (
        "all in brackets",
        PHASED_HEAD.replace("[country-406]", "[all]") + "flags: {}\n",
        5,
        "Write teams: all alone, without brackets, to include every user.",
    ),
    (
        "all listed with a team",
        PHASED_HEAD.replace("[country-406]", "[all, country-818]") + "flags: {}\n",
        5,
        "all cannot be listed with team codes. Write teams: all alone, without "
        "brackets, to include every user, or list team codes only.",
    ),
    (
        "year before 2000",
        "strategy: big_bang\ncutover: 1913-06-01\nflags: {}\n",
        2,
        "Invalid year in 1913-06-01 for cutover. Write a year from 2000 to 2100.",
    ),
    (
        "year after 2100",
        PHASED_HEAD.replace("2013-06-01", "2113-06-01") + "flags: {}\n",
        4,
        "Invalid year in 2113-06-01 for start. Write a year from 2000 to 2100.",
    ),
    (
        "broken strategy with flags naming waves",
        "strategy: phase\nflags:\n  worklist:\n    waves: [pilot]\n"
        "  letters:\n    waves: [pilot]\n",
        1,
        "Unknown strategy phase. Did you mean phased? Write strategy: big_bang or "
        "strategy: phased.",
    ),
    (
        "phased without waves but flags naming waves",
        "strategy: phased\nflags:\n  worklist:\n    waves: [pilot]\n",
        1,
        "A phased plan needs at least one wave. Add waves: with a name, a start date "
        "and teams for each wave.",
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


# --- flags of the catalogue --------------------------------------------------------


def test_flag_settings_are_optional():
    plan = parse_plan(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "  letters:\n    requires: [worklist]\n",
        DEMO_TEAMS,
    )

    assert plan.flag_names == ["worklist", "letters"]
    assert plan.flag("worklist").description == ""
    assert plan.flag("letters").requires == ("worklist",)


def test_description_falls_back_to_catalogue():
    plan = parse_plan(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "  dunning:\n    description: Our own words.\n",
        DEMO_TEAMS,
    )

    assert describe_flag(plan.flag("worklist")) == (
        "Prioritised worklist of customers with overdue invoices."
    )
    assert describe_flag(plan.flag("worklist"), str.upper) == (
        "PRIORITISED WORKLIST OF CUSTOMERS WITH OVERDUE INVOICES."
    )
    assert describe_flag(plan.flag("dunning"), str.upper) == "Our own words."


def test_catalogue_lists_every_flag_of_cadence():
    assert list(FLAG_CATALOGUE) == [
        "worklist",
        "activities",
        "promises",
        "disputes",
        "payments",
        "dunning",
        "letters",
        "kpi_dashboard",
    ]


def test_broken_strategy_still_checks_waves_of_its_own():
    text = (
        "strategy: phase\nwaves:\n  - name: pilot\n    start: 2013-06-01\n"
        "    teams: [country-406]\nflags:\n  worklist:\n    waves: [pilot]\n"
        "  letters:\n    waves: [pilto]\n"
    )

    with pytest.raises(PlanInvalid) as raised:
        parse_plan(text, DEMO_TEAMS)

    assert [(e.line, str(e.message)) for e in raised.value.errors] == [
        (
            1,
            "Unknown strategy phase. Did you mean phased? Write strategy: big_bang "
            "or strategy: phased.",
        ),
        (10, "Unknown wave pilto. Did you mean pilot?"),
    ]


def test_every_tab_indented_line_reported():
    text = "strategy: big_bang\n\tcutover: 2013-06-01\nflags:\n\t  worklist:\n"

    with pytest.raises(PlanInvalid) as raised:
        parse_plan(text, DEMO_TEAMS)

    assert [str(error) for error in raised.value.errors] == [
        "line 2: This line is indented with a tab. Use spaces, two per level.",
        "line 4: This line is indented with a tab. Use spaces, two per level.",
    ]


def test_years_2000_and_2100_accepted():
    plan = parse_plan(
        "strategy: phased\nwaves:\n  - name: first\n    start: 2000-01-01\n"
        "    teams: all\n  - name: last\n    start: 2100-12-31\n    teams: all\n"
        "flags:\n  worklist:\n",
        DEMO_TEAMS,
    )

    assert [wave.start.year for wave in plan.waves] == [2000, 2100]


# --- warnings ----------------------------------------------------------------------

ORDER_PLAN = """\
strategy: phased
waves:
  - name: pilot
    start: 2013-06-01
    teams: [country-406]
  - name: wave-2
    start: 2013-07-15
    teams: [country-391]
  - name: everyone
    start: 2013-09-02
    teams: all
flags:
  dunning:
    waves: [{dunning_waves}]
  letters:
    requires: [dunning]
    waves: [{letters_waves}]
"""


def _warnings(text: str) -> list[tuple[int | None, str]]:
    plan = parse_plan(text, DEMO_TEAMS)
    return [(warning.line, str(warning.message)) for warning in plan.warnings]


def test_demo_plan_warns_about_training_module():
    plan = read_plan(DEMO_PLAN, DEMO_TEAMS)

    assert [(w.line, str(w.message)) for w in plan.warnings] == [
        (
            49,
            "The plan gates flags on training modules that Cadence cannot check: "
            "letters-basics (letters). Make sure each module exists and that passes "
            "are recorded for it, because a gated flag stays off for every user who "
            "has not passed it.",
        )
    ]


def test_training_warning_lists_modules_and_flags():
    text = (
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "  dunning:\n    training: dunning-101\n  letters:\n"
        "    training: letters-basics\n  payments:\n    training: dunning-101\n"
    )

    assert _warnings(text) == [
        (
            6,
            "The plan gates flags on training modules that Cadence cannot check: "
            "dunning-101 (dunning, payments); letters-basics (letters). Make sure "
            "each module exists and that passes are recorded for it, because a gated "
            "flag stays off for every user who has not passed it.",
        )
    ]


def test_flag_before_prerequisite_for_team():
    text = ORDER_PLAN.format(dunning_waves="everyone", letters_waves="wave-2, everyone")

    assert _warnings(text) == [
        (
            3,
            "Wave pilot gives no flag, because no flag lists it in its waves. Add it "
            "to the waves of a flag, or remove the wave.",
        ),
        (
            16,
            "letters cannot turn on before dunning, which team country-391 gets from "
            "2013-09-02, so wave wave-2 gives letters to that team from then, not "
            "from 2013-07-15.",
        ),
    ]


def test_flag_without_prerequisite_for_team():
    text = ORDER_PLAN.format(dunning_waves="pilot", letters_waves="pilot, wave-2")

    assert _warnings(text) == [
        (
            9,
            "Wave everyone gives no flag, because no flag lists it in its waves. Add "
            "it to the waves of a flag, or remove the wave.",
        ),
        (
            16,
            "letters cannot turn on without dunning, which no wave gives to team "
            "country-391, so that team never gets letters from wave wave-2.",
        ),
    ]


def test_flag_before_prerequisite_for_everyone():
    text = (
        "strategy: phased\nwaves:\n  - name: early\n    start: 2013-06-01\n"
        "    teams: all\n  - name: late\n    start: 2013-09-02\n    teams: all\n"
        "flags:\n  worklist:\n    waves: [late]\n  activities:\n"
        "    requires: [worklist]\n    waves: [early]\n"
    )

    assert _warnings(text) == [
        (
            13,
            "activities cannot turn on before worklist, which users without a listed "
            "team get from 2013-09-02, so wave early gives activities to them from "
            "then, not from 2013-06-01.",
        )
    ]


def test_flag_without_prerequisite_for_everyone():
    text = ORDER_PLAN.format(
        dunning_waves="pilot, wave-2", letters_waves="pilot, wave-2, everyone"
    )

    assert _warnings(text) == [
        (
            16,
            "letters cannot turn on without dunning, which no teams: all wave gives, "
            "so users without a listed team never get letters from wave everyone.",
        )
    ]


def test_prerequisite_in_time_gives_no_warning():
    text = ORDER_PLAN.format(
        dunning_waves="pilot, wave-2, everyone", letters_waves="wave-2, everyone"
    )

    assert _warnings(text) == []


def test_big_bang_plan_has_no_order_warning():
    plan = read_plan(BIG_BANG_EXAMPLE, DEMO_TEAMS)

    assert [str(w.message).split(":")[0] for w in plan.warnings] == [
        "The plan gates flags on training modules that Cadence cannot check"
    ]


def test_warnings_do_not_change_plan_equality():
    plan = read_plan(DEMO_PLAN, DEMO_TEAMS)

    assert plan.warnings
    assert type(plan).from_json(plan.to_json()).warnings == ()
