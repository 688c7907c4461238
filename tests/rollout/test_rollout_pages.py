"""Rollout pages: access, timeline, flags, kill switch, overrides, audit, 404 page."""

import html as html_lib
import re

import flask_babel
import pytest
from sqlalchemy import func, select, update

from app.audit.models import AuditEntry
from app.extensions import db
from app.rollout import services
from app.rollout.engine import normalized_hash
from app.rollout.models import (
    STATE_ROW_ID,
    KillSwitch,
    Override,
    RolloutState,
    TrainingModulePass,
)
from app.rollout.runtime import get_runtime
from tests.rollout.conftest import DEMO_PLAN

# Worklist for the pilot team from June, for country-391 from 2013-07-15.
WORKLIST_IN_WAVES = """\
strategy: phased
waves:
  - name: pilot
    start: 2013-06-01
    teams: [country-406]
  - name: wave-2
    start: 2013-07-15
    teams: [country-391]
flags:
  worklist:
    description: Prioritised worklist of customers with overdue invoices.
"""


@pytest.fixture
def demo_plan(use_plan):
    return use_plan(DEMO_PLAN.read_text(encoding="utf-8"))


def _text(page: str) -> str:
    """Return the page without tags and with spaces collapsed, entities decoded."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html_lib.unescape(without_tags)).strip()


def _element_text(page: str, element_id: str) -> str:
    match = re.search(
        rf'<(\w+)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, flags=re.S
    )
    assert match, f"no element with id {element_id}"
    return _text(match.group(2))


def _rows(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in rows
    ]


def _english(client):
    client.post("/language/en")
    # The test's app context outlives requests, so Flask-Babel's cached locale too.
    flask_babel.refresh()


# --- access ------------------------------------------------------------------------

LEAD_PAGES = [
    "/rollout/",
    "/rollout/flags/worklist",
    "/rollout/flags/worklist/kill-switch",
    "/rollout/flags/worklist/users/{collector}",
    "/rollout/audit",
]
EXPECTED_STATUS = {
    "admin": 200,
    "lead": 200,
    "manager": 403,
    "collector": 403,
    "collector_406": 403,
    "trainee": 403,
}


@pytest.mark.parametrize("role", sorted(EXPECTED_STATUS))
@pytest.mark.parametrize("page", LEAD_PAGES)
def test_lead_page_access_by_role(client, auth, people, demo_plan, role, page):
    auth.login(people[role].email)

    response = client.get(page.format(collector=people["collector"].id))

    assert response.status_code == EXPECTED_STATUS[role]


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("lead", 403),
        ("manager", 403),
        ("collector", 403),
        ("trainee", 403),
    ],
)
def test_training_page_for_admins_only(client, auth, people, demo_plan, role, status):
    auth.login(people[role].email)

    assert client.get("/rollout/training").status_code == status


@pytest.mark.parametrize("page", [*LEAD_PAGES, "/rollout/training"])
def test_anonymous_sent_to_login(client, people, demo_plan, page):
    response = client.get(page.format(collector=people["collector"].id))

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


POSTS = [
    ("/rollout/flags/worklist/kill-switch", {"action": "pull", "reason": "Break it."}),
    (
        "/rollout/flags/worklist/overrides",
        {"target": "team", "team": "country-391", "state": "off", "reason": "Nope."},
    ),
    ("/rollout/training", {"user_email": "collector@test.example", "module_id": "m1"}),
]


@pytest.mark.parametrize("role", ["manager", "collector", "trainee"])
@pytest.mark.parametrize(("url", "data"), POSTS, ids=["kill", "override", "training"])
def test_other_roles_cannot_change_rollout(
    client, auth, people, demo_plan, role, url, data
):
    auth.login(people[role].email)

    assert client.post(url, data=data).status_code == 403

    assert db.session.scalar(select(func.count()).select_from(KillSwitch)) == 0
    assert db.session.scalar(select(func.count()).select_from(Override)) == 0
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 0


def test_override_removal_needs_lead(client, auth, people, demo_plan):
    override = services.set_override(
        "activities",
        actor=people["lead"],
        reason="Key user.",
        enabled=True,
        user=people["collector"],
    )
    auth.login(people["collector"].email)

    response = client.post(
        f"/rollout/overrides/{override.id}/delete", data={"reason": "Mine now."}
    )

    assert response.status_code == 403
    assert db.session.get(Override, override.id) is not None


@pytest.mark.parametrize(
    ("role", "shown"),
    [("lead", True), ("admin", True), ("collector", False), ("manager", False)],
)
def test_rollout_nav_link(client, auth, people, demo_plan, role, shown):
    auth.login(people[role].email)

    # Project leads get a 403 page for the ageing, which has the menu too.
    page = client.get("/ageing").get_data(as_text=True)

    assert ('data-nav="rollout"' in page) is shown


def test_unknown_flag_page_is_404(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    assert client.get("/rollout/flags/chat").status_code == 404
    assert client.get("/rollout/flags/chat/kill-switch").status_code == 404


# --- timeline ----------------------------------------------------------------------


def test_timeline_grid(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/").get_data(as_text=True)

    rows = _rows(page, "timeline")
    assert rows[0] == [
        "From",
        "Wave",
        "Teams",
        "Share of users",
        "worklist",
        "activities",
        "promises",
        "disputes",
        "payments",
        "dunning",
        "letters after training letters-basics",
        "kpi_dashboard",
    ]
    assert rows[1:] == [
        ["6/1/2013", "launch", "Everyone", "100 %", "✓", "", "", "", "", "", "", "✓"],
        [
            "6/1/2013",
            "pilot",
            "country-406",
            "100 %",
            "",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "",
        ],
        [
            "7/15/2013",
            "wave-2",
            "country-391, country-818",
            "50 %",
            "",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "",
        ],
        [
            "9/2/2013",
            "wave-3",
            "Everyone",
            "100 %",
            "",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "✓",
            "",
        ],
    ]


def test_schedule_by_team(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/").get_data(as_text=True)

    rows = {row[0]: row[1:] for row in _rows(page, "schedule")[1:]}
    assert list(rows) == [
        "Everyone",
        "country-391",
        "country-406",
        "country-770",
        "country-818",
        "country-897",
    ]
    assert rows["Everyone"][:2] == ["6/1/2013", "9/2/2013"]
    assert rows["country-391"][:2] == ["6/1/2013", "7/15/2013 (50 %) 9/2/2013"]
    assert rows["country-406"][:2] == ["6/1/2013", "6/1/2013"]
    assert rows["country-770"][:2] == ["6/1/2013", "9/2/2013"]


def test_timeline_uses_french_dates_by_default(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    page = client.get("/rollout/").get_data(as_text=True)

    assert [row[0] for row in _rows(page, "timeline")[1:]] == [
        "01/06/2013",
        "01/06/2013",
        "15/07/2013",
        "02/09/2013",
    ]


def test_flags_table_counts_users(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    page = client.get("/rollout/").get_data(as_text=True)

    counts = {row[0]: row[4] for row in _rows(page, "flags")[1:]}
    # Seven users: everyone has the worklist; only the pilot collector has activities.
    assert counts["worklist"] == "7 / 7"
    assert counts["activities"] == "1 / 7"
    assert counts["letters"] == "0 / 7"


# --- flag page and explanations ----------------------------------------------------


def test_flag_page_lists_who_has_it_and_why(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/flags/activities").get_data(as_text=True)

    rows = {row[0]: row[1:] for row in _rows(page, "decisions")[1:]}
    assert rows["collector406@test.example"] == [
        "country-406",
        "collector",
        "On",
        "Wave pilot gives the feature to team country-406 since 6/1/2013.",
    ]
    bucket = normalized_hash("wave-2", str(people["collector"].id))
    if bucket <= 50:
        reason = "Wave wave-2 starts on 7/15/2013, after 6/30/2013."
    else:
        reason = "Wave wave-3 starts on 9/2/2013, after 6/30/2013."
    assert rows["collector@test.example"] == ["country-391", "collector", "Off", reason]
    assert rows["manager@test.example"][2] == "Off"
    assert _element_text(page, "enabled-count") == "1 / 7"


def test_pilot_and_later_wave_collectors_see_different_menus(
    client, auth, people, use_plan
):
    use_plan(WORKLIST_IN_WAVES)

    auth.login(people["collector_406"].email)
    pilot_menu = client.get("/ageing").get_data(as_text=True)
    auth.logout()
    auth.login(people["collector"].email)
    later_menu = client.get("/ageing").get_data(as_text=True)
    auth.logout()

    assert 'data-flag="worklist"' in pilot_menu
    assert 'data-flag="worklist"' not in later_menu

    auth.login(people["lead"].email)
    _english(client)
    pilot_page = client.get(
        f"/rollout/flags/worklist/users/{people['collector_406'].id}"
    )
    later_page = client.get(f"/rollout/flags/worklist/users/{people['collector'].id}")
    pilot_text = pilot_page.get_data(as_text=True)
    later_text = later_page.get_data(as_text=True)

    assert _element_text(pilot_text, "verdict").startswith(
        "On for this user on 6/30/2013."
    )
    assert _element_text(pilot_text, "reasons") == (
        "Wave pilot gives the feature to team country-406 since 6/1/2013."
    )
    assert _element_text(later_text, "verdict").startswith(
        "Off for this user on 6/30/2013."
    )
    assert _element_text(later_text, "reasons") == (
        "Wave pilot is for teams country-406, not country-391. "
        "Wave wave-2 starts on 7/15/2013, after 6/30/2013."
    )
    assert _element_text(later_text, "forecast") == (
        "The plan turns it on for this user from 7/15/2013, with team country-391."
    )


# --- the 404 page of a disabled feature --------------------------------------------


def test_disabled_feature_page_says_when(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["collector"].email)
    _english(client)

    response = client.get("/worklist")

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "This feature is not yet enabled for you" in page
    assert _element_text(page, "feature-forecast") == (
        "It is planned from 7/15/2013 for team country-391."
    )


def test_disabled_feature_page_in_french_dates(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["collector"].email)

    response = client.get("/worklist")

    assert response.status_code == 404
    forecast = _element_text(response.get_data(as_text=True), "feature-forecast")
    assert "15/07/2013" in forecast
    assert "country-391" in forecast


def test_disabled_feature_page_when_killed(client, auth, people, demo_plan):
    services.pull_kill_switch("worklist", actor=people["lead"], reason="Wrong totals.")
    auth.login(people["collector_406"].email)
    _english(client)

    response = client.get("/worklist")

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert _element_text(page, "feature-forecast") == (
        "The project lead has turned it off for everyone for now. It comes back "
        "when they turn it on again."
    )
    assert "<h1>This feature has been withdrawn for now</h1>" in page
    assert "not yet enabled" not in page
    assert "<title>Feature withdrawn · Cadence</title>" in page


def test_disabled_feature_page_when_prerequisite_killed(
    client, auth, people, demo_plan
):
    services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )
    services.pull_kill_switch("dunning", actor=people["lead"], reason="Wrong totals.")
    auth.login(people["collector_406"].email)
    _english(client)

    # letters requires dunning, whose kill switch is pulled.
    response = client.get("/customers/1/letters")

    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<h1>This feature has been withdrawn for now</h1>" in page
    assert _element_text(page, "feature-forecast").startswith(
        "The project lead has turned it off for everyone for now"
    )


def test_disabled_feature_page_without_date(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["manager"].email)
    _english(client)

    response = client.get("/worklist")

    assert response.status_code == 404
    assert _element_text(response.get_data(as_text=True), "feature-forecast") == (
        "No date is planned for you yet. Your project lead can tell you more."
    )


# --- kill switch -------------------------------------------------------------------


def test_kill_switch_asks_for_confirmation(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/flags/worklist/kill-switch").get_data(as_text=True)

    assert _element_text(page, "confirm-text") == (
        "Pulling the kill switch turns worklist off at once for everyone, including "
        "the 7 users who have it today, whatever the plan and the overrides say."
    )
    assert db.session.get(KillSwitch, "worklist") is None


def test_kill_switch_confirmation_when_nobody_has_it(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/flags/letters/kill-switch").get_data(as_text=True)

    assert _element_text(page, "confirm-text") == (
        "Pulling the kill switch turns letters off at once for everyone, whatever the "
        "plan and the overrides say. Nobody has it today."
    )


def test_kill_switch_needs_reason(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    response = client.post(
        "/rollout/flags/worklist/kill-switch", data={"action": "pull", "reason": ""}
    )

    assert response.status_code == 200
    assert db.session.get(KillSwitch, "worklist") is None


def test_kill_switch_pull_and_release(app, client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    response = client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "pull", "reason": "Wrong totals."},
    )

    assert response.status_code == 302
    version = get_runtime(app).last_snapshot.version
    assert response.headers["Location"] == f"/rollout/flags/worklist?version={version}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "worklist is now off for everyone." in page
    assert _element_text(page, "kill-switch-state").startswith(
        "Pulled by lead@test.example on "
    )
    assert _element_text(page, "enabled-count") == "0 / 7"

    client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "release", "reason": "Fixed."},
    )

    assert db.session.get(KillSwitch, "worklist") is None
    audit_page = client.get("/rollout/audit").get_data(as_text=True)
    actions = [row[2:5] for row in _rows(audit_page, "audit")[1:]]
    assert actions[:2] == [
        ["rollout.kill_switch", "worklist", "Fixed."],
        ["rollout.kill_switch", "worklist", "Wrong totals."],
    ]


def test_kill_switch_stale_request_rejected(client, auth, people, demo_plan):
    services.pull_kill_switch("worklist", actor=people["lead"], reason="Wrong totals.")
    auth.login(people["admin"].email)
    _english(client)

    # A second lead sends the pull form they opened before the first pulled it.
    response = client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "pull", "reason": "Totals look wrong."},
    )

    assert response.status_code == 302
    assert db.session.get(KillSwitch, "worklist") is not None
    page = client.get("/rollout/flags/worklist").get_data(as_text=True)
    assert (
        "The kill switch of worklist changed in the meantime. Check its state and "
        "try again."
    ) in html_lib.unescape(page)


def test_kill_switch_unknown_action_rejected(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    response = client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "explode", "reason": "Why not."},
    )

    assert response.status_code == 200
    assert db.session.get(KillSwitch, "worklist") is None


# --- overrides ---------------------------------------------------------------------


def test_override_form_for_user(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    response = client.post(
        "/rollout/flags/activities/overrides",
        data={
            "target": "user",
            "user_email": "collector@test.example",
            "state": "on",
            "reason": "Key user for the pilot.",
        },
    )

    assert response.status_code == 302
    override = db.session.scalar(select(Override))
    assert (override.flag, override.user_id, override.enabled, override.reason) == (
        "activities",
        people["collector"].id,
        True,
        "Key user for the pilot.",
    )
    page = client.get("/rollout/flags/activities").get_data(as_text=True)
    assert _rows(page, "overrides")[1][:3] == [
        "collector@test.example",
        "Forced on",
        "Key user for the pilot.",
    ]


def test_override_form_for_team(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    client.post(
        "/rollout/flags/activities/overrides",
        data={
            "target": "team",
            "team": "country-406",
            "state": "off",
            "reason": "Audit.",
        },
    )

    override = db.session.scalar(select(Override))
    assert (override.team.code, override.enabled) == ("country-406", False)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {
                "target": "user",
                "user_email": "nobody@test.example",
                "state": "on",
                "reason": "x",
            },
            "No user has the email nobody@test.example.",
        ),
        (
            {"target": "user", "user_email": "", "state": "on", "reason": "x"},
            "Enter the user's email.",
        ),
        (
            {"target": "team", "team": "", "state": "on", "reason": "x"},
            "Choose a team.",
        ),
    ],
    ids=["unknown user", "no email", "no team"],
)
def test_override_form_rejects_bad_input(client, auth, people, demo_plan, data, error):
    auth.login(people["lead"].email)
    _english(client)

    response = client.post("/rollout/flags/activities/overrides", data=data)

    assert response.status_code == 400
    assert error in html_lib.unescape(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(Override)) == 0


def test_override_form_needs_reason(client, auth, people, demo_plan):
    auth.login(people["lead"].email)

    response = client.post(
        "/rollout/flags/activities/overrides",
        data={
            "target": "user",
            "user_email": "collector@test.example",
            "state": "on",
            "reason": "",
        },
    )

    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Override)) == 0


def test_remove_override_from_page(client, auth, people, demo_plan):
    override = services.set_override(
        "activities",
        actor=people["lead"],
        reason="Key user.",
        enabled=True,
        user=people["collector"],
    )
    auth.login(people["lead"].email)

    without_reason = client.post(
        f"/rollout/overrides/{override.id}/delete?flag=activities", data={"reason": ""}
    )
    assert without_reason.status_code == 302
    assert db.session.get(Override, override.id) is not None

    client.post(
        f"/rollout/overrides/{override.id}/delete?flag=activities",
        data={"reason": "Wave 2 covers it."},
    )

    assert db.session.scalar(select(func.count()).select_from(Override)) == 0
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == "rollout.override")
        .order_by(AuditEntry.id.desc())
    )
    assert (entry.reason, entry.after) == ("Wave 2 covers it.", None)


# --- audit and training ------------------------------------------------------------


def test_audit_page_lists_rollout_actions_only(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    client.get("/rollout/")

    page = client.get("/rollout/audit").get_data(as_text=True)

    actions = {row[2] for row in _rows(page, "audit")[1:]}
    assert actions == {"rollout.plan"}


def test_training_page_records_pass(client, auth, people, demo_plan):
    auth.login(people["admin"].email)

    response = client.post(
        "/rollout/training",
        data={"user_email": "collector406@test.example", "module_id": "letters-basics"},
    )

    assert response.status_code == 302
    passed = db.session.scalar(select(TrainingModulePass))
    assert (passed.user_id, passed.module_id) == (
        people["collector_406"].id,
        "letters-basics",
    )
    page = client.get("/rollout/training").get_data(as_text=True)
    assert _rows(page, "passes")[1][:2] == [
        "collector406@test.example",
        "letters-basics",
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"user_email": "nobody@test.example", "module_id": "m1"},
            "No user has the email nobody@test.example.",
        ),
        (
            {"user_email": "collector@test.example", "module_id": "a,b"},
            "Use letters, digits, '-', '_' or '.'.",
        ),
        (
            {"user_email": "collector@test.example", "module_id": ""},
            "This field is required.",
        ),
    ],
    ids=["unknown user", "bad module", "no module"],
)
def test_training_page_rejects_bad_input(client, auth, people, demo_plan, data, error):
    auth.login(people["admin"].email)
    _english(client)

    response = client.post("/rollout/training", data=data)

    assert response.status_code == 400
    assert error in html_lib.unescape(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 0


# --- banner ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "shown"),
    [("lead", True), ("admin", True), ("collector_406", False), ("manager", False)],
)
def test_invalid_plan_banner(client, auth, people, demo_plan, role, shown):
    demo_plan.write_text(
        DEMO_PLAN.read_text(encoding="utf-8").replace("percent: 50", "percent: 500"),
        encoding="utf-8",
    )
    auth.login(people[role].email)
    _english(client)

    page = client.get("/ageing" if role != "lead" else "/rollout/").get_data(
        as_text=True
    )

    assert ('id="plan-errors"' in page) is shown
    if shown:
        assert "Line 20: Invalid percent 500." in _element_text(page, "plan-errors")


def test_banner_gone_once_plan_fixed(client, auth, people, demo_plan):
    text = DEMO_PLAN.read_text(encoding="utf-8")
    demo_plan.write_text(text.replace("percent: 50", "percent: 500"), encoding="utf-8")
    auth.login(people["lead"].email)
    assert 'id="plan-errors"' in client.get("/rollout/").get_data(as_text=True)

    demo_plan.write_text(text, encoding="utf-8")

    assert 'id="plan-errors"' not in client.get("/rollout/").get_data(as_text=True)


# --- the reason on the flag page ---------------------------------------------------

# The worklist reaches country-391 in wave-2, before the wave for everyone.
WORKLIST_THREE_WAVES = """\
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
  worklist:
