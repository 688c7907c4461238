"""The rate tables in use, and the admins' banner when one lacks the current semester.

The shipped tables end with 2026-H1, so on 2026-12-04 the semester 2026-H2 is missing
from both until an admin adds it.
"""

import datetime as dt
import shutil

import pytest
from flask_babel import force_locale

from app.collection.penalty import ECB_RATES_PATH, LEGAL_RATES_PATH
from app.collection.rates import rate_table_problems

IN_2026_H2 = "2026-12-04"


def _with_2026_h2(tmp_path, source, name, rate):
    path = tmp_path / name
    shutil.copy(source, path)
    with path.open("a", encoding="utf-8") as table:
        table.write(f'- semester: 2026-H2\n  rate: "{rate}"\n')
    return path


def test_no_problem_while_semester_is_listed(app):
    assert rate_table_problems(dt.date(2013, 6, 30)) == []


def test_missing_semester_named_for_each_table(app):
    with force_locale("en"):
        problems = [
            str(problem) for problem in rate_table_problems(dt.date(2026, 12, 4))
        ]

    assert problems == [
        f"The table of ECB main refinancing rates ({ECB_RATES_PATH}) has no rate for "
        "2026-H2, the current semester: late-payment interest on its days, and the "
        "overdue letters that claim it, cannot be computed until an admin adds it.",
        f"The table of legal interest rates ({LEGAL_RATES_PATH}) has no rate for "
        "2026-H2, the current semester: late-payment interest on its days, and the "
        "overdue letters that claim it, cannot be computed until an admin adds it.",
    ]


def test_configured_tables_replace_the_shipped_ones(app, tmp_path):
    app.config["ECB_RATES_FILE"] = str(
        _with_2026_h2(tmp_path, ECB_RATES_PATH, "ecb.yaml", "2.15")
    )
    app.config["LEGAL_RATES_FILE"] = str(
        _with_2026_h2(tmp_path, LEGAL_RATES_PATH, "legal.yaml", "2.62")
    )
    try:
        assert rate_table_problems(dt.date(2026, 12, 4)) == []
    finally:
        app.config["ECB_RATES_FILE"] = app.config["LEGAL_RATES_FILE"] = ""


def test_unreadable_table_is_a_problem(app, tmp_path):
    broken = tmp_path / "ecb.yaml"
    broken.write_text("- semester: 2026-H3\n  rate: x\n", encoding="utf-8")
    app.config["ECB_RATES_FILE"] = str(broken)
    try:
        problems = [str(p) for p in rate_table_problems(dt.date(2013, 6, 30))]
    finally:
        app.config["ECB_RATES_FILE"] = ""

    assert len(problems) == 1
    assert problems[0].startswith(
        f"La table des taux de refinancement de la BCE ({broken}) est illisible"
    )


@pytest.mark.parametrize(
    "email, shown",
    [
        ("admin@test.example", True),
        ("manager@test.example", False),
        ("collector@test.example", False),
    ],
)
def test_banner_only_for_admins(app, client, auth, users, email, shown):
    app.config["BUSINESS_DATE"] = IN_2026_H2
    auth.login(email)

    html = client.get("/", follow_redirects=True).get_data(as_text=True)

    assert ('id="rate-table-problems"' in html) is shown
    if shown:
        assert "n’a pas de taux pour 2026-H2, le semestre en cours" in html


def test_penalty_command_uses_configured_table(app, runner, tmp_path):
    app.config["ECB_RATES_FILE"] = str(
        _with_2026_h2(tmp_path, ECB_RATES_PATH, "ecb.yaml", "2.15")
    )
    try:
        result = runner.invoke(
            args=[
                "dunning",
                "penalty",
                "--amount",
                "1000.00",
                "--due",
                "2026-11-01",
                "--as-of",
                IN_2026_H2,
                "--json",
            ]
        )
    finally:
        app.config["ECB_RATES_FILE"] = ""

    assert result.exit_code == 0, result.output
    # 2026-11-02 to 2026-12-04 is 33 days at 2.15 + 10 = 12.15 %:
    # 1000 x 0.1215 x 33 / 365 = 10.9849 -> 10.98.
    assert '"days_late": 33' in result.output
    assert '"interest": "10.98"' in result.output


def test_penalty_command_names_missing_semester(app, runner):
    result = runner.invoke(
        args=[
            "dunning",
            "penalty",
            "--amount",
            "1000.00",
            "--due",
            "2026-11-01",
            "--as-of",
            IN_2026_H2,
        ]
    )

    assert result.exit_code == 1
    assert "2026-H2" in result.output
