"""End-to-end tests of accounts, sessions, roles and the audit log against
the real binary (issue 3 and issue 4 acceptance lines that need a running
server). Clock-dependent rules (password expiry, idle/absolute timeouts,
lockout release) are proven with a frozen clock in the C++ tests
(account_service_test, api_routes_test)."""
import csv
import io
import time
import unittest

from harness import CustvaultServer, STRONG_PASSWORD, totp


class TotpAndPasswordPolicyTest(unittest.TestCase):
    """Default settings: real argon2id parameters and TOTP for admins."""

    def test_first_login_forces_a_password_change_and_totp_enrolment(self):  # R-ACC-4
        server = CustvaultServer(fast_auth=False).start()
        try:
            one_time = server.initial["admin"][1]
            r = server.login("admin", one_time)
            self.assertEqual(r.status, 200, r.body)
            limited = r.json()
            self.assertTrue(limited["must_change_password"])
            self.assertTrue(limited["must_enrol_totp"])
            token = limited["token"]
            # A limited session can do nothing else.
            self.assertEqual(server.request("GET", "/api/v1/users", token=token).status, 403)
            # Weak and reused passwords are refused.
            for weak in ("short1!A", "alllowercase-123", "NoDigitsHere!!!!", "NoSpecial12345678"):
                r = server.request("POST", "/api/v1/auth/password",
                                   {"old_password": one_time, "new_password": weak}, token=token)
                self.assertEqual(r.status, 422, (weak, r.body))
            r = server.request("POST", "/api/v1/auth/password",
                               {"old_password": one_time, "new_password": one_time}, token=token)
            self.assertIn(r.status, (422,), r.body)
            r = server.request("POST", "/api/v1/auth/password",
                               {"old_password": one_time, "new_password": STRONG_PASSWORD},
                               token=token)
            self.assertIn(r.status, (200, 204), r.body)
            # Enrolment through an otpauth:// URI (QR-compatible).
            r = server.login("admin", STRONG_PASSWORD)
            self.assertEqual(r.status, 200, r.body)
            token = r.json()["token"]
            self.assertTrue(r.json()["must_enrol_totp"])
            r = server.request("POST", "/api/v1/auth/totp/enrol", token=token)
            self.assertEqual(r.status, 200, r.body)
            enrolment = r.json()
            self.assertTrue(enrolment["otpauth_uri"].startswith("otpauth://totp/"))
            self.assertIn("secret=" + enrolment["secret"], enrolment["otpauth_uri"])
            self.assertEqual(r.headers.get("cache-control"), "no-store")
            code = totp(enrolment["secret"])
            r = server.request("POST", "/api/v1/auth/totp/confirm", {"otp": code}, token=token)
            self.assertIn(r.status, (200, 204), r.body)
            # TOTP is now required: none, wrong, or replayed is refused alike.
            self.assertEqual(server.login("admin", STRONG_PASSWORD).status, 401)
            wrong = str((int(code) + 1) % 1000000).zfill(6)
            self.assertEqual(server.login("admin", STRONG_PASSWORD, wrong).status, 401)
            replay = server.login("admin", STRONG_PASSWORD, code)
            self.assertEqual(replay.status, 401, "a code used once must not work again")
            # The next time step's code works.
            time.sleep(30 - time.time() % 30 + 0.5)
            r = server.login("admin", STRONG_PASSWORD, totp(enrolment["secret"]))
            self.assertEqual(r.status, 200, r.body)
            self.assertFalse(r.json()["must_change_password"])
            self.assertEqual(server.request("GET", "/api/v1/users", token=r.json()["token"]).status, 200)
        finally:
            server.stop()
            server.cleanup()


class AccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.staff = cls.server.staff()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def admin(self, method, path, body=None):
        return self.server.request(method, path, body, token=self.staff["sys_admin"])

    def security(self, method, path, body=None):
        return self.server.request(method, path, body, token=self.staff["security_officer"])

    def new_account(self, username, role):
        r = self.admin("POST", "/api/v1/users", {"username": username, "role": role})
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def test_lockout_after_five_failures_even_with_the_right_password(self):  # R-ACC-4
        created = self.new_account("lock.me", "entry_clerk")
        self.assertEqual(self.security("POST", "/api/v1/role-requests/%s/approve"
                                       % created["role_request_id"], {"comment": "ok"}).status, 200)
        self.server.first_login("lock.me", created["one_time_password"])
        statuses = [self.server.login("lock.me", "Wrong-Password-1").status for _ in range(5)]
        self.assertEqual(statuses[:4], [401] * 4)
        self.assertEqual(statuses[4], 423)
        r = self.server.login("lock.me", STRONG_PASSWORD)
        self.assertEqual(r.status, 423)
        self.assertEqual(r.json()["error"]["code"], "locked")

    def test_a_password_change_ends_the_other_sessions(self):  # R-ACC-4, issue 10.5
        created = self.new_account("two.desks", "entry_clerk")
        self.assertEqual(self.security("POST", "/api/v1/role-requests/%s/approve"
                                       % created["role_request_id"], {"comment": "ok"}).status, 200)
        desk_a, password = self.server.first_login("two.desks", created["one_time_password"])
        r = self.server.login("two.desks", password)
        self.assertEqual(r.status, 200, r.body)
        desk_b = r.json()["token"]
        for token in (desk_a, desk_b):
            self.assertEqual(self.server.request("GET", "/api/v1/catalog", token=token).status, 200)
        r = self.server.request("POST", "/api/v1/auth/password",
                                {"old_password": password, "new_password": "Another-Horse-7-Staple"},
                                token=desk_a)
        self.assertEqual(r.status, 200, r.body)
        # Desk B, and the limited session first_login changed the one-time password with.
        self.assertEqual(r.json()["other_sessions_ended"], 2)
        self.assertEqual(self.server.request("GET", "/api/v1/catalog", token=desk_b).status, 401)
        self.assertEqual(self.server.request("GET", "/api/v1/catalog", token=desk_a).status, 200)

    def test_grant_takes_effect_only_after_another_person_approves(self):  # R-ACC-3
        created = self.new_account("new.clerk", "entry_clerk")
        # Pending: cannot log in yet.
        self.assertEqual(self.server.login("new.clerk", created["one_time_password"]).status, 401)
        # The requester cannot approve; the security officer can.
        path = "/api/v1/role-requests/%s/approve" % created["role_request_id"]
        self.assertEqual(self.admin("POST", path, {"comment": "self"}).status, 403)
        self.assertEqual(self.security("POST", path, {"comment": "ok"}).status, 200)
        self.assertEqual(self.security("POST", path, {"comment": "again"}).status, 409)
        self.assertEqual(self.server.login("new.clerk", created["one_time_password"]).status, 200)

    def test_a_second_admin_duty_is_refused(self):  # R-ACC-1
        accounts = self.admin("GET", "/api/v1/users").json()["items"]
        auditor = [a for a in accounts if a["username"] == "auditor"][0]
        r = self.admin("POST", "/api/v1/role-requests", {"account_id": auditor["id"], "role": "sys_admin"})
        self.assertIn(r.status, (403, 409, 422), r.body)
        self.assertNotIn(r.status, (200, 201))

    def test_a_disabled_account_stops_working_at_once(self):  # R-ACC-3
        token = self.server.token_for("entry_clerk")
        self.assertEqual(self.server.request("GET", "/api/v1/catalog", token=token).status, 200)
        accounts = self.admin("GET", "/api/v1/users").json()["items"]
        clerk = [a for a in accounts if a["username"] == self.server.usernames["entry_clerk"]][0]
        self.assertIn(self.admin("POST", "/api/v1/users/%s/disable" % clerk["id"]).status, (200, 204))
        self.assertEqual(self.server.request("GET", "/api/v1/catalog", token=token).status, 401)

    def test_reviews_are_recorded_and_overdue_accounts_listed(self):  # R-ACC-3
        r = self.admin("GET", "/api/v1/users/overdue-reviews")
        self.assertEqual(r.status, 200, r.body)
        accounts = self.admin("GET", "/api/v1/users").json()["items"]
        auditor = [a for a in accounts if a["username"] == "auditor"][0]
        r = self.security("POST", "/api/v1/users/%s/review" % auditor["id"], {"comment": "still needed"})
        self.assertIn(r.status, (200, 204), r.body)
        again = [a for a in self.admin("GET", "/api/v1/users").json()["items"] if a["id"] == auditor["id"]][0]
        self.assertIsNotNone(again["last_review_at"])

    def test_channels_create_customers_and_nothing_else(self):  # R-PIPL-1
        r = self.admin("POST", "/api/v1/channels", {"name": "webform"})
        self.assertEqual(r.status, 201, r.body)
        key = r.json()["api_key"]
        self.assertTrue(key.startswith("cvk_"))
        r = self.server.request("POST", "/api/v1/customers", {"name": "王五", "phone": "13900002222"}, token=key)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["channel"], "channel:webform")
        customer = r.json()["id"]
        self.assertEqual(self.server.request("GET", "/api/v1/customers/" + customer, token=key).status, 403)
        self.assertEqual(self.server.request("GET", "/api/v1/customers", token=key).status, 403)
        r = self.server.request("POST", "/api/v1/customers",
                                {"name": "王五", "bank_account": "6222021234567890128"}, token=key)
        self.assertEqual(r.status, 403)

    def test_the_audit_log_records_logins_denials_and_verifies(self):  # R-AUD-1, R-AUD-2
        auditor = self.staff["auditor"]
        clerk = self.server.token_for("dept_head")
        self.assertEqual(self.server.request("GET", "/api/v1/audit/entries", token=clerk).status, 403)
        r = self.server.request("GET", "/api/v1/audit/entries?operation=access.denied&limit=50", token=auditor)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["items"])
        r = self.server.request("GET", "/api/v1/audit/entries?operation=auth.login&limit=200", token=auditor)
        self.assertTrue(r.json()["items"])
        r = self.server.request("GET", "/api/v1/audit/verify", token=auditor)
        self.assertEqual(r.status, 200, r.body)
        report = r.json()
        self.assertTrue(report["intact"], report)
        r = self.server.request("GET", "/api/v1/audit/export.csv?operation=auth.login", token=auditor)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/csv"))
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"))))
        self.assertGreater(len(rows), 1)
        r = self.server.request("GET", "/api/v1/audit/entries?operation=audit.export", token=auditor)
        self.assertTrue(r.json()["items"], "the export is itself audited")