"""


def test_flag_page_reason_names_wave_that_turns_it_on(client, auth, people, use_plan):
    use_plan(WORKLIST_THREE_WAVES)
    auth.login(people["lead"].email)
    _english(client)

    flag_page = client.get("/rollout/flags/worklist").get_data(as_text=True)
    user_page = client.get(
        f"/rollout/flags/worklist/users/{people['collector'].id}"
    ).get_data(as_text=True)

    reason = {row[0]: row[4] for row in _rows(flag_page, "decisions")[1:]}[
        "collector@test.example"
    ]
    assert reason == "Wave wave-2 starts on 7/15/2013, after 6/30/2013."
    assert reason in _element_text(user_page, "reasons")
    assert _element_text(user_page, "forecast") == (
        "The plan turns it on for this user from 7/15/2013, with team country-391."
    )


def test_flag_page_reason_agrees_with_explain_command(
    client, auth, people, use_plan, runner
):
    use_plan(WORKLIST_THREE_WAVES)
    auth.login(people["lead"].email)
    _english(client)

    flag_page = client.get("/rollout/flags/worklist").get_data(as_text=True)
    result = runner.invoke(
        args=["rollout", "explain", "worklist", "--user", "collector@test.example"]
    )

    reasons = {row[0]: row[4] for row in _rows(flag_page, "decisions")[1:]}
    assert reasons["collector@test.example"] == (
        "Wave wave-2 starts on 7/15/2013, after 6/30/2013."
    )
    assert result.stdout.splitlines()[-1] == (
        "The plan turns it on from 2013-07-15 for team country-391."
    )
    assert "  - Wave wave-2 starts on 2013-07-15, after 2013-06-30." in (
        result.stdout.splitlines()
    )


def test_flag_page_reason_for_user_outside_percent(client, auth, people, use_plan):
    use_plan(
        WORKLIST_THREE_WAVES.replace("teams: [country-391]", _wave_2_outside(people))
    )
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/flags/worklist").get_data(as_text=True)

    reasons = {row[0]: row[4] for row in _rows(page, "decisions")[1:]}
    assert reasons["collector@test.example"] == (
        "Wave everyone starts on 9/2/2013, after 6/30/2013."
    )


def _wave_2_outside(people) -> str:
    """Return wave-2's teams and a percent that leaves the country-391 collector out."""
    bucket = normalized_hash("wave-2", str(people["collector"].id))
    return f"teams: [country-391]\n    percent: {bucket - 1}" if bucket > 1 else ""


