"""Run the Unleash client specification test cases against the engine.

The JSON files are a subset of ``@unleash/client-specification`` 6.1.0, which every
Unleash SDK runs to check that it evaluates toggles like the others.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.rollout.engine import Engine

SPECIFICATION_DIR = (
    Path(__file__).resolve().parent.parent / "data" / "unleash-client-specification"
)


@cache
def load_suite(file_name: str) -> dict[str, Any]:
    return json.loads((SPECIFICATION_DIR / file_name).read_text(encoding="utf-8"))


@cache
def engine_for(file_name: str) -> Engine:
    return Engine(load_suite(file_name)["state"])


def collect_cases(key: str) -> list[Any]:
    """Build one pytest parameter per entry under ``key`` in every suite file."""
    cases = []
    for path in sorted(SPECIFICATION_DIR.glob("*.json")):
        for case in load_suite(path.name).get(key, []):
            case_id = f"{path.stem}: {case['description']}"
            cases.append(pytest.param(path.name, case, id=case_id))
    return cases


TOGGLE_CASES = collect_cases("tests")
VARIANT_CASES = [param.values for param in collect_cases("variantTests")]


def test_suite_files_present() -> None:
    names = sorted(path.name for path in SPECIFICATION_DIR.glob("*.json"))
    assert names == [
        "01-simple-examples.json",
        "02-user-with-id-strategy.json",
        "03-gradual-rollout-user-id-strategy.json",
        "07-multiple-strategies.json",
        "09-strategy-constraints.json",
        "10-flexible-rollout-strategy.json",
        "11-strategy-constraints-edge-cases.json",
        "13-constraint-operators.json",
    ]
    assert len(TOGGLE_CASES) == 101


@pytest.mark.parametrize(("file_name", "case"), TOGGLE_CASES)
def test_spec_is_enabled(file_name: str, case: dict[str, Any]) -> None:
    engine = engine_for(file_name)

    result = engine.is_enabled(case["toggleName"], case["context"])

    assert result is case["expectedResult"]


@pytest.mark.parametrize(("file_name", "case"), TOGGLE_CASES)
def test_spec_explain_agrees(file_name: str, case: dict[str, Any]) -> None:
    engine = engine_for(file_name)

    explanation = engine.explain(case["toggleName"], case["context"])

    assert explanation.enabled is case["expectedResult"]
    assert explanation.reasons


def test_spec_variants() -> None:
    # The bundled subset of the specification has no variantTests. The loop runs
    # them if a later copy adds some, and the engine's own tests cover variants.
    for file_name, case in VARIANT_CASES:
        engine = engine_for(file_name)
        expected = case["expectedResult"]

        variant = engine.get_variant(case["toggleName"], case["context"])

        assert variant["name"] == expected["name"], case["description"]
        assert variant["enabled"] is expected["enabled"], case["description"]
        assert variant["feature_enabled"] is expected["feature_enabled"]
        assert variant.get("payload") == expected.get("payload")
