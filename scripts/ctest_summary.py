#!/usr/bin/python3
"""Counts one ctest run from its JUnit report (ctest --output-junit FILE) for
scripts/test. Prints "PASSED FAILED SKIPPED TOTAL" on stdout and the name
and reason of every skipped test on stderr. Standard library only.

What counts as what (ctest 3.25's report):
- passed: status="run" with no <failure>;
- skipped: skipped on purpose, i.e. status="disabled", or status="notrun"
  with a SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION reason (exit 77,
  GTEST_SKIP, an API file whose unittest run says "OK (skipped=N)");
- failed: everything else: a failure, a crash, a timeout, and a test that
  never ran for another reason ("Unable to find executable": not built).
A report that is missing or unreadable counts as no test at all (TOTAL 0):
scripts/test then counts the run as one failure.
"""
import sys
import xml.etree.ElementTree as ET


def summarise(path):
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        cases = []
    passed = failed = skipped = 0
    skipped_names = []
    for case in cases:
        state = case.get("status", "")
        skip = case.find("skipped")
        reason = skip.get("message", "") if skip is not None else ""
        broken = case.find("failure") is not None or case.find("error") is not None
        if state == "run" and not broken:
            passed += 1
        elif not broken and (state == "disabled" or (state == "notrun" and reason.startswith("SKIP_"))):
            skipped += 1
            skipped_names.append("%s (%s)" % (case.get("name"), reason or state))
        else:
            failed += 1
    return passed, failed, skipped, len(cases), skipped_names


def main(argv):
    if len(argv) != 2:
        print("usage: ctest_summary.py JUNIT_REPORT", file=sys.stderr)
        return 2
    passed, failed, skipped, total, skipped_names = summarise(argv[1])
    for name in skipped_names:
        print("skipped: " + name, file=sys.stderr)
    print(passed, failed, skipped, total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