# --- explanations for users without a team -----------------------------------------


def test_explain_page_for_user_without_team(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["lead"].email)
    _english(client)

    page = client.get(f"/rollout/flags/worklist/users/{people['manager'].id}").get_data(
        as_text=True
    )

    assert _element_text(page, "no-team") == (
        "This user has no team, so only a wave with teams: all or an override can "
        "give them worklist."
    )


def test_explain_page_for_user_with_team_has_no_note(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["lead"].email)

    page = client.get(
        f"/rollout/flags/worklist/users/{people['collector'].id}"
    ).get_data(as_text=True)

    assert 'id="no-team"' not in page


# --- the page after a change -------------------------------------------------------


@pytest.fixture
def slow_refresh(app, monkeypatch):
    """Refresh only on request, as if the refresh interval never ran out."""
    monkeypatch.setitem(app.config, "ROLLOUT_REFRESH_SECONDS", 3600)


def test_kill_switch_reloads_this_worker_at_once(
    app, client, auth, people, demo_plan, slow_refresh
):
    auth.login(people["lead"].email)
    _english(client)
    client.get("/rollout/flags/worklist")
    before = get_runtime(app).last_snapshot

    pulled = client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "pull", "reason": "Wrong totals."},
    )
    after_pull = get_runtime(app).last_snapshot
    page = client.get(pulled.headers["Location"]).get_data(as_text=True)

    assert set(after_pull.kill_switches) == {"worklist"}
    assert after_pull.version == before.version + 1
    assert _element_text(page, "kill-switch-state").startswith("Pulled by lead@")
    assert _element_text(page, "enabled-count") == "0 / 7"

    client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "release", "reason": "Fixed."},
    )

    assert get_runtime(app).last_snapshot.kill_switches == {}