class ClientAddressTest(unittest.TestCase):
    def source_ips(self, server, auditor):
        r = server.request("GET", "/api/v1/audit/entries?operation=auth.login&limit=200", token=auditor)
        return {item["source_ip"] for item in r.json()["items"]}

    def test_forwarded_for_is_believed_only_from_a_trusted_proxy(self):  # R-AUD-1
        for trusted, expected in (("127.0.0.1/32", "203.0.113.7"), ("10.9.0.0/16", "127.0.0.1")):
            server = CustvaultServer({"CUSTVAULT_AUDIT_TRUSTED_PROXIES": trusted}).start()
            try:
                auditor = server.staff()["auditor"]
                r = server.request("POST", "/api/v1/auth/login",
                                   {"username": "auditor", "password": "Correct-Horse-9-Battery"},
                                   token=None, headers={"X-Forwarded-For": "203.0.113.7"})
                self.assertEqual(r.status, 200, r.body)
                self.assertIn(expected, self.source_ips(server, auditor), trusted)
                if expected == "127.0.0.1":
                    self.assertNotIn("203.0.113.7", self.source_ips(server, auditor))
            finally:
                server.stop()
                server.cleanup()


class IpAllowListTest(unittest.TestCase):
    def test_a_login_from_outside_the_deployment_allow_list_is_refused(self):  # R-ACC-4
        server = CustvaultServer({"CUSTVAULT_AUTH_IP_ALLOWLIST": "10.0.0.0/8"}).start()
        try:
            r = server.login("admin", server.initial["admin"][1])
            self.assertEqual(r.status, 403, r.body)
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
