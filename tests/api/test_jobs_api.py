"""The scheduler's jobs through the real binary (R-TAG-3 quarterly
re-classification on a schedule, R-BAK timed backups; R-ACC-2 a role check
on every endpoint): GET /api/v1/jobs, `custvault jobs list|run`, and the
baseline a first `serve` records instead of running every job at once."""
import json
import os
import sqlite3
import unittest

from harness import CustvaultServer, STRONG_PASSWORD

JOB_KEYS = {"name", "schedule", "last_run_at", "last_finished_at", "last_result",
            "next_run_at", "running"}


class JobsApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def jobs(self, token):
        r = self.server.request("GET", "/api/v1/jobs", token=token)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["items"]

    def test_roles_with_jobs_read_see_every_job(self):
        for role in ("auditor", "security_officer", "sys_admin"):
            items = self.jobs(self.server.token_for(role))
            if not items:
                self.skipTest("no job is registered in Vault::Open yet")
            for item in items:
                self.assertEqual(set(item), JOB_KEYS, item)
                self.assertIsInstance(item["running"], bool)
                if item["schedule"] != "off":
                    self.assertIsNotNone(item["next_run_at"], item)

    def test_other_roles_are_refused(self):
        for role in ("entry_clerk", "info_manager", "dept_head"):
            r = self.server.request("GET", "/api/v1/jobs", token=self.server.token_for(role))
            self.assertEqual(r.status, 403, (role, r.body))
        r = self.server.request("GET", "/api/v1/jobs", token=None)
        self.assertEqual(r.status, 401, r.body)

    def test_parameters_are_refused(self):
        r = self.server.request("GET", "/api/v1/jobs?name=x",
                                token=self.server.token_for("auditor"))
        self.assertEqual(r.status, 400, r.body)

    def test_a_first_serve_records_a_baseline_and_runs_nothing(self):
        items = self.jobs(self.server.token_for("auditor"))
        if not [item for item in items if item["schedule"] != "off"]:
            self.skipTest("no timed job is registered in Vault::Open yet")
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.server.data_dir, "custvault.db"),
                             uri=True)
        try:
            settings = dict(db.execute("SELECT name, value FROM settings WHERE name LIKE 'job.%'"))
        finally:
            db.close()
        for item in items:
            if item["schedule"] == "off":
                continue
            self.assertIsNone(item["last_run_at"], item)  # nothing ran at once
            self.assertIn("job.%s.since_us" % item["name"], settings)


class JobsCliTest(unittest.TestCase):
    """`custvault jobs list|run` as the logged-in user. The audit log has one
    writer per data directory, so the CLI runs while the server is stopped
    (as an operator would run it against a stopped instance or its own)."""

    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.server.token_for("auditor")  # accounts with real passwords
        cls.server.token_for("sys_admin")
        cls.http_jobs = cls.server.request("GET", "/api/v1/jobs",
                                           token=cls.server.staff()["auditor"]).json()["items"]
        cls.server.stop()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def login_cli(self, role):
        session_file = os.path.join(self.server.data_dir, "session-" + role)
        r = self.server.cli("login", "--data-dir", self.server.data_dir,
                            "--username", self.server.usernames[role],
                            "--session-file", session_file, input_text=STRONG_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        return session_file

    def jobs_cli(self, session_file, *args):
        return self.server.cli("jobs", *args, "--data-dir", self.server.data_dir,
                               "--session-file", session_file)

    def test_list_run_refusals_and_their_audit(self):
        auditor = self.login_cli("auditor")
        r = self.jobs_cli(auditor, "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = json.loads(r.stdout)["items"]
        self.assertEqual([(i["name"], i["schedule"]) for i in listed],
                         [(i["name"], i["schedule"]) for i in self.http_jobs])
        # Only a system administrator may run a job; the refusal is audited.
        r = self.jobs_cli(auditor, "run", "anything")
        self.assertEqual(r.returncode, 1)
        self.assertIn("forbidden", r.stderr)
        admin = self.login_cli("sys_admin")
        r = self.jobs_cli(admin, "run", "no_such_job")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)
        r = self.jobs_cli(os.path.join(self.server.data_dir, "no-session"), "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unauthenticated", r.stderr)

        self.server.start()
        r = self.server.request("GET", "/api/v1/audit/entries?operation=access.denied",
                                token=self.server.staff()["auditor"])
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(any("job.run" in json.dumps(e) for e in r.json()["items"]), r.body)


if __name__ == "__main__":
    unittest.main()