def test_override_reloads_this_worker_at_once(
    app, client, auth, people, demo_plan, slow_refresh
):
    auth.login(people["lead"].email)
    client.get("/rollout/flags/activities")

    client.post(
        "/rollout/flags/activities/overrides",
        data={
            "target": "user",
            "user_email": "collector@test.example",
            "state": "on",
            "reason": "Key user.",
        },
    )
    [override] = get_runtime(app).last_snapshot.overrides
    client.post(
        f"/rollout/overrides/{override.id}/delete?flag=activities",
        data={"reason": "Done."},
    )

    assert (override.flag, override.user_id, override.enabled) == (
        "activities",
        people["collector"].id,
        True,
    )
    assert get_runtime(app).last_snapshot.overrides == ()


def test_flag_page_reloads_for_newer_version(
    app, client, auth, people, demo_plan, slow_refresh
):
    auth.login(people["lead"].email)
    _english(client)
    client.get("/rollout/flags/worklist")
    # Another worker pulls the kill switch: the rows change, this worker's state not.
    db.session.add(
        KillSwitch(flag="worklist", reason="Wrong totals.", created_by_id=None)
    )
    db.session.execute(
        update(RolloutState)
        .where(RolloutState.id == STATE_ROW_ID)
        .values(version=RolloutState.version + 1)
    )
    db.session.commit()
    version = db.session.scalar(
        select(RolloutState.version).where(RolloutState.id == STATE_ROW_ID)
    )

    stale = client.get("/rollout/flags/worklist").get_data(as_text=True)
    fresh = client.get(f"/rollout/flags/worklist?version={version}").get_data(
        as_text=True
    )

    assert _element_text(stale, "kill-switch-state").startswith("Not pulled")
    assert _element_text(fresh, "kill-switch-state").startswith("Pulled by ")


