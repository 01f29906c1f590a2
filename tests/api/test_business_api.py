"""End-to-end tests of the business records API (R-TAG-2) against the real binary.

Transactions, complaints and cooperation records per customer: who may add
and list them (R-ACC-2), validation with every failing field named, paging,
closing a complaint, summaries sealed at rest and shown per role, the cascade
of a customer delete, and the CLI.
"""
import datetime
import glob
import json
import os
import unittest

from harness import STRONG_PASSWORD, CustvaultServer

SUMMARY = "赵六投诉：收到的商品与描述不符，联系电话13700009999"


def ago(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def details(response):
    return {(d["field"], d["reason"]) for d in response.json()["error"].get("details", [])}


class BusinessApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.manager = cls.server.token_for("info_manager")
        cls.server.token = cls.manager
        r = cls.server.request("POST", "/api/v1/customers", {"name": "赵六", "phone": "13700009999"})
        assert r.status == 201, r.body
        cls.customer = r.json()["id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def path(self, kind, customer=None):
        return "/api/v1/customers/%s/%s" % (customer or self.customer, kind)

    def new_customer(self):
        r = self.server.request("POST", "/api/v1/customers", {"name": "孙七"})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def test_transactions_are_added_and_listed_newest_first_in_pages(self):  # R-TAG-2
        customer = self.new_customer()
        for minutes, amount, ref in [(30, 1_000_000, "R-1"), (20, 250_000, None), (10, -50_000, "R-3")]:
            body = {"amount_fen": amount, "occurred_at": ago(minutes), "channel": "store:SH-001"}
            if ref:
                body["reference"] = ref
            r = self.server.request("POST", self.path("transactions", customer), body)
            self.assertEqual(r.status, 201, r.body)
            t = r.json()
            self.assertRegex(t["id"], r"^TX[1-9][0-9]*$")
            self.assertEqual(t["amount_fen"], amount)
            self.assertEqual(t["customer_id"], customer)
            self.assertEqual(t["reference"], ref)
            self.assertTrue(t["created_by"].startswith("staff:"))
        first = self.server.request("GET", self.path("transactions", customer) + "?limit=2")
        self.assertEqual(first.status, 200, first.body)
        page = first.json()
        self.assertEqual([t["amount_fen"] for t in page["items"]], [-50_000, 250_000])
        self.assertIsNotNone(page["next_cursor"])
        second = self.server.request(
            "GET", self.path("transactions", customer) + "?limit=2&cursor=" + page["next_cursor"])
        self.assertEqual(second.status, 200, second.body)
        self.assertEqual([t["amount_fen"] for t in second.json()["items"]], [1_000_000])
        self.assertIsNone(second.json()["next_cursor"])
        # A receipt is recorded once per channel: a retry is refused, not doubled.
        again = self.server.request("POST", self.path("transactions", customer),
                                    {"amount_fen": 1, "occurred_at": ago(1), "channel": "store:SH-001",
                                     "reference": "R-1"})
        self.assertEqual(again.status, 409, again.body)
        self.assertEqual(again.json()["error"]["code"], "conflict")
        self.assertEqual(self.server.request("GET", self.path("transactions", customer) + "?tag=x").status, 400)

    def test_every_invalid_field_is_named_at_once(self):  # R-TAG-2, api-conventions 422
        r = self.server.request("POST", self.path("transactions"),
                                {"amount_fen": "12", "occurred_at": "yesterday",
                                 "channel": "收银台 1", "colour": "blue"})
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json()["error"]["code"], "validation_failed")
        self.assertEqual(details(r), {("amount_fen", "type"), ("occurred_at", "format"),
                                      ("channel", "format"), ("colour", "unknown_field")})
        r = self.server.request("POST", self.path("transactions"),
                                {"amount_fen": 0, "occurred_at": ago(-60), "channel": "app"})
        self.assertEqual(details(r), {("amount_fen", "zero"), ("occurred_at", "in_future")})
        r = self.server.request("POST", self.path("transactions"),
                                {"amount_fen": 12.5, "occurred_at": ago(1), "channel": "app"})
        self.assertEqual(details(r), {("amount_fen", "type")})
        r = self.server.request("POST", self.path("complaints"), {"summary": "x" * 2001, "status": "closed"})
        self.assertEqual(details(r), {("opened_at", "required"), ("closed_at", "required"),
                                      ("summary", "too_long")})
        r = self.server.request("POST", self.path("cooperation"),
                                {"started_at": ago(10), "ended_at": ago(20), "summary": "x"})
        self.assertEqual(details(r), {("ended_at", "before_started_at"), ("kind", "required")})
        self.assertEqual(self.server.request("POST", self.path("complaints"), raw_body=b"{not json").status, 400)

    def test_complaints_close_once_and_summaries_follow_the_role(self):  # R-TAG-2, R-ACC-2
        customer = self.new_customer()
        r = self.server.request("POST", self.path("complaints", customer),
                                {"opened_at": ago(120), "summary": SUMMARY})
        self.assertEqual(r.status, 201, r.body)
        complaint = r.json()
        self.assertRegex(complaint["id"], r"^CM[0-9a-f]{16}$")
        self.assertEqual(complaint["status"], "open")
        self.assertIsNone(complaint["closed_at"])
        self.assertEqual(complaint["summary"], SUMMARY)
        self.assertEqual(complaint["summary_shown"], "full")

        head = self.server.token_for("dept_head")
        listed = self.server.request("GET", self.path("complaints", customer), token=head)
        self.assertEqual(listed.status, 200, listed.body)
        item = listed.json()["items"][0]
        self.assertEqual(item["summary"], "赵六…")
        self.assertEqual(item["summary_shown"], "masked")
        self.assertNotIn("13700009999", listed.body.decode("utf-8"))
        self.assertEqual(self.server.request("POST", self.path("complaints/%s/close" % complaint["id"], customer),
                                             token=head).status, 403)

        early = self.server.request("POST", self.path("complaints/%s/close" % complaint["id"], customer),
                                    {"closed_at": ago(180)})
        self.assertEqual(early.status, 422, early.body)
        self.assertEqual(details(early), {("closed_at", "before_opened_at")})
        closed = self.server.request("POST", self.path("complaints/%s/close" % complaint["id"], customer))
        self.assertEqual(closed.status, 200, closed.body)
        self.assertEqual(closed.json()["status"], "closed")
        self.assertIsNotNone(closed.json()["closed_at"])
        again = self.server.request("POST", self.path("complaints/%s/close" % complaint["id"], customer),
                                    {"closed_at": ago(0)})
        self.assertEqual(again.status, 409, again.body)
        other = self.new_customer()
        self.assertEqual(self.server.request("POST", self.path("complaints/%s/close" % complaint["id"], other)).status, 404)
        self.assertEqual(self.server.request("POST", self.path("complaints/CMnope/close", customer)).status, 404)

    def test_a_channel_adds_but_does_not_list(self):  # R-ACC-2
        admin = self.server.staff()["sys_admin"]
        r = self.server.request("POST", "/api/v1/channels", {"name": "pos-east"}, token=admin)
        self.assertEqual(r.status, 201, r.body)
        key = r.json()["api_key"]
        # Issue 11.4: a channel writes only for the customers it created.
        r = self.server.request("POST", "/api/v1/customers", {"name": "周八"}, token=key)
        self.assertEqual(r.status, 201, r.body)
        own = r.json()["id"]
        r = self.server.request("POST", self.path("transactions", own),
                                {"amount_fen": 4200, "occurred_at": ago(5), "channel": "pos:east-7"}, token=key)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["created_by"], "channel:pos-east")
        r = self.server.request("POST", self.path("complaints", own), {"opened_at": ago(5), "summary": SUMMARY},
                                token=key)
        self.assertEqual(r.status, 201, r.body)
        self.assertNotIn("summary", r.json())
        self.assertEqual(r.json()["summary_shown"], "hidden")
        for kind in ("transactions", "complaints", "cooperation"):
            self.assertEqual(self.server.request("GET", self.path(kind, own), token=key).status, 403, kind)

    def test_roles_without_business_access_are_refused_and_audited(self):  # R-ACC-2, R-AUD-1
        auditor = self.server.token_for("auditor")
        before = self.server.request("GET", "/api/v1/audit/entries?operation=access.denied&limit=500",
                                     token=auditor).json()["items"]
        refused = 0
        for role in ("entry_clerk", "auditor", "sys_admin", "security_officer"):
            token = self.server.token_for(role)
            for kind, body in (("transactions", {"amount_fen": 1, "occurred_at": ago(1), "channel": "app"}),
                               ("complaints", {"opened_at": ago(1), "summary": "x"}),
                               ("cooperation", {"started_at": ago(1), "kind": "supplier", "summary": "x"})):
                self.assertEqual(self.server.request("POST", self.path(kind), body, token=token).status, 403,
                                 (role, kind))
                self.assertEqual(self.server.request("GET", self.path(kind), token=token).status, 403, (role, kind))
                refused += 2
        after = self.server.request("GET", "/api/v1/audit/entries?operation=access.denied&limit=500",
                                    token=auditor).json()["items"]
        self.assertGreaterEqual(len(after) - len(before), refused)
        business_denials = [e for e in after if "business." in json.dumps(e, ensure_ascii=False)]
        self.assertGreaterEqual(len(business_denials), refused)

    def test_an_unknown_customer_is_404(self):
        for kind in ("transactions", "complaints", "cooperation"):
            self.assertEqual(self.server.request("GET", self.path(kind, "C20000101000000")).status, 404)
            self.assertEqual(self.server.request("GET", self.path(kind, "not-a-customer")).status, 404)
        r = self.server.request("POST", self.path("transactions", "C20000101000000"),
                                {"amount_fen": 1, "occurred_at": ago(1), "channel": "app"})
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(r.json()["error"]["code"], "not_found")

    def test_summaries_are_encrypted_at_rest_and_go_with_the_customer(self):  # R-CRY-1, R-CRY-4
        customer = self.new_customer()
        r = self.server.request("POST", self.path("cooperation", customer),
                                {"started_at": "2025-01-01T00:00:00+08:00", "kind": "distributor",
                                 "summary": SUMMARY})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["started_at"], "2024-12-31T16:00:00.000000Z")
        self.assertIsNone(r.json()["ended_at"])
        self.assertEqual(self.server.request("POST", self.path("transactions", customer),
                                             {"amount_fen": 777, "occurred_at": ago(3),
                                              "channel": "app"}).status, 201)
        # The database and its WAL, while the server runs, and the server log.
        raw = b""
        for name in glob.glob(os.path.join(self.server.data_dir, "*.db*")) + [self.server.log_path]:
            with open(name, "rb") as f:
                raw += f.read()
        self.assertGreater(len(raw), 10_000)
        for plain in (SUMMARY, "13700009999", "收到的商品"):
            self.assertNotIn(plain.encode("utf-8"), raw, plain)
        self.assertIn(b"distributor", raw)  # the plain column is there: the scan sees the files

        self.assertEqual(self.server.request("DELETE", "/api/v1/customers/" + customer).status, 204)
        for kind in ("transactions", "cooperation"):
            self.assertEqual(self.server.request("GET", self.path(kind, customer)).status, 404)

    def test_openapi_documents_every_business_path(self):
        doc = self.server.request("GET", "/api/v1/openapi.json").json()
        for path in ("/api/v1/customers/{id}/transactions", "/api/v1/customers/{id}/complaints",
                     "/api/v1/customers/{id}/complaints/{cid}/close", "/api/v1/customers/{id}/cooperation"):
            self.assertIn(path, doc["paths"])


