"""scripts/test's counting (issue 11.12): a real ctest run over a scratch
project with one test of each outcome, summarised by scripts/ctest_summary.py.
A crash, a timeout, a failure and a test whose executable was never built
are failures; exit 77, a skip message and DISABLED are skips, named, never
passes; an absent report is no test at all. Standard library only; needs
cmake and ctest (the build needs them anyway)."""
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUMMARY = os.path.join(ROOT, "scripts", "ctest_summary.py")

PROJECT = textwrap.dedent(r'''
    cmake_minimum_required(VERSION 3.25)
    project(outcomes NONE)
    enable_testing()
    add_test(NAME passes COMMAND sh -c "exit 0")
    add_test(NAME fails COMMAND sh -c "exit 1")
    add_test(NAME crashes COMMAND sh -c "kill -SEGV $$")
    add_test(NAME times_out COMMAND sh -c "sleep 30")
    set_tests_properties(times_out PROPERTIES TIMEOUT 1)
    add_test(NAME never_built COMMAND ${CMAKE_BINARY_DIR}/no_such_binary)
    add_test(NAME exits_77 COMMAND sh -c "exit 77")
    set_tests_properties(exits_77 PROPERTIES SKIP_RETURN_CODE 77)
    add_test(NAME says_skipped COMMAND sh -c "echo 'OK (skipped=1)'")
    set_tests_properties(says_skipped PROPERTIES SKIP_REGULAR_EXPRESSION "OK \\(skipped=[0-9]+\\)")
    add_test(NAME skips_but_fails COMMAND sh -c "echo 'FAILED (failures=1, skipped=1)'; exit 1")
    set_tests_properties(skips_but_fails PROPERTIES SKIP_REGULAR_EXPRESSION "OK \\(skipped=[0-9]+\\)")
    add_test(NAME disabled COMMAND sh -c "exit 0")
    set_tests_properties(disabled PROPERTIES DISABLED TRUE)
''')


def summarise(report):
    r = subprocess.run([sys.executable, SUMMARY, report], capture_output=True, text=True,
                       timeout=60)
    return r


class CtestSummaryTest(unittest.TestCase):
    def test_issue_11_12_every_outcome_is_counted_as_what_it_is(self):
        with tempfile.TemporaryDirectory(prefix="cv_ctest_summary_") as work:
            with open(os.path.join(work, "CMakeLists.txt"), "w") as f:
                f.write(PROJECT)
            build = os.path.join(work, "build")
            subprocess.run(["cmake", "-S", work, "-B", build], check=True, capture_output=True,
                           timeout=120)
            report = os.path.join(work, "report.xml")
            ran = subprocess.run(["ctest", "--test-dir", build, "-j2", "--output-junit", report],
                                 capture_output=True, text=True, timeout=120)
            self.assertNotEqual(ran.returncode, 0, ran.stdout)
            r = summarise(report)
            self.assertEqual(r.returncode, 0, r.stderr)
            # passes | fails, crashes, times_out, never_built, skips_but_fails |
            # exits_77, says_skipped, disabled
            self.assertEqual(r.stdout.split(), ["1", "5", "3", "9"], r.stdout + r.stderr)
            for name in ("exits_77", "says_skipped", "disabled"):
                self.assertIn("skipped: " + name, r.stderr)
            self.assertNotIn("never_built", r.stderr)

    def test_issue_11_12_a_missing_report_is_no_test(self):
        r = summarise(os.path.join(tempfile.gettempdir(), "cv_no_such_report_%d.xml" % os.getpid()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["0", "0", "0", "0"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
