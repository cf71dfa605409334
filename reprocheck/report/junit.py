"""JUnit XML report: one testcase per scenario, a ``failure`` on drift.

CI systems that show JUnit results (GitLab, Jenkins, Azure, GitHub test reporters) then
list each scenario as a test with the first divergence as its failure message.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reprocheck.comparison.result import ComparisonResult
from reprocheck.comparison.summary import divergence_phrase
from reprocheck.report.text import env_value, render_text, tensor_line

__all__ = ["render_junit"]


def render_junit(result: ComparisonResult) -> str:
    """The result as a JUnit XML document (``<testsuites>`` with one ``<testsuite>``)."""
    suites = ET.Element("testsuites", name="reprocheck")
    cases = result.scenarios or ()
    failures = sum(1 for s in cases if s.verdict == "drift")
    count = len(cases) if cases else 1
    if not cases:
        failures = 1 if result.verdict == "drift" else 0
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="reprocheck compare",
        tests=str(count),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="baseline", value=result.baseline)
    ET.SubElement(props, "property", name="candidate", value=result.candidate)
    ET.SubElement(props, "property", name="verdict", value=result.verdict)
    for change in result.environment[:20]:
        value = f"{env_value(change.baseline)} -> {env_value(change.candidate)}"
        ET.SubElement(props, "property", name=f"environment.{change.path}", value=value)
    if not cases:  # two fingerprint files: one testcase for the environment
        case = ET.SubElement(suite, "testcase", classname="reprocheck.compare", name="environment")
        if result.verdict == "drift":
            failure = ET.SubElement(case, "failure", type="drift", message=result.summary)
            failure.text = render_text(result)
    for s in cases:
        case = ET.SubElement(suite, "testcase", classname="reprocheck.compare", name=s.name)
        fd = s.first_divergence
        lines = [f"verdict: {s.verdict}"]
        if s.kind:
            lines.append(f"kind: {s.kind}")
        if fd is not None:
            lines.append(f"first divergence {divergence_phrase(fd)}")
            if fd.parameter:
                lines.append(f"first differing parameter: {fd.parameter}")
        if s.envelope is not None:
            lines.append(s.envelope.text())
        tl = tensor_line(s)
        if tl:
            lines.append(tl)
        lines += list(s.notes)
        detail = "\n".join(lines)
        if s.verdict == "drift":
            message = "drift" if fd is None else f"drift: first divergence {divergence_phrase(fd)}"
            failure = ET.SubElement(case, "failure", type="drift", message=message)
            failure.text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
