"""End-to-end tests of approvals and tags (R-APR-1, R-TAG-1, R-TAG-3, R-TAG-4)
against the real binary.

The story of the issue's acceptance: an information manager records
transactions, files a re-classification; the information manager cannot
approve it; a department head approves some of its items; exactly those
customers change; every step is in the audit log, read through the
auditor's audit search API. Also: initial tags at creation, the dry run,
manual tag changes, sensitive edits (202 + approval), rules versions, role
grants through the same approvals API, and the CLI.
"""
import datetime
import json
import os
import unittest

from harness import STRONG_PASSWORD, CustvaultServer


def ago(days):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ApprovalsApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.manager = cls.server.token_for("info_manager")
        cls.head = cls.server.token_for("dept_head")
        cls.auditor = cls.server.token_for("auditor")
        cls.server.token = cls.manager

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    # ---- helpers ----
    def create(self, **fields):
        body = {"name": "张三", "phone": "13812345678"}
        body.update(fields)
        r = self.server.request("POST", "/api/v1/customers", body, token=self.manager)
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def tags_of(self, customer_id):
        r = self.server.request("GET", "/api/v1/customers/" + customer_id, token=self.manager)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["tags"]

    def spend(self, customer_id, amount_fen, days_ago=1):
        r = self.server.request("POST", "/api/v1/customers/%s/transactions" % customer_id,
                                {"amount_fen": amount_fen, "occurred_at": ago(days_ago),
                                 "channel": "store:SH-001"}, token=self.manager)
        self.assertEqual(r.status, 201, r.body)

    def audit(self, operation):
        r = self.server.request("GET", "/api/v1/audit/entries?operation=%s&limit=500" % operation,
                                token=self.auditor)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["items"]

    def decide(self, approval_id, token, **body):
        return self.server.request("POST", "/api/v1/approvals/%s/decision" % approval_id, body,
                                   token=token)

    def items_of(self, approval_id):
        items, cursor = [], None
        while True:
            path = "/api/v1/approvals/%s?limit=200" % approval_id
            if cursor:
                path += "&items_cursor=" + cursor
            r = self.server.request("GET", path, token=self.head)
            self.assertEqual(r.status, 200, r.body)
            page = r.json()
            items += page["items"]
            cursor = page["next_items_cursor"]
            if not cursor:
                return page, items

    # ---- the acceptance story ----
    def test_a_partial_approval_of_a_reclassification_changes_exactly_the_chosen_customers(self):
        # R-TAG-3, R-APR-1
        # The batch of this test only: start from a state with nothing to change.
        r = self.server.request("POST", "/api/v1/tags/reclassify", {}, token=self.manager)
        if r.status == 202:
            self.assertEqual(self.decide(r.json()["approval"]["id"], self.head,
                                         decision="reject", comment="clean slate").status, 200)
        customers = [self.create()["id"] for _ in range(4)]
        for customer, fen in zip(customers, (999_999, 1_000_000, 10_000_000, 2_500_000)):
            self.spend(customer, fen)
        for customer in customers:  # nothing changes before approval
            self.assertEqual(self.tags_of(customer)["value_tier"], "ordinary")

        dry = self.server.request("POST", "/api/v1/tags/reclassify", {"dry_run": True})
        self.assertEqual(dry.status, 200, dry.body)
        self.assertEqual(dry.json()["customers_changed"], 3)
        self.assertIsNone(dry.json()["approval"])
        self.assertEqual(self.tags_of(customers[1])["value_tier"], "ordinary")

        filed = self.server.request("POST", "/api/v1/tags/reclassify", {"dry_run": False})
        self.assertEqual(filed.status, 202, filed.body)
        approval = filed.json()["approval"]
        self.assertEqual(approval["kind"], "tag_batch")
        self.assertEqual(approval["status"], "pending")
        self.assertEqual(approval["item_count"], 3)
        approval_id = approval["id"]

        # The information manager may not approve, their own batch or any.
        refused = self.decide(approval_id, self.manager, decision="approve", comment="mine")
        self.assertEqual(refused.status, 403, refused.body)

        # The department head approves two of the three items.
        _, items = self.items_of(approval_id)
        by_customer = {item["customer_id"]: item for item in items}
        self.assertEqual(set(by_customer), set(customers[1:]))
        self.assertIn("value_tier: ordinary -> medium", by_customer[customers[1]]["summary"])
        chosen = [by_customer[customers[1]]["id"], by_customer[customers[2]]["id"]]
        decided = self.decide(approval_id, self.head, decision="approve", items=chosen,
                              comment="the third needs a second look")
        self.assertEqual(decided.status, 200, decided.body)
        self.assertEqual(decided.json()["status"], "partially_approved")
        self.assertEqual(decided.json()["items_applied"], 2)
        self.assertEqual(decided.json()["comment"], "the third needs a second look")

        self.assertEqual(self.tags_of(customers[0])["value_tier"], "ordinary")
        self.assertEqual(self.tags_of(customers[1])["value_tier"], "medium")
        self.assertEqual(self.tags_of(customers[2])["value_tier"], "high")
        self.assertEqual(self.tags_of(customers[3])["value_tier"], "ordinary")  # not chosen
        # Decided once.
        again = self.decide(approval_id, self.head, decision="approve", comment="again")
        self.assertEqual(again.status, 409, again.body)

        # Every step in the audit log, through the auditor's search API.
        adds = [e for e in self.audit("business.add") if e["customer_id"] in customers]
        self.assertEqual(len(adds), 4)
        runs = [e["details"] for e in self.audit("tag.reclassify")]
        self.assertIn(True, [d["dry_run"] for d in runs])
        self.assertIn(approval_id, [d.get("approval_id") for d in runs])
        requests = [e for e in self.audit("approval.request")
                    if e["details"].get("approval_id") == approval_id]
        self.assertEqual(len(requests), 1)
        self.assertEqual(requests[0]["actor_role"], "info_manager")
        denials = [e for e in self.audit("access.denied")
                   if e["actor_role"] == "info_manager" and "approval.decide" in json.dumps(e["details"])]
        self.assertGreaterEqual(len(denials), 1)
        decisions = [e for e in self.audit("approval.decide")
                     if e["details"].get("approval_id") == approval_id]
        self.assertEqual(len(decisions), 1)
        self.assertEqual(decisions[0]["actor_role"], "dept_head")
        self.assertEqual(decisions[0]["details"]["status"], "partially_approved")
        self.assertEqual(decisions[0]["details"]["items_applied"], 2)
        applied = [e for e in self.audit("tag.apply") if e["details"].get("approval_id") == approval_id]
        self.assertEqual(len(applied), 1)
        self.assertEqual(applied[0]["details"]["count"], 2)

    def test_new_customers_get_tags_at_creation(self):  # R-TAG-1
        self.assertEqual(self.create()["tags"], {"risk": "low", "value_tier": "ordinary"})
        self.assertEqual(self.create(credit_rating="CC")["tags"], {"risk": "high", "value_tier": "ordinary"})

    def test_a_rejected_manual_tag_change_changes_nothing(self):  # R-TAG-4
        customer = self.create()["id"]
        bad = self.server.request("POST", "/api/v1/customers/%s/tags" % customer,
                                  {"dimension": "mood", "value": "Happy", "reason": ""})
        self.assertEqual(bad.status, 422, bad.body)
        self.assertEqual({d["field"] for d in bad.json()["error"]["details"]},
                         {"dimension", "value", "reason"})
        r = self.server.request("POST", "/api/v1/customers/%s/tags" % customer,
                                {"dimension": "risk", "value": "high", "reason": "branch report"})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["kind"], "tag_change")
        no_comment = self.decide(r.json()["id"], self.head, decision="reject")
        self.assertEqual(no_comment.status, 422, no_comment.body)
        rejected = self.decide(r.json()["id"], self.head, decision="reject", comment="not enough")
        self.assertEqual(rejected.status, 200, rejected.body)
        self.assertEqual(rejected.json()["status"], "rejected")
        self.assertEqual(self.tags_of(customer)["risk"], "low")
        self.assertEqual(self.server.request("POST", "/api/v1/customers/%s/tags" % customer,
                                             {"dimension": "risk", "value": "high", "reason": "x"},
                                             token=self.head).status, 403)

    def test_a_sensitive_edit_is_accepted_for_approval_and_applied_once_approved(self):  # R-APR-1
        customer = self.create(bank_account="6222021234567890128")
        r = self.server.request("PATCH", "/api/v1/customers/" + customer["id"],
                                {"bank_account": "6228480012345671"})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["status"], "pending")
        approval_id = r.json()["approval_id"]
        self.assertEqual(r.json()["customer"]["fields"], customer["fields"])
        self.assertNotIn("6228480012345671", r.body.decode())
        shown = self.server.request("GET", "/api/v1/approvals/" + approval_id, token=self.head).json()
        self.assertEqual(shown["kind"], "sensitive_edit")
        self.assertNotIn("6228480012345671", json.dumps(shown))
        self.assertEqual(self.server.request("GET", "/api/v1/customers/" + customer["id"]).json()["fields"],
                         customer["fields"])
        self.assertEqual(self.decide(approval_id, self.head, decision="approve", comment="ok").status, 200)
        after = self.server.request("GET", "/api/v1/customers/" + customer["id"]).json()
        self.assertNotEqual(after["fields"]["bank_account"], customer["fields"]["bank_account"])

    def test_a_rules_version_is_active_only_after_approval(self):  # R-TAG-1
        rules = self.server.request("GET", "/api/v1/rules", token=self.head)
        self.assertEqual(rules.status, 200, rules.body)
        active = rules.json()["active"]
        bad = self.server.request("POST", "/api/v1/rules", {"text": "format = 1\nwindow_days = 0\n"})
        self.assertEqual(bad.status, 422, bad.body)
        self.assertIn("window_days", bad.json()["error"]["message"])
        text = active["text"].replace("spend_fen >= 1_000_000", "spend_fen >= 900_000")
        # The rules read the credit rating, which a department head sees
        # masked: its dry run is refused (issue 11.2); the manager's is not.
        refused = self.server.request("POST", "/api/v1/rules/dry-run", {"text": text}, token=self.head)
        self.assertEqual(refused.status, 403, refused.body)
        dry = self.server.request("POST", "/api/v1/rules/dry-run", {"text": text}, token=self.manager)
        self.assertEqual(dry.status, 200, dry.body)
        self.assertEqual(dry.json()["sample"], [])
        proposed = self.server.request("POST", "/api/v1/rules", {"text": text})
        self.assertEqual(proposed.status, 202, proposed.body)
        version = proposed.json()["version"]["version"]
        self.assertEqual(self.server.request("GET", "/api/v1/rules").json()["active"]["version"],
                         active["version"])
        approval_id = proposed.json()["approval"]["id"]
        self.assertEqual(self.decide(approval_id, self.manager, decision="approve", comment="x").status, 403)
        self.assertEqual(self.decide(approval_id, self.head, decision="approve", comment="ok").status, 200)
        now = self.server.request("GET", "/api/v1/rules").json()
        self.assertEqual(now["active"]["version"], version)
        self.assertEqual(now["active"]["approval_status"], "approved")
        # Back to the original thresholds, for the other tests.
        back = self.server.request("POST", "/api/v1/rules", {"text": active["text"]}).json()
        self.assertEqual(self.decide(back["approval"]["id"], self.head, decision="approve",
                                     comment="restore").status, 200)

    def test_role_grants_are_listed_and_decided_through_the_approvals_api(self):  # R-APR-1
        admin = self.server.staff()["sys_admin"]
        security = self.server.staff()["security_officer"]
        r = self.server.request("POST", "/api/v1/users", {"username": "grant.via.approvals",
                                                          "role": "entry_clerk"}, token=admin)
        self.assertEqual(r.status, 201, r.body)
        grant_id = r.json()["role_request_id"]
        listed = self.server.request("GET", "/api/v1/approvals?kind=role_grant&status=pending",
                                     token=security).json()["items"]
        self.assertIn(grant_id, [a["id"] for a in listed])
        self.assertEqual(self.decide(grant_id, self.head, decision="approve", comment="x").status, 403)
        self.assertEqual(self.decide(grant_id, admin, decision="approve", comment="x").status, 403)
        ok = self.decide(grant_id, security, decision="approve", comment="checked")
        self.assertEqual(ok.status, 200, ok.body)
        self.assertEqual(ok.json()["kind"], "role_grant")
        self.assertEqual(ok.json()["status"], "approved")
        # Each role sees only its kinds; an entry clerk none at all.
        kinds = {a["kind"] for a in self.server.request("GET", "/api/v1/approvals?limit=200",
                                                       token=self.head).json()["items"]}
        self.assertNotIn("role_grant", kinds)
        self.assertEqual(self.server.request("GET", "/api/v1/approvals",
                                             token=self.server.token_for("entry_clerk")).status, 403)

    def test_deciding_ones_own_role_grant_gives_the_own_request_reason(self):  # Issue 10.13
        admin = self.server.staff()["sys_admin"]
        r = self.server.request("POST", "/api/v1/users", {"username": "grant.own.reason",
                                                          "role": "entry_clerk"}, token=admin)
        self.assertEqual(r.status, 201, r.body)
        refused = self.decide(r.json()["role_request_id"], admin, decision="approve", comment="x")
        self.assertEqual(refused.status, 403, refused.body)
        self.assertIn("requester of an approval may never decide it",
                      refused.json()["error"]["message"])

    def test_help_speaks_of_the_initial_credentials_file_not_a_bootstrap_token(self):  # Issue 10.13
        for args in (["--help"], ["init", "--help"]):
            shown = self.server.cli(*args)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertNotIn("bootstrap", shown.stdout.lower(), args)
            self.assertIn("initial-credentials", shown.stdout, args)