# --- home page ---------------------------------------------------------------------


def test_home_page_when_worklist_is_off(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["collector"].email)
    _english(client)

    response = client.get("/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Welcome, Collector</h1>" in page
    assert 'data-flag="worklist"' not in page


def test_home_redirects_to_worklist_when_on(client, auth, people, use_plan):
    use_plan(WORKLIST_IN_WAVES)
    auth.login(people["collector_406"].email)

    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/worklist"


# --- audit details -----------------------------------------------------------------


def test_audit_page_shows_readable_details(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)
    client.post(
        "/rollout/flags/worklist/kill-switch",
        data={"action": "pull", "reason": "Wrong totals."},
    )

    page = client.get("/rollout/audit").get_data(as_text=True)

    rows = _rows(page, "audit")[1:]
    kill_row = next(row for row in rows if row[2] == "rollout.kill_switch")
    plan_row = next(row for row in rows if row[2] == "rollout.plan")
    assert kill_row[5:] == ["kill_switch: no", "kill_switch: yes"]
    digest = db.session.scalar(
        select(RolloutState.plan_digest).where(RolloutState.id == STATE_ROW_ID)
    )
    assert plan_row[1] == str(demo_plan)
    assert plan_row[3] == "plan.yaml"
    assert plan_row[5] == ""
    assert plan_row[6] == (
        f"path: {demo_plan} digest: {digest[:12]} strategy: phased flags: worklist, "
        "activities, promises, disputes, payments, dunning, letters, kpi_dashboard"
    )


# --- overview ----------------------------------------------------------------------


def test_overview_lists_plan_warnings(client, auth, people, demo_plan):
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/").get_data(as_text=True)

    assert _element_text(page, "plan-warnings") == (
        "The plan is valid, but check these points: Line 49: The plan gates flags "
        "on training modules that Cadence cannot check: letters-basics (letters). "
        "Make sure each module exists and that passes are recorded for it, because "
        "a gated flag stays off for every user who has not passed it."
    )


def test_overview_descriptions_from_catalogue_or_plan(client, auth, people, use_plan):
    use_plan(
        "strategy: big_bang\ncutover: 2013-06-01\nflags:\n  worklist:\n"
        "  dunning:\n    description: Our dunning, step by step.\n"
    )
    auth.login(people["lead"].email)
    _english(client)

    page = client.get("/rollout/").get_data(as_text=True)

    descriptions = {row[0]: row[1] for row in _rows(page, "flags")[1:]}
    assert descriptions == {
        "worklist": "Prioritised worklist of customers with overdue invoices.",
        "dunning": "Our dunning, step by step.",
    }


# --- training passes ---------------------------------------------------------------


def _flashes(page: str) -> list[str]:
    return [
        _text(message)
        for message in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)
    ]


