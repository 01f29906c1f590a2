"""Backups and restores that keep their promises (issue 10 items 2 and 13,
issue 11 items 5, 6, 8, 10 and 11), through the real binary:

- R-CRY-5 / 10.2: the README's restore (full backup, delete, `custvault
  restore --from D/backups --to NEW --master-key D/master.key`) keeps the
  deleted customer deleted, and so do the neighbours: an incremental chain,
  a moment before the delete, the off-site copy, restore-shipped; a ledger
  that cannot be shown to be new enough refuses the restore unless
  --accept-stale-ledger; a delete that cannot reach the off-site ledger is
  not acknowledged.
- 11.5: an online restore leaves no key in a backup location and no staging.
- 11.6 / 11.8: init and serve on a directory missing its key or config, or
  unreadable, say what is wrong and write nothing.
- 11.10: no incremental on top of a damaged full backup; an alert.
- 11.11 / 10.13: concurrent backups get 409 with the running backup's id;
  no server path or caller text in answers or restore-test records."""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, CustvaultServer, STRONG_PASSWORD


class ExistingServer(CustvaultServer):
    """A server on a data directory that exists already (a restored one)."""

    def __init__(self, data_dir, env):  # pylint: disable=super-init-not-called
        self.data_dir = data_dir
        self.env = env
        self.token = None
        self.log_path = os.path.join(tempfile.mkdtemp(prefix="cv_restored_log_"), "server.log")
        self.proc = None
        self.port = None


