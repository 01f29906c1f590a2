"""End-to-end tests of the customers API against the real binary.

Each test names the requirement it proves (see docs/requirements.md).
"""
import glob
import json
import os
import unittest

from harness import CustvaultServer

ZHANG_SAN = {
    "name": "张三",
    "id_number": "11010519491231002X",
    "phone": "13812345678",
    "address": "北京市朝阳区建国路88号",
    "bank_account": "6222021234567890128",
    "credit_rating": "AA",
    "email": "zhangsan@example.com",
}
OUYANG = {
    "name": "欧阳娜娜",
    "id_number": "440301198506151238",
    "phone": "010-62345678",
    "address": "上海市浦东新区世纪大道100号",
    "bank_account": "6212260200000000006",
}
PLAINTEXTS = ["张三", "11010519491231002X", "13812345678", "建国路88号", "6222021234567890128",
              "zhangsan@example.com", "欧阳娜娜", "440301198506151238", "62345678",
              "世纪大道", "6212260200000000006"]


class CustomersApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        # An information manager: creates, sees every class masked, reveals.
        cls.server.token = cls.server.token_for("info_manager")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def create(self, record):
        r = self.server.request("POST", "/api/v1/customers", record)
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def test_healthz_is_open_and_touches_nothing(self):
        r = self.server.request("GET", "/healthz", token=None)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})

    def test_every_api_endpoint_refuses_a_missing_or_wrong_token(self):  # R-ACC-2
        for method, path, body in [("GET", "/api/v1/customers", None),
                                   ("POST", "/api/v1/customers", ZHANG_SAN),
                                   ("GET", "/api/v1/customers/C20261129000001", None),
                                   ("PATCH", "/api/v1/customers/C20261129000001", {"phone": "13900000000"}),
                                   ("DELETE", "/api/v1/customers/C20261129000001", None),
                                   ("POST", "/api/v1/customers/search", {"phone": "13812345678"}),
                                   ("GET", "/api/v1/catalog", None),
                                   ("GET", "/api/v1/openapi.json", None)]:
            for token in (None, "cvs_" + "0" * 64, self.server.token[:-1], "cvk_" + "0" * 64):
                r = self.server.request(method, path, body, token=token)
                self.assertEqual(r.status, 401, (method, path))
                self.assertEqual(r.json()["error"]["code"], "unauthenticated")

    def test_create_answers_201_with_masks_of_r_cat_2(self):  # R-MASK-1, R-CAT-2
        c = self.create(ZHANG_SAN)
        self.assertRegex(c["id"], r"^C\d{14}$")
        f = c["fields"]
        self.assertEqual(f["name"], "张某")
        self.assertEqual(f["id_number"], "110105******31002X")
        self.assertEqual(f["phone"], "138****5678")
        self.assertEqual(f["address"], "北京市朝阳区****")
        self.assertEqual(f["credit_rating"], "***")
        self.assertTrue(f["bank_account"].startswith("622") and f["bank_account"].endswith("0128"))
        self.assertNotIn("2021234567890", f["bank_account"])
        o = self.create(OUYANG)["fields"]
        self.assertEqual(o["name"], "欧阳某")
        self.assertEqual(o["phone"], "010-****5678")
        self.assertEqual(o["address"], "上海市浦东新区****")

    def test_invalid_record_is_refused_whole_with_every_field_named(self):  # R-CAT-4
        before = self.count_all()
        bad = dict(ZHANG_SAN, id_number="110105194912310021", phone="12345",
                   bank_account="6222021234567890123", credit_rating="EXCELLENT")
        r = self.server.request("POST", "/api/v1/customers", bad)
        self.assertEqual(r.status, 422)
        err = r.json()["error"]
        self.assertEqual(err["code"], "validation_failed")
        fields = {d["field"]: d["reason"] for d in err["details"]}
        self.assertEqual(set(fields), {"id_number", "phone", "bank_account", "credit_rating"})
        self.assertEqual(fields["id_number"], "checksum")
        for value in ("110105194912310021", "12345", "6222021234567890123"):
            self.assertNotIn(value, r.body.decode())
        self.assertEqual(self.count_all(), before)

    def test_wrong_json_types_and_malformed_bodies(self):
        r = self.server.request("POST", "/api/v1/customers", {"name": ["张三"], "phone": True})
        self.assertEqual(r.status, 422)
        self.assertEqual({d["field"] for d in r.json()["error"]["details"]}, {"name", "phone"})
        r = self.server.request("POST", "/api/v1/customers", raw_body=b"{not json",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "bad_request")
        r = self.server.request("POST", "/api/v1/customers", raw_body=b"[1,2]")
        self.assertEqual(r.status, 400)

    def test_oversized_body_is_413(self):
        r = self.server.request("POST", "/api/v1/customers",
                                {"name": "张三", "address": "北" * 600000})
        self.assertEqual(r.status, 413)

    def test_overlong_field_is_refused(self):
        r = self.server.request("POST", "/api/v1/customers", {"name": "张三", "address": "北" * 5000})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json()["error"]["details"][0]["field"], "address")

    def test_get_is_masked_and_unknown_ids_are_404(self):
        c = self.create(ZHANG_SAN)
        r = self.server.request("GET", "/api/v1/customers/" + c["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["fields"], c["fields"])
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        for path in ("/api/v1/customers/C20000101000000", "/api/v1/customers/not-an-id",
                     "/api/v1/customers/%00"):
            r = self.server.request("GET", path)
            self.assertIn(r.status, (400, 404), path)

    def test_search_by_each_protected_field_goes_in_the_body(self):  # R-CRY-3
        c = self.create(dict(ZHANG_SAN, phone="13811112222", id_number="310104199003074561",
                             bank_account="6228480012345671"))
        for probe in ({"phone": "+86 138 1111 2222"}, {"id_number": "310104199003074561"},
                      {"bank_account": "6228480012345671"}):
            r = self.server.request("POST", "/api/v1/customers/search", probe)
            self.assertEqual(r.status, 200, (probe, r.body))
            self.assertEqual([i["id"] for i in r.json()["items"]], [c["id"]], probe)
        r = self.server.request("POST", "/api/v1/customers/search", {"name": "张三", "limit": 200})
        self.assertEqual(r.status, 200)
        self.assertIn(c["id"], [i["id"] for i in r.json()["items"]])
        r = self.server.request("GET", "/api/v1/customers?phone=13811112222")
        self.assertEqual(r.status, 400)  # personal values never in URLs
        r = self.server.request("POST", "/api/v1/customers/search", {"address": "北京"})
        self.assertEqual(r.status, 400)
        r = self.server.request("POST", "/api/v1/customers/search", {"phone": "1", "name": "张三"})
        self.assertEqual(r.status, 400)

    def count_all(self):
        n, cursor = 0, None
        for _ in range(1000):
            path = "/api/v1/customers?limit=200" + ("&cursor=" + cursor if cursor else "")
            r = self.server.request("GET", path)
            self.assertEqual(r.status, 200, r.body)
            page = r.json()
            n += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return n
        self.fail("pagination did not end")

    def test_list_paginates_with_a_cursor(self):
        for _ in range(5):
            self.create({"name": "Alice Smith"})
        seen = []
        cursor = None
        while True:
            path = "/api/v1/customers?limit=2" + ("&cursor=" + cursor if cursor else "")
            page = self.server.request("GET", path).json()
            self.assertLessEqual(len(page["items"]), 2)
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(seen, sorted(seen))
        self.assertGreaterEqual(len(seen), 5)
        self.assertEqual(self.server.request("GET", "/api/v1/customers?limit=0").status, 400)
        self.assertEqual(self.server.request("GET", "/api/v1/customers?limit=100000").status, 400)
        self.assertEqual(self.server.request("GET", "/api/v1/customers?cursor=garbage!").status, 400)

    def test_patch_revalidates_and_reencrypts(self):
        c = self.create(ZHANG_SAN)
        r = self.server.request("PATCH", "/api/v1/customers/" + c["id"], {"phone": "13987654321"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["fields"]["phone"], "139****4321")
        r = self.server.request("PATCH", "/api/v1/customers/" + c["id"], {"phone": "999"})
        self.assertEqual(r.status, 422)
        self.assertEqual(self.server.request("GET", "/api/v1/customers/" + c["id"]).json()
                         ["fields"]["phone"], "139****4321")
        r = self.server.request("PATCH", "/api/v1/customers/C20000101000000", {"phone": "13987654321"})
        self.assertEqual(r.status, 404)

    def test_delete_shreds_and_is_gone_everywhere(self):  # R-CRY-5
        c = self.create(dict(ZHANG_SAN, phone="13655556666"))
        r = self.server.request("DELETE", "/api/v1/customers/" + c["id"])
        self.assertEqual(r.status, 204)
        self.assertEqual(self.server.request("GET", "/api/v1/customers/" + c["id"]).status, 404)
        r = self.server.request("POST", "/api/v1/customers/search", {"phone": "13655556666"})
        self.assertEqual(r.json()["items"], [])
        self.assertEqual(self.server.request("DELETE", "/api/v1/customers/" + c["id"]).status, 404)

    def test_unknown_route_and_wrong_method(self):
        self.assertEqual(self.server.request("GET", "/api/v1/nothing").status, 404)
        self.assertEqual(self.server.request("PUT", "/api/v1/customers").status, 405)

    def test_catalog_lists_fields_with_both_languages(self):  # R-CAT-1
        r = self.server.request("GET", "/api/v1/catalog")
        self.assertEqual(r.status, 200)
        fields = {f["key"]: f for f in r.json()["fields"]}
        self.assertEqual(fields["id_number"]["label_zh"], "身份证号")
        self.assertEqual(fields["id_number"]["protection"], "sm4")
        self.assertEqual(fields["name"]["protection"], "aes-256-gcm")
        self.assertNotIn("health_record", fields)  # finance deployment (R-CAT-3)


class RawDatabaseTest(unittest.TestCase):
    """A raw dump of the SQLite files holds no plaintext (issue acceptance)."""

    def test_database_files_and_logs_hold_no_plaintext(self):  # R-CRY-1, R-MASK-1
        server = CustvaultServer().start()
        try:
            server.token = server.token_for("info_manager")
            for record in (ZHANG_SAN, OUYANG):
                r = server.request("POST", "/api/v1/customers", record)
                self.assertEqual(r.status, 201, r.body)
            bad = dict(ZHANG_SAN, phone="12345")
            self.assertEqual(server.request("POST", "/api/v1/customers", bad).status, 422)
            server.request("POST", "/api/v1/customers/search", {"phone": "13812345678"})
        finally:
            server.stop()
        try:
            # The customer database and the audit log alike.
            files = glob.glob(os.path.join(server.data_dir, "*.db*"))
            self.assertTrue(files)
            raw = b""
            for path in files:
                with open(path, "rb") as f:
                    raw += f.read()
            self.assertGreater(len(raw), 4096)
            log = server.server_log().encode()
            for plain in PLAINTEXTS:
                self.assertNotIn(plain.encode("utf-8"), raw, "plaintext in the database")
                self.assertNotIn(plain.encode("utf-8"), log, "plaintext in the server log")
        finally:
            server.cleanup()


class CliTest(unittest.TestCase):
    """The CLI calls the same service code (issue 2, item 7)."""

    def login_cli(self, server, username, password):
        session = os.path.join(server.data_dir, "session-" + username)
        r = server.cli("login", "--data-dir", server.data_dir, "--username", username,
                       "--session-file", session, input_text=password + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(session).st_mode & 0o777, 0o600)
        return session

    def test_add_get_find_round_trip_masked(self):
        server = CustvaultServer()
        credentials = os.path.join(server.data_dir, "initial-credentials")
        self.assertEqual(os.stat(credentials).st_mode & 0o777, 0o600)
        server.start()
        try:
            for username, (role, password) in server.initial.items():
                self.assertIn(password, server.init_output)
            server.token_for("info_manager")
        finally:
            server.stop()
        try:
            r = server.cli("user", "list", "--data-dir", server.data_dir, "--session-file",
                           self.login_cli(server, "admin", "Correct-Horse-9-Battery"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("info_manager", r.stdout)
            session = self.login_cli(server, server.usernames["info_manager"],
                                     "Correct-Horse-9-Battery")
            # Removed once admin, security and auditor changed their one-time passwords.
            self.assertFalse(os.path.exists(os.path.join(server.data_dir, "initial-credentials")))
            self.assertEqual(os.stat(os.path.join(server.data_dir, "master.key")).st_mode & 0o777, 0o600)
            add = server.cli("customer", "add", "--data-dir", server.data_dir,
                             "--session-file", session,
                             "--field", "name=张三", "--field", "phone=13812345678",
                             "--field", "id_number=11010519491231002X")
            self.assertEqual(add.returncode, 0, add.stderr)
            created = json.loads(add.stdout)
            self.assertEqual(created["fields"]["phone"], "138****5678")
            self.assertNotIn("13812345678", add.stdout)
            got = server.cli("customer", "get", "--data-dir", server.data_dir,
                             "--session-file", session, created["id"])
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertEqual(json.loads(got.stdout)["fields"], created["fields"])
            found = server.cli("customer", "find", "--data-dir", server.data_dir,
                               "--session-file", session, "--id-number", "11010519491231002X")
            self.assertEqual(found.returncode, 0, found.stderr)
            self.assertEqual([i["id"] for i in json.loads(found.stdout)["items"]], [created["id"]])
            stdin_add = server.cli("customer", "add", "--data-dir", server.data_dir,
                                   "--session-file", session,
                                   "--json-file", "-", input_text=json.dumps(OUYANG))
            self.assertEqual(stdin_add.returncode, 0, stdin_add.stderr)
            bad = server.cli("customer", "add", "--data-dir", server.data_dir,
                             "--session-file", session,
                             "--field", "name=张三", "--field", "phone=123")
            self.assertEqual(bad.returncode, 1)
            self.assertIn("phone", bad.stderr)
            self.assertNotIn("123 ", bad.stderr)
            again = server.cli("init", "--data-dir", server.data_dir)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already initialised", again.stderr)
            no_session = server.cli("customer", "get", "--data-dir", server.data_dir,
                                    "--session-file", "/nonexistent/session", created["id"])
            self.assertEqual(no_session.returncode, 1)
            self.assertIn("custvault login", no_session.stderr)
            for sub in (["--help"], ["init", "--help"], ["serve", "--help"], ["customer", "add", "--help"],
                        ["customer", "get", "--help"], ["customer", "find", "--help"],
                        ["login", "--help"], ["user", "add", "--help"], ["user", "list", "--help"],
                        ["user", "disable", "--help"], ["user", "review", "--help"],
                        ["audit", "verify", "--help"], ["audit", "search", "--help"]):
                h = server.cli(*sub)
                self.assertEqual(h.returncode, 0, sub)
                self.assertIn("--", h.stdout)
        finally:
            server.cleanup()

    def test_serve_refuses_a_master_key_readable_by_others(self):  # R-CRY-2
        server = CustvaultServer()
        try:
            os.chmod(os.path.join(server.data_dir, "master.key"), 0o644)
            r = server.cli("serve", "--data-dir", server.data_dir, "--listen", "127.0.0.1:0")
            self.assertEqual(r.returncode, 1)
            self.assertIn("master.key", r.stderr)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