class BusinessCliTest(unittest.TestCase):
    """The CLI adds and lists business records as the logged-in user."""

    def test_add_and_list_as_the_logged_in_user(self):
        server = CustvaultServer().start()
        try:
            server.token = server.token_for("info_manager")
            server.token_for("entry_clerk")
            clerk_name = server.usernames["entry_clerk"]
            r = server.request("POST", "/api/v1/customers", {"name": "周八"})
            self.assertEqual(r.status, 201, r.body)
            customer = r.json()["id"]
        finally:
            server.stop()
        try:
            def login(username):
                session = os.path.join(server.data_dir, "session-" + username)
                r = server.cli("login", "--data-dir", server.data_dir, "--username", username,
                               "--session-file", session, input_text=STRONG_PASSWORD + "\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                return session

            session = login(server.usernames["info_manager"])
            common = ["--data-dir", server.data_dir, "--session-file", session]
            add = server.cli("business", "add-transaction", *common, customer,
                             "--amount-fen", "123456", "--occurred-at", ago(10), "--channel", "app")
            self.assertEqual(add.returncode, 0, add.stderr)
            self.assertEqual(json.loads(add.stdout)["amount_fen"], 123456)
            complaint = server.cli("business", "add-complaint", *common, customer,
                                   "--opened-at", ago(30), "--summary-file", "-", input_text=SUMMARY + "\n")
            self.assertEqual(complaint.returncode, 0, complaint.stderr)
            complaint_id = json.loads(complaint.stdout)["id"]
            self.assertEqual(json.loads(complaint.stdout)["summary"], SUMMARY)  # the newline is not kept
            closed = server.cli("business", "close-complaint", *common, customer, complaint_id)
            self.assertEqual(closed.returncode, 0, closed.stderr)
            self.assertEqual(json.loads(closed.stdout)["status"], "closed")
            summary_file = os.path.join(server.data_dir, "cooperation.txt")
            with open(summary_file, "w", encoding="utf-8") as f:
                f.write("长期供货合作\n")
            coop = server.cli("business", "add-cooperation", *common, customer, "--started-at", ago(60),
                              "--kind", "supplier", "--summary-file", summary_file)
            self.assertEqual(coop.returncode, 0, coop.stderr)
            listed = server.cli("business", "list", *common, customer, "--kind", "complaints")
            self.assertEqual(listed.returncode, 0, listed.stderr)
            self.assertEqual([c["id"] for c in json.loads(listed.stdout)["items"]], [complaint_id])
            bad = server.cli("business", "add-transaction", *common, customer,
                             "--amount-fen", "0", "--occurred-at", "soon", "--channel", "a b")
            self.assertEqual(bad.returncode, 1)
            for field in ("amount_fen", "occurred_at", "channel"):
                self.assertIn(field, bad.stderr)
            # An entry clerk may not (policy applies to the CLI as to the API).
            clerk = login(clerk_name)
            refused = server.cli("business", "list", "--data-dir", server.data_dir, "--session-file", clerk,
                                 customer, "--kind", "transactions")
            self.assertEqual(refused.returncode, 1)
            self.assertIn("forbidden", refused.stderr)
            self.assertIn("business.read", refused.stderr)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
