"""JUnit XML of the budget verdicts, so CI systems show each budget as a test case."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from reports.atomic import write_atomic
from reports.figures import measured
from reports.result import RunResult

JUNIT_FILE = "junit.xml"


def junit_xml(result: RunResult) -> str:
    failures = sum(1 for b in result.budgets if b.passed is False)
    skipped = sum(1 for b in result.budgets if b.passed is None)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"loadgate.{result.scenario}",
        tests=str(len(result.budgets)),
        failures=str(failures),
        skipped=str(skipped),
        time=f"{result.load_duration_s:.3f}",
    )
    for budget in result.budgets:
        case = ET.SubElement(
            suite, "testcase", classname=f"loadgate.{result.scenario}", name=budget.name
        )
        observed = measured(budget.observed, budget.unit)
        if budget.passed is None:
            ET.SubElement(case, "skipped", message=f"{budget.name}: not measured")
        elif not budget.passed:
            ET.SubElement(
                case,
                "failure",
                message=(
                    f"{budget.name}: {observed}, beyond its limit "
                    f"{measured(budget.limit, budget.unit)}"
                ),
            )
    return ET.tostring(suites, encoding="unicode")


def write_junit(result: RunResult, run_dir: Path) -> Path:
    path = run_dir / JUNIT_FILE
    write_atomic(path, '<?xml version="1.0" encoding="utf-8"?>\n' + junit_xml(result))
    return path
