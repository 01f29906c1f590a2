"""Backups end to end through the real binary (issue 6 acceptance):
R-BAK-1 full and incremental backups while the server runs (API and CLI),
R-BAK-2 restore into a new data directory that `custvault serve` opens,
to the newest point and to a chosen moment, R-BAK-3 damage refused with
the piece named, R-CRY-5 a deleted customer stays deleted, and a server
killed with SIGKILL in the middle of a backup leaves nothing that counts."""
import datetime
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, CustvaultServer, STRONG_PASSWORD


def rfc3339_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExistingServer(CustvaultServer):
    """A server on a data directory that exists already (a restored one)."""

    def __init__(self, data_dir, env):  # pylint: disable=super-init-not-called
        self.data_dir = data_dir
        self.env = env
        self.token = None
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="cv_restored_log_"), "server.log")
        self.proc = None
        self.port = None


class BackupEndToEndTest(unittest.TestCase):
    def setUp(self):
        self.server = CustvaultServer().start()
        self.admin = self.server.staff()["sys_admin"]
        self.security = self.server.staff()["security_officer"]
        self.manager = self.server.token_for("info_manager")
        self.work = tempfile.mkdtemp(prefix="cv_backup_e2e_")
        self.backups = os.path.join(self.server.data_dir, "backups")

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- helpers ----
    def write(self, method, path, body=None, token=None):
        return self.server.request(method, path, body, token=token or self.manager)

    def create(self, name, phone):
        r = self.write("POST", "/api/v1/customers", {"name": name, "phone": phone})
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def backup_api(self, kind):
        r = self.write("POST", "/api/v1/backups", {"kind": kind}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        time.sleep(1.05)  # backup ids are per second
        return r.json()

    def cli_login(self, session_file):
        r = self.server.cli("login", "--data-dir", self.server.data_dir, "--username", "admin",
                            "--session-file", session_file, input_text=STRONG_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)

    def backup_cli(self, kind, session_file):
        r = self.server.cli("backup", kind, "--data-dir", self.server.data_dir,
                            "--session-file", session_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("MiB/s", r.stderr)  # the progress display
        time.sleep(1.05)
        return json.loads(r.stdout)

    def restore(self, target, *extra, location=None):
        return self.server.cli("restore", "--from", location or self.backups, "--to", target,
                               "--master-key", os.path.join(self.server.data_dir, "master.key"),
                               *extra)

    def serve(self, data_dir):
        restored = ExistingServer(data_dir, self.server.env).start()
        self.addCleanup(restored.stop)
        return restored

    def masked_all(self, server, token):
        out = {}
        cursor = None
        while True:
            path = "/api/v1/customers?limit=200" + ("&cursor=" + cursor if cursor else "")
            r = server.request("GET", path, token=token)
            self.assertEqual(r.status, 200, r.body)
            page = r.json()
            for item in page["items"]:
                out[item["id"]] = item["fields"]
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def login_restored(self, server, username):
        r = server.login(username, STRONG_PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["token"]

    # ---- tests ----
    def test_round_trip_point_in_time_and_deleted_customers(self):  # R-BAK-1, R-BAK-2, R-CRY-5
        session = os.path.join(self.work, "session")
        self.cli_login(session)
        ids = [self.create("张三", "1380000%04d" % i) for i in range(20)]
        full = self.backup_api("full")
        self.assertEqual(full["kind"], "full")
        self.assertEqual(full["customers"], 20)

        # Changes, then incrementals by API and by the CLI while the server runs.
        ids += [self.create("李四", "1390000%04d" % i) for i in range(5)]
        r = self.write("PATCH", "/api/v1/customers/" + ids[0], {"phone": "13700000001"})
        self.assertEqual(r.status, 200, r.body)
        first = self.backup_cli("incremental", session)
        self.assertEqual(first["previous_id"], full["id"])

        r = self.write("DELETE", "/api/v1/customers/" + ids[1])
        self.assertIn(r.status, (200, 204), r.body)
        before_point = self.create("王五", "13600000001")
        time.sleep(1.0)
        point = rfc3339_now()
        time.sleep(1.0)
        after_point = self.create("赵六", "13600000002")
        second = self.backup_api("incremental")
        third = self.backup_cli("incremental", session)
        self.assertEqual(third["previous_id"], second["id"])

        listed = self.server.request("GET", "/api/v1/backups", token=self.server.staff()["auditor"])
        self.assertEqual(listed.status, 200, listed.body)
        self.assertEqual([b["id"] for b in listed.json()["items"]],
                         [full["id"], first["id"], second["id"], third["id"]])
        self.assertTrue(all(b["complete"] for b in listed.json()["items"]))
        r = self.server.request("POST", "/api/v1/backups/%s/verify" % second["id"],
                                token=self.server.staff()["auditor"])
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["intact"], r.json())

        source = self.masked_all(self.server, self.manager)
        self.assertNotIn(ids[1], source)

        # Newest point: equal to the source, record by record.
        target = os.path.join(self.work, "restored")
        r = self.restore(target, "--source-data-dir", self.server.data_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["chain"], [full["id"], first["id"], second["id"], third["id"]])
        restored = self.serve(target)
        manager = self.login_restored(restored, self.server.usernames["info_manager"])
        self.assertEqual(self.masked_all(restored, manager), source)
        for customer in (ids[0], ids[5], before_point, after_point):
            mine = self.server.request("POST", "/api/v1/customers/%s/reveal" % customer,
                                       {"fields": ["name", "phone"], "reason": "restore check"},
                                       token=self.manager)
            theirs = restored.request("POST", "/api/v1/customers/%s/reveal" % customer,
                                      {"fields": ["name", "phone"], "reason": "restore check"},
                                      token=manager)
            self.assertEqual(mine.status, 200, mine.body)
            self.assertEqual(theirs.status, 200, theirs.body)
            self.assertEqual(mine.json()["fields"], theirs.json()["fields"])
        self.assertEqual(restored.request("GET", "/api/v1/customers/" + ids[1], token=manager).status, 404)
        auditor = self.login_restored(restored, "auditor")
        r = restored.request("GET", "/api/v1/audit/verify", token=auditor)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["intact"], r.json())
        r = restored.request("GET", "/api/v1/audit/entries?operation=backup.restore", token=auditor)
        self.assertEqual(len(r.json()["items"]), 1, r.body)
        restored.stop()

        # A chosen moment: what was committed before it is there, after it is not.
        target = os.path.join(self.work, "at-point")
        r = self.restore(target, "--at", point)
        self.assertEqual(r.returncode, 0, r.stderr)
        at_point = self.serve(target)
        manager = self.login_restored(at_point, self.server.usernames["info_manager"])
        self.assertEqual(at_point.request("GET", "/api/v1/customers/" + before_point, token=manager).status, 200)
        self.assertEqual(at_point.request("GET", "/api/v1/customers/" + after_point, token=manager).status, 404)
        at_point.stop()

        # The full backup alone, taken before the deletion: the customer is
        # neither readable nor listed (R-CRY-5).
        target = os.path.join(self.work, "full-only")
        r = self.restore(target, "--at", datetime.datetime.fromisoformat(
            full["point"].replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        self.assertEqual(r.returncode, 0, r.stderr)
        old = self.serve(target)
        manager = self.login_restored(old, self.server.usernames["info_manager"])
        self.assertEqual(old.request("GET", "/api/v1/customers/" + ids[1], token=manager).status, 404)
        self.assertNotIn(ids[1], self.masked_all(old, manager))
        self.assertIn(ids[2], self.masked_all(old, manager))
        old.stop()

    def test_damage_is_refused_naming_the_piece(self):  # R-BAK-3
        for i in range(10):
            self.create("张三", "1380000%04d" % i)
        full = self.backup_api("full")
        self.create("李四", "13900000001")
        incremental = self.backup_api("incremental")
        self.create("王五", "13900000002")
        last = self.backup_api("incremental")

        def damaged_copy():
            copy = tempfile.mkdtemp(prefix="loc_", dir=self.work)
            shutil.rmtree(copy)
            shutil.copytree(self.backups, copy)
            return copy

        # One flipped bit in a chunk.
        location = damaged_copy()
        piece = os.path.join(location, incremental["id"], "journal.cvb")
        with open(piece, "r+b") as f:
            f.seek(os.path.getsize(piece) - 30)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x01]))
        target = os.path.join(self.work, "t1")
        r = self.restore(target, location=location)
        self.assertEqual(r.returncode, 1)
        self.assertIn("backup %s: piece journal chunk" % incremental["id"], r.stderr)
        self.assertFalse(os.path.exists(target))

        # A missing incremental.
        location = damaged_copy()
        shutil.rmtree(os.path.join(location, incremental["id"]))
        r = self.restore(os.path.join(self.work, "t2"), location=location)
        self.assertEqual(r.returncode, 1)
        self.assertIn(incremental["id"] + " is missing", r.stderr)

        # Two backups swapped.
        location = damaged_copy()
        a, b = os.path.join(location, incremental["id"]), os.path.join(location, last["id"])
        os.rename(a, a + ".x")
        os.rename(b, a)
        os.rename(a + ".x", b)
        r = self.restore(os.path.join(self.work, "t3"), location=location)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match", r.stderr)

        # A truncated piece of the full backup.
        location = damaged_copy()
        piece = os.path.join(location, full["id"], "custvault.db.cvb")
        with open(piece, "r+b") as f:
            f.truncate(os.path.getsize(piece) // 2)
        r = self.restore(os.path.join(self.work, "t4"), location=location)
        self.assertEqual(r.returncode, 1)
        self.assertIn("backup %s: piece custvault.db" % full["id"], r.stderr)

        # The undamaged location still restores.
        r = self.restore(os.path.join(self.work, "ok"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_sigkill_during_a_backup_leaves_nothing_that_counts(self):
        # A slow backup (small chunks, the slowest zstd level) over a few
        # thousand customers, so the kill lands in the middle of it.
        self.server.stop()
        self.server.env["CUSTVAULT_BACKUP_ZSTD_LEVEL"] = "19"
        self.server.env["CUSTVAULT_BACKUP_CHUNK_BYTES"] = "4096"
        self.server.start()
        self.admin = self.server.login("admin", STRONG_PASSWORD).json()["token"]
        self.manager = self.server.login(self.server.usernames["info_manager"],
                                         STRONG_PASSWORD).json()["token"]

        def fill(worker):
            for i in range(300):
                self.create("压力测试", "139%03d%05d" % (worker, i))
        threads = [threading.Thread(target=fill, args=(w,)) for w in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.backup_api("full")  # a complete one first

        killed_mid_backup = False
        for _ in range(5):
            result = {}

            def run():
                try:
                    result["r"] = self.server.request("POST", "/api/v1/backups", {"kind": "full"},
                                                      token=self.admin)
                except OSError:
                    result["r"] = None
            t = threading.Thread(target=run)
            t.start()
            deadline = time.time() + 60  # a guard against a hang (issue 11.12)
            while time.time() < deadline and t.is_alive():
                if any(name.startswith(".partial-") for name in os.listdir(self.backups)):
                    break
                time.sleep(0.005)
            os.kill(self.server.proc.pid, signal.SIGKILL)
            self.server.proc.wait()
            t.join()
            killed_mid_backup = any(n.startswith(".partial-") for n in os.listdir(self.backups))
            self.server.stop()
            self.server.start()
            self.admin = self.server.login("admin", STRONG_PASSWORD).json()["token"]
            if killed_mid_backup:
                break
        self.assertTrue(killed_mid_backup, "the kill never landed inside a backup")

        # Only complete backups are listed; the next backup works and
        # removes the leftover; the restore works.
        r = self.server.request("GET", "/api/v1/backups", token=self.admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(all(b["complete"] for b in r.json()["items"]), r.json())
        time.sleep(1.05)
        after = self.backup_api("incremental")
        self.assertFalse(any(n.startswith(".partial-") for n in os.listdir(self.backups)))
        r = self.restore(os.path.join(self.work, "after-kill"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(after["id"], json.loads(r.stdout)["chain"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
