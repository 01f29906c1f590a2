"""End-to-end tests of the rules endpoints against the real binary: costly
rules texts refused before parsing and audited (issue 11.1), dry runs that
reveal nothing the caller may not see (issue 11.2), and a rules_change
approval that shows its diff and impact in the API and the CLI (issue
11.9)."""
import datetime
import json
import os
import threading
import unittest

from harness import STRONG_PASSWORD, CustvaultServer

COSTLY = "format = 1\nwindow_days = 365\n[" + "a." * 32000 + "a]\n"


def ago(days):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def one_rule(when):
    return ('format = 1\nwindow_days = 365\n[[dimension]]\nname = "value_tier"\n'
            'default = "ordinary"\n[[dimension.rule]]\nvalue = "high"\nwhen = \'%s\'\n' % when)


class RulesApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.manager = cls.server.token_for("info_manager")
        cls.head = cls.server.token_for("dept_head")
        cls.auditor = cls.server.token_for("auditor")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def audit(self, operation):
        r = self.server.request("GET", "/api/v1/audit/entries?operation=%s&limit=500" % operation,
                                token=self.auditor)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["items"]

    def test_costly_rules_texts_are_refused_before_parsing_and_audited(self):  # Issue 11.1
        neighbours = [
            COSTLY,
            "format = 1\nwindow_days = 365\n" + "a." * 20000 + "a = 1\n",
            "format = 1\nwindow_days = 365\nx = {" + "a." * 20000 + "a = 1}\n",
            "format = 1\nwindow_days = 365\nx = [" + "1," * 5000 + "1]\n",
            "format = 1\nwindow_days = 365\n" + "[[dimension]]\n" * 2100,
            'format = 1\nwindow_days = 365\n"' + "k" * 30000 + '" = 1\n',
        ]
        for text in neighbours:
            for path, token in (("/api/v1/rules/dry-run", self.auditor), ("/api/v1/rules", self.manager)):
                r = self.server.request("POST", path, {"text": text}, token=token)
                self.assertEqual(r.status, 422, (path, r.body[:300]))
                self.assertNotIn(b"a.a.a", r.body)
        # 18 in parallel (each cost 15-21 s of CPU before) are all refused,
        # and an authenticated read answers while they are in flight.
        results = []
        started = threading.Barrier(19)

        def costly():
            started.wait()
            r = self.server.request("POST", "/api/v1/rules/dry-run", {"text": COSTLY}, token=self.auditor)
            results.append(r.status)

        threads = [threading.Thread(target=costly) for _ in range(18)]
        for t in threads:
            t.start()
        started.wait()
        catalog = self.server.request("GET", "/api/v1/catalog", token=self.head)
        for t in threads:
            t.join()
        self.assertEqual(catalog.status, 200, catalog.body[:300])
        # Refused by the guard (422), or by the expensive routes' full
        # queue (503) before any parsing: never parsed, never accepted.
        self.assertEqual(len(results), 18)
        self.assertTrue(set(results) <= {422, 503}, results)
        self.assertIn(422, results)
        parsed_and_refused = results.count(422)
        # Every refusal is audited, without the text.
        refused_dry_runs = [e for e in self.audit("tag.reclassify")
                            if e["details"].get("outcome") == "refused" and e["result"] == "invalid"]
        self.assertEqual(len(refused_dry_runs), parsed_and_refused + len(neighbours))
        self.assertTrue(all(e["result"] == "invalid" and e["actor_role"] == "auditor"
                            for e in refused_dry_runs))
        refused_proposals = [e for e in self.audit("rules.change")
                             if e["details"].get("outcome") == "refused"]
        self.assertEqual(len(refused_proposals), len(neighbours))
        self.assertNotIn("a.a.a", json.dumps(refused_dry_runs + refused_proposals))

    def test_a_dry_run_reveals_nothing_the_caller_may_not_see(self):  # Issue 11.2
        ids = []
        for i in range(3):
            r = self.server.request("POST", "/api/v1/customers",
                                    {"name": "张三", "credit_rating": "CCC" if i == 0 else "AA"},
                                    token=self.manager)
            self.assertEqual(r.status, 201, r.body)
            ids.append(r.json()["id"])
            r = self.server.request("POST", "/api/v1/customers/%s/transactions" % ids[-1],
                                    {"amount_fen": 777_000 + i, "occurred_at": ago(1),
                                     "channel": "store:SH-001"}, token=self.manager)
            self.assertEqual(r.status, 201, r.body)
        for when in ('spend_fen == 777000 and credit_rating == "CCC"',
                     'spend_fen == 777000 and credit_rating != "CCC"',
                     'credit_rating in ["CCC"]'):
            for token in (self.head, self.auditor):
                r = self.server.request("POST", "/api/v1/rules/dry-run", {"text": one_rule(when)},
                                        token=token)
                self.assertEqual(r.status, 403, r.body)
                self.assertIn("credit_rating", r.json()["error"]["message"])
        r = self.server.request("POST", "/api/v1/rules/dry-run",
                                {"text": one_rule("spend_fen >= 777000 and spend_fen <= 777000")},
                                token=self.head)
        self.assertEqual(r.status, 200, r.body)
        report = r.json()
        self.assertEqual(report["customers_changed"], "<10")
        self.assertTrue(report["small_groups_suppressed"])
        self.assertEqual([t["customers"] for t in report["transitions"]], ["<10"])
        self.assertEqual(report["sample"], [])
        named = [e["details"].get("metrics") for e in self.audit("tag.reclassify")]
        self.assertIn(["credit_rating", "spend_fen"], named)
        self.assertIn(["spend_fen"], named)

    def test_a_rules_change_shows_its_diff_and_impact_in_the_api_and_the_cli(self):  # Issue 11.9
        active = self.server.request("GET", "/api/v1/rules", token=self.head).json()["active"]
        text = active["text"].replace("spend_fen >= 1_000_000", "spend_fen >= 700_000")
        proposed = self.server.request("POST", "/api/v1/rules", {"text": text}, token=self.manager)
        self.assertEqual(proposed.status, 202, proposed.body)
        approval_id = proposed.json()["approval"]["id"]
        shown = self.server.request("GET", "/api/v1/approvals/" + approval_id, token=self.head)
        self.assertEqual(shown.status, 200, shown.body)
        details = shown.json()["details"]
        self.assertEqual(details["active_version"], active["version"])
        self.assertEqual([l for l in details["diff"] if l.startswith(("- ", "+ "))],
                         ['-   when = "spend_fen >= 1_000_000"  # 10,000.00 CNY up to 99,999.99 CNY',
                          '+   when = "spend_fen >= 700_000"  # 10,000.00 CNY up to 99,999.99 CNY'])
        self.assertIn("customers_changed", details["impact"])
        changed = details["impact"]["customers_changed"]
        self.assertTrue(changed == "<10" or changed >= 10, changed)
        self.assertIn("would change tags", shown.json()["summary"])
        r = self.server.request("POST", "/api/v1/approvals/%s/decision" % approval_id,
                                {"decision": "reject", "comment": "not now"}, token=self.head)
        self.assertEqual(r.status, 200, r.body)
        # The CLI shows the same details (server stopped: one writer of the audit log).
        self.server.stop()
        try:
            username = self.server.usernames["dept_head"]
            session = os.path.join(self.server.data_dir, "session-" + username)
            r = self.server.cli("login", "--data-dir", self.server.data_dir, "--username", username,
                                "--session-file", session, input_text=STRONG_PASSWORD + "\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            shown = self.server.cli("approvals", "show", approval_id, "--data-dir",
                                    self.server.data_dir, "--session-file", session)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            cli_details = json.loads(shown.stdout)["details"]
            self.assertEqual(cli_details["diff"], details["diff"])
            self.assertEqual(cli_details["impact"], details["impact"])
        finally:
            self.server.start()


if __name__ == "__main__":
    unittest.main(verbosity=2)