def test_training_page_second_pass_is_no_op(client, auth, people, demo_plan):
    auth.login(people["admin"].email)
    _english(client)
    data = {"user_email": "collector406@test.example", "module_id": "letters-basics"}
    client.post("/rollout/training", data=data, follow_redirects=True)

    response = client.post("/rollout/training", data=data, follow_redirects=True)

    [message] = _flashes(response.get_data(as_text=True))
    assert message.startswith(
        "collector406@test.example already passed module letters-basics on "
    )
    assert message.endswith(". Nothing changed.")
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 1


def test_training_page_warns_about_unused_module(client, auth, people, demo_plan):
    auth.login(people["admin"].email)
    _english(client)

    response = client.post(
        "/rollout/training",
        data={"user_email": "collector@test.example", "module_id": "dunning-101"},
        follow_redirects=True,
    )

    assert _flashes(response.get_data(as_text=True)) == [
        "No flag of the rollout plan is gated on module dunning-101, so this changes "
        "no feature. Modules of the plan: letters-basics.",
        "collector@test.example passed module dunning-101.",
    ]


def test_training_page_revokes_pass(client, auth, people, demo_plan):
    change = services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )
    passed = db.session.scalar(select(TrainingModulePass))
    auth.login(people["admin"].email)
    _english(client)

    page = client.get("/rollout/training").get_data(as_text=True)
    response = client.post(
        f"/rollout/training/{passed.id}/revoke", follow_redirects=True
    )

    assert change.changed is True
    assert f'action="/rollout/training/{passed.id}/revoke"' in page
    assert _flashes(response.get_data(as_text=True)) == [
        "The pass of collector406@test.example for module letters-basics is revoked."
    ]
    assert db.session.scalar(select(func.count()).select_from(TrainingModulePass)) == 0
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "rollout.module_revoked")
    )
    assert entry.actor_label == "admin@test.example"