def tree_digest(root):
    """Every path under root with its type and content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in filenames:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


class RestoreKeepsDeletedCustomersDeletedTest(unittest.TestCase):
    """Issue 10.2 and its neighbours."""

    def start(self, environment=None):
        self.server = CustvaultServer(environment=environment).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)
        self.admin = self.server.staff()["sys_admin"]
        self.manager = self.server.token_for("info_manager")
        self.work = tempfile.mkdtemp(prefix="cv_restore_safety_")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.backups = os.path.join(self.server.data_dir, "backups")
        self.master_key = os.path.join(self.server.data_dir, "master.key")
        session = os.path.join(self.work, "session")
        r = self.server.cli("login", "--data-dir", self.server.data_dir, "--username", "admin",
                            "--session-file", session, input_text=STRONG_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.session = session

    def create(self, name, phone):
        r = self.server.request("POST", "/api/v1/customers", {"name": name, "phone": phone},
                                token=self.manager)
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def delete(self, customer_id):
        r = self.server.request("DELETE", "/api/v1/customers/" + customer_id, token=self.manager)
        self.assertIn(r.status, (200, 204), r.body)

    def backup_cli(self, kind):
        # README: ./build/custvault backup full|incremental --data-dir var
        r = self.server.cli("backup", kind, "--data-dir", self.server.data_dir,
                            "--session-file", self.session)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.05)  # backup ids are per second
        return json.loads(r.stdout)

    def restore(self, target, *extra, location=None, command=("restore",)):
        return self.server.cli(*command, "--from", location or self.backups, "--to", target,
                               "--master-key", self.master_key, *extra)

    def serve(self, data_dir):
        restored = ExistingServer(data_dir, self.server.env).start()
        self.addCleanup(restored.stop)
        return restored

    def assert_gone(self, data_dir, customer_id, kept_id):
        restored = self.serve(data_dir)
        r = restored.login(self.server.usernames["info_manager"], STRONG_PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        manager = r.json()["token"]
        self.assertEqual(restored.request("GET", "/api/v1/customers/" + customer_id,
                                          token=manager).status, 404)
        reveal = restored.request("POST", "/api/v1/customers/%s/reveal" % customer_id,
                                  {"fields": ["name"], "reason": "restore check"}, token=manager)
        self.assertEqual(reveal.status, 404, reveal.body)
        kept = restored.request("POST", "/api/v1/customers/%s/reveal" % kept_id,
                                {"fields": ["name"], "reason": "restore check"}, token=manager)
        self.assertEqual(kept.status, 200, kept.body)
        restored.stop()

    def test_10_2_the_readme_restore_keeps_a_deleted_customer_deleted(self):  # Issue 10.2
        self.start()
        kept = self.create("张三", "13800000001")
        doomed = self.create("李四", "13800000002")
        self.backup_cli("full")
        self.delete(doomed)
        # Exactly as the README shows: no --source-data-dir, no --shred-ledger.
        target = os.path.join(self.work, "NEW")
        r = self.restore(target)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["shred_entries"], 1, report)
        self.assertEqual(report["shredded"], 1, report)
        self.assertFalse(report["stale_ledger_accepted"])
        self.assertEqual(report["customers"], 1)
        self.assert_gone(target, doomed, kept)

    def test_10_2_an_incremental_chain_and_a_moment_before_the_delete(self):  # Issue 10.2
        self.start()
        kept = self.create("张三", "13800000001")
        doomed = self.create("李四", "13800000002")
        full = self.backup_cli("full")
        self.create("王五", "13800000003")
        self.backup_cli("incremental")
        time.sleep(1.0)
        before_delete = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        time.sleep(1.0)
        self.delete(doomed)
        target = os.path.join(self.work, "chain")
        r = self.restore(target)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shredded"], 1, r.stdout)
        self.assert_gone(target, doomed, kept)
        # A moment before the delete: the customer existed then, but stays
        # deleted (the ledger is honoured whatever the moment).
        target = os.path.join(self.work, "before")
        r = self.restore(target, "--at", before_delete)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_gone(target, doomed, kept)
        # The full backup's moment.
        target = os.path.join(self.work, "full-point")
        r = self.restore(target, "--backup", full["id"], "--at", full["point"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_gone(target, doomed, kept)

    def test_10_2_a_ledger_not_shown_new_enough_refuses_unless_accepted(self):  # Issue 10.2
        self.start()
        kept = self.create("张三", "13800000001")
        self.create("李四", "13800000002")
        self.backup_cli("full")
        # The backups copied without their ledger (or with one from before
        # the backup): the restore cannot prove it knows every deletion.
        for variant in ("missing", "older"):
            location = os.path.join(self.work, "copy-" + variant)
            shutil.copytree(self.backups, location)
            ledger = os.path.join(location, "shred-ledger")
            if variant == "missing":
                os.remove(ledger)
            else:
                with open(ledger, "w") as f:
                    f.write("custvault-shred-ledger v1\n@as-of 1000000\n")
            target = os.path.join(self.work, "refused-" + variant)
            r = self.restore(target, location=location)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("no shred ledger is known to be as new as backup", r.stderr)
            self.assertIn("--accept-stale-ledger", r.stderr)
            self.assertFalse(os.path.exists(target))
            r = self.restore(target, location=location, command=("backup", "restore-shipped"))
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("--accept-stale-ledger", r.stderr)
            self.assertFalse(os.path.exists(target))
        # The lost vault's own ledger proves it; so does the explicit flag,
        # which the report and the restored vault's audit entry record.
        location = os.path.join(self.work, "copy-missing")
        target = os.path.join(self.work, "with-source")
        r = self.restore(target, "--source-data-dir", self.server.data_dir, location=location)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(json.loads(r.stdout)["stale_ledger_accepted"])
        target = os.path.join(self.work, "accepted")
        r = self.restore(target, "--accept-stale-ledger", location=location)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["stale_ledger_accepted"])
        restored = self.serve(target)
        r = restored.login("auditor", STRONG_PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        entries = restored.request("GET", "/api/v1/audit/entries?operation=backup.restore",
                                   token=r.json()["token"]).json()["items"]
        self.assertEqual(len(entries), 1)
        self.assertIn('"stale_ledger_accepted":true', json.dumps(entries[0], separators=(",", ":")))
        restored.stop()
        del kept

    def test_10_2_the_off_site_copy_and_restore_shipped_keep_it_deleted(self):  # Issue 10.2
        offsite = tempfile.mkdtemp(prefix="cv_offsite_")
        self.addCleanup(shutil.rmtree, offsite, True)
        self.start({"CUSTVAULT_BACKUP_OFFSITE_DIR": offsite,
                    "CUSTVAULT_BACKUP_SHIPPING": "false"})
        kept = self.create("张三", "13800000001")
        doomed = self.create("李四", "13800000002")
        full = self.backup_cli("full")
        self.assertTrue(full["offsite"]["ok"], full)
        self.delete(doomed)
        target = os.path.join(self.work, "from-offsite")
        r = self.restore(target, location=offsite)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shredded"], 1, r.stdout)
        self.assert_gone(target, doomed, kept)
        target = os.path.join(self.work, "shipped")
        r = self.restore(target, location=offsite, command=("backup", "restore-shipped"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["shredded"], 1, r.stdout)
        self.assert_gone(target, doomed, kept)

    def test_10_2_a_delete_the_off_site_ledger_cannot_record_is_not_acknowledged(self):  # Issue 10.2
        offsite = tempfile.mkdtemp(prefix="cv_offsite_")
        self.addCleanup(shutil.rmtree, offsite + ".away", True)
        self.addCleanup(shutil.rmtree, offsite, True)
        self.start({"CUSTVAULT_BACKUP_OFFSITE_DIR": offsite,
                    "CUSTVAULT_BACKUP_SHIPPING": "false"})
        first = self.create("张三", "13800000001")
        second = self.create("李四", "13800000002")
        os.rename(offsite, offsite + ".away")  # the remote file system is gone
        r = self.server.request("DELETE", "/api/v1/customers/" + first, token=self.manager)
        self.assertEqual(r.status, 503, r.body)
        message = r.json()["error"]["message"]
        self.assertIn("not yet recorded in every shred ledger", message)
        self.assertIn("off-site location", message)
        self.assertNotIn(offsite, message)
        self.assertNotIn(self.server.data_dir, message)
        self.assertFalse(os.path.exists(offsite))  # never created on the local disk
        os.rename(offsite + ".away", offsite)
        self.delete(second)  # catches the copy up
        with open(os.path.join(offsite, "shred-ledger")) as f:
            text = f.read()
        self.assertIn(first + " ", text)
        self.assertIn(second + " ", text)


class OnlineRestoreKeepsKeysOutOfBackupsTest(unittest.TestCase):
    def test_11_5_no_key_and_no_staging_under_the_backup_locations(self):  # Issue 11.5
        offsite = tempfile.mkdtemp(prefix="cv_offsite_")
        self.addCleanup(shutil.rmtree, offsite, True)
        server = CustvaultServer(environment={"CUSTVAULT_BACKUP_OFFSITE_DIR": offsite,
                                              "CUSTVAULT_BACKUP_SHIPPING": "false"}).start()
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        admin = server.staff()["sys_admin"]
        security = server.staff()["security_officer"]
        manager = server.token_for("info_manager")
        r = server.request("POST", "/api/v1/customers", {"name": "张三", "phone": "13800000001"},
                           token=manager)
        self.assertEqual(r.status, 201, r.body)
        r = server.request("POST", "/api/v1/backups", {"kind": "full"}, token=admin)
        self.assertEqual(r.status, 201, r.body)
        r = server.request("POST", "/api/v1/restores", {"reason": "drill"}, token=admin)
        self.assertEqual(r.status, 202, r.body)
        approval = r.json()
        approval_id = approval["approval_id"]
        # The approval says where the restore goes and what it holds.
        self.assertIn("inside the data directory", approval["summary"])
        self.assertIn("never in a backup location", approval["summary"])
        r = server.request("POST", "/api/v1/approvals/%s/decision" % approval_id,
                           {"decision": "approve", "comment": "ok"}, token=security)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "approved", r.body)

        with open(os.path.join(server.data_dir, "master.key"), "rb") as f:
            master_key = f.read()
        for location in (os.path.join(server.data_dir, "backups"), offsite):
            for dirpath, dirnames, filenames in os.walk(location):
                for name in dirnames:
                    self.assertNotIn("restoring", name, dirpath)
                    self.assertNotEqual(name, "restores", dirpath)
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    self.assertFalse(name.endswith(".key"), path)
                    with open(path, "rb") as f:
                        self.assertNotEqual(f.read(), master_key, path)
        target = os.path.join(server.data_dir, "restores", approval_id)
        self.assertTrue(os.path.isfile(os.path.join(target, "custvault.toml")))
        self.assertEqual(os.stat(os.path.join(server.data_dir, "restores")).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(target, "master.key")).st_mode & 0o777, 0o600)
        self.assertEqual([n for n in os.listdir(os.path.join(server.data_dir, "restores"))
                          if n.startswith(".")], [])


class DataDirectoryErrorsTest(unittest.TestCase):
    def setUp(self):
        self.server = CustvaultServer()
        self.addCleanup(self.server.cleanup)

    def run_cli(self, *args):
        return subprocess.run([BINARY, *args], env=self.server.env, capture_output=True,
                              text=True, timeout=60)

    def test_11_6_init_without_the_master_key_refuses_and_writes_nothing(self):  # Issue 11.6
        data_dir = self.server.data_dir
        os.remove(os.path.join(data_dir, "master.key"))
        before = tree_digest(data_dir)
        r = self.run_cli("init", "--data-dir", data_dir)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("master key master.key is missing", r.stderr)
        self.assertNotIn("does not open", r.stderr)
        self.assertEqual(tree_digest(data_dir), before)
        r = self.run_cli("serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("master key master.key is missing", r.stderr)
        self.assertNotIn("does not open", r.stderr)
        self.assertEqual(tree_digest(data_dir), before)

    def test_11_6_init_without_the_config_refuses_and_writes_nothing(self):  # Issue 11.6
        data_dir = self.server.data_dir
        os.remove(os.path.join(data_dir, "custvault.toml"))
        before = tree_digest(data_dir)
        r = self.run_cli("init", "--data-dir", data_dir)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("configuration custvault.toml is missing", r.stderr)
        self.assertEqual(tree_digest(data_dir), before)
        r = self.run_cli("serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("configuration custvault.toml is missing", r.stderr)
        self.assertEqual(tree_digest(data_dir), before)

    def test_11_8_an_unreadable_data_directory_says_why(self):  # Issue 11.8
        plain_file = os.path.join(self.server.data_dir, "not-a-directory")
        with open(plain_file, "w") as f:
            f.write("x")
        for data_dir in (plain_file, os.path.join(plain_file, "var")):
            r = self.run_cli("serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cannot read the custvault data directory", r.stderr)
            self.assertIn("Not a directory", r.stderr)
            self.assertNotIn("run: custvault init", r.stderr)


class BackupAnswersTest(unittest.TestCase):
    def setUp(self):
        # Backups go to the pool of expensive requests: room for four at once,
        # so that concurrent POST /backups meet at the location's lock.
        self.server = CustvaultServer(
            environment={"CUSTVAULT_SERVER_EXPENSIVE_WORKER_THREADS": "4"}).start()
        self.addCleanup(self.server.cleanup)
        self.addCleanup(self.server.stop)
        self.admin = self.server.staff()["sys_admin"]
        self.auditor = self.server.staff()["auditor"]
        manager = self.server.token_for("info_manager")
        for i in range(30):
            r = self.server.request("POST", "/api/v1/customers",
                                    {"name": "张三", "phone": "1380000%04d" % i}, token=manager)
            self.assertEqual(r.status, 201, r.body)

    def test_11_11_concurrent_backups_get_409_with_the_running_id_and_no_path(self):  # Issue 11.11
        refused = []
        taken = []
        for _ in range(10):
            answers = []

            def post():
                answers.append(self.server.request("POST", "/api/v1/backups", {"kind": "full"},
                                                   token=self.admin))
            threads = [threading.Thread(target=post) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for r in answers:
                self.assertIn(r.status, (201, 409), r.body)
                self.assertNotIn(self.server.data_dir, r.body.decode())
                (taken if r.status == 201 else refused).append(r)
            if refused:
                break
            time.sleep(1.05)
        self.assertTrue(refused, "no two backups overlapped in 10 rounds")
        ids = {r.json()["id"] for r in taken}
        for r in refused:
            message = r.json()["error"]["message"]
            self.assertIn("another backup is running", message)
            named = [i for i in ids if i in message]
            if "running:" in message:
                self.assertEqual(len(named), 1, (message, ids))

    def test_11_10_no_incremental_on_a_damaged_full_backup_and_an_alert(self):  # Issue 11.10
        r = self.server.request("POST", "/api/v1/backups", {"kind": "full"}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        full = r.json()
        time.sleep(1.05)
        piece = os.path.join(self.server.data_dir, "backups", full["id"], "custvault.db.cvb")
        with open(piece, "r+b") as f:
            f.seek(os.path.getsize(piece) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x01]))
        r = self.server.request("POST", "/api/v1/backups", {"kind": "incremental"}, token=self.admin)
        self.assertGreaterEqual(r.status, 400, r.body)
        listed = self.server.request("GET", "/api/v1/backups", token=self.auditor).json()["items"]
        self.assertEqual([b["id"] for b in listed], [full["id"]])
        security = self.server.staff()["security_officer"]
        deadline = time.time() + 10
        rules = []
        while time.time() < deadline:
            alerts = self.server.request("GET", "/api/v1/audit/alerts", token=security)
            self.assertEqual(alerts.status, 200, alerts.body)
            rules = [a["rule"] for a in alerts.json()["items"]]
            if "backup_damaged" in rules:
                break
            time.sleep(0.1)
        self.assertIn("backup_damaged", rules)
        # A full backup starts a sound chain, which an incremental may follow.
        r = self.server.request("POST", "/api/v1/backups", {"kind": "full"}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        time.sleep(1.05)
        r = self.server.request("POST", "/api/v1/backups", {"kind": "incremental"}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)

    def test_10_13_restore_test_records_hold_no_caller_text_and_no_server_path(self):  # Issue 10.13
        r = self.server.request("POST", "/api/v1/backups/restore-tests",
                                {"backup_id": "<b>free text</b>"}, token=self.admin)
        self.assertEqual(r.status, 422, r.body)
        self.assertNotIn("free text", r.body.decode())
        r = self.server.request("POST", "/api/v1/backups", {"kind": "full"}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        # A well-formed id that is not there: a failed record, naming no path.
        r = self.server.request("POST", "/api/v1/backups/restore-tests",
                                {"backup_id": "20200101T000000Z-full-deadbeef"}, token=self.admin)
        self.assertEqual(r.status, 200, r.body)
        record = r.json()
        self.assertFalse(record["passed"])
        self.assertEqual(record["location"], "local")
        body = r.body.decode()
        self.assertNotIn(self.server.data_dir, body)
        self.assertNotIn("/tmp", body)
        r = self.server.request("POST", "/api/v1/backups/restore-tests", {}, token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        listed = self.server.request("GET", "/api/v1/backups/restore-tests", token=self.auditor)
        self.assertEqual(listed.status, 200, listed.body)
        self.assertNotIn(self.server.data_dir, listed.body.decode())
        self.assertEqual({i["location"] for i in listed.json()["items"]}, {"local"})


if __name__ == "__main__":
    unittest.main()
