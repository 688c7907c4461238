"""``dunning penalty`` command, invoked through click's CliRunner without an app."""

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.collection import cli
from app.collection.cli import dunning
from app.collection.penalty import LEGAL_RATES_PATH

# Due 2013-05-15, paid 2013-08-10 on 10000.00, as in test_penalty.py:
# 46 days at 10.75 % (135.479...) and 41 days at 10.50 % (117.945...),
# exact sum 253.424... -> 253.42.
BOUNDARY_CASE = ["--amount", "10000.00", "--due", "2013-05-15", "--paid", "2013-08-10"]


def run_penalty(*args: str):
    return CliRunner().invoke(dunning, ["penalty", *args, "--as-of", "2030-01-01"])


def test_penalty_json_output():
    result = run_penalty(*BOUNDARY_CASE, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "days_late": 87,
        "interest": "253.42",
        "indemnity": "40.00",
        "total": "293.42",
        "rate_basis": "statutory",
        "segments": [
            {
                "start": "2013-05-16",
                "end": "2013-06-30",
                "days": 46,
                "rate": "10.75",
                "rate_basis": "statutory",
                "interest": "135.48",
            },
            {
                "start": "2013-07-01",
                "end": "2013-08-10",
                "days": 41,
                "rate": "10.50",
                "rate_basis": "statutory",
                "interest": "117.95",
            },
        ],
    }


def test_penalty_table_output():
    result = run_penalty(*BOUNDARY_CASE)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Days late:  87" in lines
    assert "Rate basis: statutory" in lines
    assert any(
        line.split() == ["2013-05-16..2013-06-30", "46", "10.75", "135.48", "statutory"]
        for line in lines
    )
    assert any(line.split() == ["Interest", "253.42"] for line in lines)
    assert any(line.split() == ["Indemnity", "40.00"] for line in lines)
    assert any(line.split() == ["Total", "293.42"] for line in lines)
    # The segments shown sum to 253.43, so the output explains the difference.
    assert "rounded once" in result.stdout


def test_penalty_not_late_table_output():
    result = run_penalty(
        "--amount", "100", "--due", "2024-03-01", "--paid", "2024-03-01"
    )

    assert result.exit_code == 0, result.output
    assert "Days late:  0" in result.stdout
    assert "Period" not in result.stdout


def test_penalty_as_of_defaults_to_business_today(monkeypatch):
    # Unpaid 2000.00 due 2025-06-10 on 2025-07-15, as in test_penalty.py:
    # 14.410... + 9.986... = 24.397... -> 24.40.
    monkeypatch.setattr(cli, "business_today", lambda: date(2025, 7, 15))

    result = CliRunner().invoke(
        dunning, ["penalty", "--amount", "2000.00", "--due", "2025-06-10", "--json"]
    )

    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["days_late"] == 35
    assert output["interest"] == "24.40"


def test_penalty_contract_rate_json():
    # Contract 5.00 % in 2024-H1 is raised to 3 x 5.07 = 15.21 %:
    # 1000 x 15.21 x 30 / 36500 = 12.501... -> 12.50.
    result = run_penalty(
        "--amount",
        "1000.00",
        "--due",
        "2024-03-31",
        "--paid",
        "2024-04-30",
        "--contract-rate",
        "5",
        "--json",
    )

    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["rate_basis"] == "contract"
    assert output["interest"] == "12.50"
    assert output["segments"][0]["rate"] == "15.21"
    assert output["segments"][0]["rate_basis"] == "legal_floor"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--amount", "abc"),
        ("--amount", "0"),
        ("--amount", "-5"),
        ("--amount", "NaN"),
        ("--due", "2024-13-01"),
        ("--due", "20240101"),
        ("--due", "yesterday"),
        ("--paid", "2024-02-30"),
        ("--as-of", "2024/03/01"),
        ("--contract-rate", "-1"),
        ("--contract-rate", "12%"),
    ],
)
def test_penalty_rejects_bad_option(option, value):
    options = {"--amount": "100", "--due": "2024-03-01", "--as-of": "2024-06-01"}
    options[option] = value
    args = [item for pair in options.items() for item in pair]

    result = CliRunner().invoke(dunning, ["penalty", *args])

    assert result.exit_code == 2
    assert option in result.output
    assert repr(value) in result.output


def test_penalty_rejects_paid_after_as_of():
    result = CliRunner().invoke(
        dunning,
        [
            "penalty",
            *["--amount", "100", "--due", "2024-03-01"],
            *["--paid", "2024-03-10", "--as-of", "2024-03-05"],
        ],
    )

    assert result.exit_code == 2
    assert "--paid" in result.output
    assert "2024-03-10 is after the computation date 2024-03-05" in result.output


def test_penalty_missing_semester_fails(tmp_path: Path):
    table = tmp_path / "ecb.yaml"
    table.write_text('- semester: 2013-H1\n  rate: "0.75"\n', encoding="utf-8")

    result = run_penalty(*BOUNDARY_CASE, "--rate-table", str(table))

    assert result.exit_code == 1
    assert "No ECB main refinancing rate for semester 2013-H2" in result.output
    assert str(table) in result.output


def test_penalty_missing_legal_rate_fails():
    result = run_penalty(*BOUNDARY_CASE, "--contract-rate", "12")

    assert result.exit_code == 1
    assert "No legal interest rate for semester 2013-H1" in result.output
    assert LEGAL_RATES_PATH.name in result.output


def test_penalty_invalid_rate_table_is_usage_error(tmp_path: Path):
    table = tmp_path / "ecb.yaml"
    table.write_text('- semester: 2013-H1\n  rate: "0,75"\n', encoding="utf-8")

    result = run_penalty(*BOUNDARY_CASE, "--rate-table", str(table))

    assert result.exit_code == 2
    assert "--rate-table" in result.output
    assert "invalid rate '0,75'" in result.output


def test_penalty_rate_table_not_found(tmp_path: Path):
    missing = tmp_path / "absent.yaml"

    result = run_penalty(*BOUNDARY_CASE, "--rate-table", str(missing))

    assert result.exit_code == 2
    assert "--rate-table" in result.output