class ApprovalsCliTest(unittest.TestCase):
    """The CLI files, lists, shows and decides as the logged-in user (with the
    server stopped: one process writes a data directory's audit log)."""

    def test_the_cli_lists_shows_and_decides_as_the_logged_in_user(self):
        server = CustvaultServer().start()
        try:
            manager = server.token_for("info_manager")
            server.token_for("dept_head")
            r = server.request("POST", "/api/v1/customers", {"name": "周八"}, token=manager)
            self.assertEqual(r.status, 201, r.body)
            customer = r.json()["id"]
            r = server.request("POST", "/api/v1/customers/%s/transactions" % customer,
                               {"amount_fen": 20_000_000, "occurred_at": ago(1), "channel": "app"},
                               token=manager)
            self.assertEqual(r.status, 201, r.body)
        finally:
            server.stop()
        try:
            def login(role):
                username = server.usernames[role]
                session = os.path.join(server.data_dir, "session-" + username)
                r = server.cli("login", "--data-dir", server.data_dir, "--username", username,
                               "--session-file", session, input_text=STRONG_PASSWORD + "\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                return ["--data-dir", server.data_dir, "--session-file", session]

            manager, head = login("info_manager"), login("dept_head")
            dry = server.cli("tags", "reclassify", "--dry-run", *manager)
            self.assertEqual(dry.returncode, 0, dry.stderr)
            self.assertIn("re-classifying:", dry.stderr)
            self.assertEqual(json.loads(dry.stdout)["customers_changed"], 1)
            filed = server.cli("tags", "reclassify", *manager)
            self.assertEqual(filed.returncode, 0, filed.stderr)
            approval_id = json.loads(filed.stdout)["approval"]["id"]
            listed = server.cli("approvals", "list", "--status", "pending", "--kind", "tag_batch", *head)
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertEqual([a["id"] for a in json.loads(listed.stdout)["items"]], [approval_id])
            shown = server.cli("approvals", "show", approval_id, *head)
            self.assertEqual(shown.returncode, 0, shown.stderr)
            items = json.loads(shown.stdout)["items"]
            self.assertEqual([i["customer_id"] for i in items], [customer])
            refused = server.cli("approvals", "approve", approval_id, *manager)
            self.assertEqual(refused.returncode, 1)
            self.assertIn("forbidden", refused.stderr)
            approved = server.cli("approvals", "approve", approval_id, "--items", items[0]["id"],
                                  "--comment", "cli", *head)
            self.assertEqual(approved.returncode, 0, approved.stderr)
            self.assertEqual(json.loads(approved.stdout)["status"], "approved")
            got = server.cli("customer", "get", "--data-dir", server.data_dir,
                             "--session-file", manager[3], customer)
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertEqual(json.loads(got.stdout)["tags"]["value_tier"], "high")
            late = server.cli("approvals", "reject", approval_id, "--comment", "late", *head)
            self.assertEqual(late.returncode, 1)
            self.assertIn("conflict", late.stderr)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