def test_training_revoke_needs_csrf_token(app, client, auth, people, demo_plan):
    services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )
    passed = db.session.scalar(select(TrainingModulePass))
    auth.login(people["admin"].email)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get("/rollout/training").get_data(as_text=True)
        without_token = client.post(f"/rollout/training/{passed.id}/revoke")
        token = re.search(
            rf'action="/rollout/training/{passed.id}/revoke"[^>]*>\s*'
            r'<input type="hidden" name="csrf_token" value="([^"]+)"',
            page,
        ).group(1)
        with_token = client.post(
            f"/rollout/training/{passed.id}/revoke", data={"csrf_token": token}
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False

    assert without_token.status_code == 400
    assert with_token.status_code == 302
    assert db.session.scalar(select(TrainingModulePass)) is None


def test_training_revoke_of_removed_pass(client, auth, people, demo_plan):
    auth.login(people["admin"].email)
    _english(client)

    response = client.post("/rollout/training/999999/revoke", follow_redirects=True)

    assert _flashes(response.get_data(as_text=True)) == [
        "This pass no longer exists. Nothing changed."
    ]


@pytest.mark.parametrize("role", ["lead", "manager", "collector"])
def test_training_revoke_for_admins_only(client, auth, people, demo_plan, role):
    services.record_module_pass(
        people["collector_406"], "letters-basics", actor_label="cli"
    )
    passed = db.session.scalar(select(TrainingModulePass))
    auth.login(people[role].email)

    response = client.post(f"/rollout/training/{passed.id}/revoke")

    assert response.status_code == 403
    assert db.session.scalar(select(TrainingModulePass)) is not None
