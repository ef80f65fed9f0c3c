"""JUnit XML of the verdicts, so CI systems show each as a test case: a run's budgets and
checks, or a compare's metrics and the problems that fail it whatever the metrics say (one file
for the compare, so a merge request's test tab shows the compare's verdict, not its rounds')."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from reports.atomic import write_atomic
from reports.compare_figures import metric_row
from reports.compare_result import CompareResult
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


def compare_junit_xml(result: CompareResult) -> str:
    """One test case per metric (a regression fails it, no interval skips it) and one per
    problem of the compare (an untrusted round, an always-on check only the head failed)."""
    name = f"loadgate.compare.{result.scenario}"
    cases: list[tuple[str, str | None, str | None]] = []
    for metric in result.metrics:
        row = metric_row(metric)
        if metric.verdict == "regressed":
            failure = (
                f"{row.metric} regressed: {row.change} (interval {row.interval}, "
                f"threshold {row.threshold})"
            )
            cases.append((metric.metric, failure, None))
        elif metric.low is None or metric.high is None:
            cases.append((metric.metric, None, f"{row.metric}: no interval"))
        else:
            cases.append((metric.metric, None, None))
    cases += [
        (f"problem {number}", problem, None) for number, problem in enumerate(result.problems, 1)
    ]
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(1 for _, failure, _ in cases if failure)),
        skipped=str(sum(1 for _, _, skipped in cases if skipped)),
    )
    for case_name, failed, skipped in cases:
        case = ET.SubElement(suite, "testcase", classname=name, name=case_name)
        if failed:
            ET.SubElement(case, "failure", message=failed)
        elif skipped:
            ET.SubElement(case, "skipped", message=skipped)
    return ET.tostring(suites, encoding="unicode")


def write_junit(result: RunResult | CompareResult, directory: Path) -> Path:
    path = directory / JUNIT_FILE
    text = compare_junit_xml(result) if isinstance(result, CompareResult) else junit_xml(result)
    write_atomic(path, '<?xml version="1.0" encoding="utf-8"?>\n' + text)
    return path
