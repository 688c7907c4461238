"""Fail CI when a run skipped a test or left out the PostgreSQL or browser tests."""

import sys
import xml.etree.ElementTree as ET

# Tests whose presence proves the real components ran: (report, test name part).
REQUIRED = [
    ("postgresql.xml", "test_runs_on_postgresql"),
    ("sqlite.xml", "test_collector_reads_worklist"),
    ("postgresql.xml", "test_collector_reads_worklist"),
]


def main(paths: list[str]) -> int:
    problems = []
    passed_by_report: dict[str, list[str]] = {}
    for path in paths:
        tree = ET.parse(path)
        report = path.rsplit("/", 1)[-1]
        passed = passed_by_report.setdefault(report, [])
        for case in tree.iter("testcase"):
            name = case.get("name", "")
            outcome = [child.tag for child in case]
            if "skipped" in outcome:
                problems.append(f"{report}: {case.get('classname')}::{name} was skipped")
            elif not ({"failure", "error"} & set(outcome)):
                passed.append(name)
        total = sum(1 for _ in tree.iter("testcase"))
        print(f"ci: {report}: {total} tests, {len(passed)} passed")
    for report, fragment in REQUIRED:
        if not any(fragment in name for name in passed_by_report.get(report, ())):
            problems.append(f"{report}: no passing test named like {fragment}")
    for problem in problems:
        print("ci: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
