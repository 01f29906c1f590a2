"""Continuous shipping end to end (R-BAK-2a, R-BAK-1, R-BAK-2, issue 6).

The real server runs with an off-site directory. A full backup is taken
and copied off-site; then customers are created through the HTTP API at
about 200 per second while the shipper sends committed changes off-site.
The server is killed with SIGKILL as soon as it reports the change journal
shipped up to the last acknowledged create; the machine is treated as lost:
only the off-site directory and the master key are used to restore (full
backup + shipped segments) into a new data directory. A server started
there must hold every acknowledged customer, with the same values (masked
comparison of all, decrypted comparison of a sample through reveal), and
its audit chain must verify. The shipping lag (commit to durable
off-site) measured by the server under that load is printed, not asserted:
it is a figure of the machine (docs/performance.md), and a fixed bound here
failed at random on a busy machine (issue 11.12).
"""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BINARY, STRONG_PASSWORD, CustvaultServer

# The measurement in docs/performance.md runs longer:
# CUSTVAULT_SHIPPING_LOAD_SECONDS=30 python3 tests/api/test_backup_shipping.py
RATE_PER_SECOND = int(os.environ.get("CUSTVAULT_SHIPPING_RATE", "200"))
LOAD_SECONDS = int(os.environ.get("CUSTVAULT_SHIPPING_LOAD_SECONDS", "6"))
WORKERS = 8
# How long the shipper may take to catch up after the load: a guard against
# a hang, not a timing expectation.
CATCH_UP_DEADLINE_SECONDS = 300


class RestoredServer(CustvaultServer):
    """A server on an existing data directory (no init)."""

    def __init__(self, data_dir, env):
        self.data_dir = data_dir
        self.env = env
        self.token = None
        self.log_path = os.path.join(tempfile.gettempdir(), "cv_restored_%d.log" % os.getpid())
        self.proc = None
        self.port = None


def masked_phone(phone):
    return phone[:3] + "****" + phone[-4:]


class BackupShippingTest(unittest.TestCase):
    def setUp(self):
        self.offsite = tempfile.mkdtemp(prefix="cv_offsite_")
        self.restored_dir = tempfile.mkdtemp(prefix="cv_restored_")
        os.rmdir(self.restored_dir)  # the restore makes it
        self.server = CustvaultServer(environment={
            "CUSTVAULT_BACKUP_OFFSITE_DIR": self.offsite,
            "CUSTVAULT_BACKUP_SHIPPING_INTERVAL_MS": "500",
        })
        self.restored = None

    def tearDown(self):
        for server in (self.server, self.restored):
            if server is not None:
                try:
                    server.stop()
                except Exception:
                    pass
        self.server.cleanup()
        shutil.rmtree(self.offsite, ignore_errors=True)
        shutil.rmtree(self.restored_dir, ignore_errors=True)

    def cli_login(self, username):
        session = os.path.join(self.server.data_dir, "session-" + username)
        r = self.server.cli("login", "--data-dir", self.server.data_dir, "--username", username,
                            "--session-file", session, input_text=STRONG_PASSWORD + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        return ["--data-dir", self.server.data_dir, "--session-file", session]

    def create(self, token, phone):
        r = self.server.request("POST", "/api/v1/customers",
                                {"name": "韩梅梅", "phone": phone, "address": "北京市海淀区中关村大街1号"},
                                token=token)
        return r

    def create_retrying(self, token, phone):
        # A CLI command appended audit entries from another process: the
        # server's audit writer answers 503 once, reloads its head, goes on.
        for _ in range(3):
            r = self.create(token, phone)
            if r.status != 503:
                return r
        return r

    def test_kill_9_then_restore_from_offsite_backup_and_shipped_changes(self):
        server = self.server.start()
        manager = server.token_for("info_manager")
        auditor = server.staff()["auditor"]
        admin = self.cli_login("admin")

        # Some customers, then a full backup copied off-site.
        created = {}  # id -> (phone, acknowledged at)
        for i in range(30):
            phone = "135%08d" % i
            r = self.create_retrying(manager, phone)
            self.assertEqual(r.status, 201, r.body)
            created[r.json()["id"]] = (phone, time.time())
        # A backup taken by hand is copied off-site at once (R-BAK-1) ...
        r = server.cli("backup", "full", *admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        full = json.loads(r.stdout)
        self.assertTrue(full["offsite"]["ok"], r.stdout)
        self.assertEqual([c["id"] for c in full["offsite"]["copied"]], [full["id"]])
        self.assertTrue(os.path.isdir(os.path.join(self.offsite, full["id"])))
        # ... so an explicit copy afterwards finds it there already.
        r = server.cli("backup", "offsite-copy", *admin)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = json.loads(r.stdout)
        self.assertTrue(again["ok"], r.stdout)
        self.assertEqual(again["copied"], [])
        self.assertIn(full["id"], again["already_offsite"])
        r = self.create_retrying(manager, "13599999999")
        self.assertEqual(r.status, 201, r.body)
        created[r.json()["id"]] = ("13599999999", time.time())

        # The load: about RATE_PER_SECOND creates per second for LOAD_SECONDS.
        lock = threading.Lock()
        failures = []
        start = time.time()
        total = RATE_PER_SECOND * LOAD_SECONDS

        def load(worker):
            n = worker
            while n < total:
                due = start + n / RATE_PER_SECOND
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                phone = "136%08d" % n
                try:
                    r = self.create(manager, phone)
                except OSError as error:
                    with lock:
                        failures.append(str(error))
                    return
                with lock:
                    if r.status == 201:
                        created[r.json()["id"]] = (phone, time.time())
                    else:
                        failures.append(r.status)
                n += WORKERS

        threads = [threading.Thread(target=load, args=(w,)) for w in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        achieved = (len(created) - 31) / (time.time() - start)
        self.assertEqual(failures, [], "creates failed under load")
        last_ack = max(at for _, at in created.values())

        # The lag the server measured (commit -> segment durable off-site).
        r = server.request("GET", "/api/v1/backups/shipping", token=auditor)
        self.assertEqual(r.status, 200, r.body)
        shipping = r.json()
        self.assertTrue(shipping["running_here"], shipping)
        lag = shipping["shipper"]["lag_ms"]
        print("\nshipping under %.0f creates/s over %d s: lag p50 %d ms, p99 %d ms, max %d ms "
              "(%d journal rows, %d segments written)" % (
                  achieved, LOAD_SECONDS, lag["p50"], lag["p99"], lag["max"], lag["samples"],
                  shipping["shipper"]["segments_written"]))

        # Every acknowledged create is in the change journal; the machine is
        # lost as soon as the shipper reports the journal durable off-site up
        # to there (the server is another process: its status is polled).
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data_dir, "custvault.db"),
                             uri=True)
        try:
            journal_head = db.execute("SELECT max(seq) FROM change_journal").fetchone()[0]
        finally:
            db.close()
        self.assertIsNotNone(journal_head)
        deadline = time.time() + CATCH_UP_DEADLINE_SECONDS
        shipped = -1
        while time.time() < deadline:
            r = server.request("GET", "/api/v1/backups/shipping", token=auditor)
            self.assertEqual(r.status, 200, r.body)
            shipped = r.json()["shipper"]["journal_seq"]
            if shipped >= journal_head:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(shipped, journal_head, "the shipper never caught up")
        kill_at = time.time()
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        # Only the off-site directory and the master key survive.
        master_key = os.path.join(self.offsite, "..", os.path.basename(self.offsite) + ".key")
        shutil.copy(os.path.join(server.data_dir, "master.key"), master_key)
        os.chmod(master_key, 0o600)
        try:
            r = subprocess.run([BINARY, "backup", "restore-shipped", "--from", self.offsite,
                                "--to", self.restored_dir, "--master-key", master_key],
                               env=server.env, capture_output=True, text=True, timeout=300)
        finally:
            os.remove(master_key)
        self.assertEqual(r.returncode, 0, r.stderr)
        restore = json.loads(r.stdout)
        self.assertGreaterEqual(len(restore["segments"]), 1, restore)
        self.assertEqual(restore["shipped_changes_stopped"], "", restore)

        # A server on the restored directory (it must not ship into the
        # lost vault's off-site directory).
        env = dict(server.env)
        del env["CUSTVAULT_BACKUP_OFFSITE_DIR"]
        self.restored = RestoredServer(self.restored_dir, env).start()
        r = self.restored.login(server.usernames["info_manager"], STRONG_PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        token = r.json()["token"]

        must_have = list(created)
        self.assertEqual(len(must_have), 31 + RATE_PER_SECOND * LOAD_SECONDS)
        missing, wrong = [], []
        for cid in must_have:
            r = self.restored.request("GET", "/api/v1/customers/" + cid, token=token)
            if r.status != 200:
                missing.append((cid, r.status))
                continue
            fields = r.json()["fields"]
            if fields.get("phone") != masked_phone(created[cid][0]) or fields.get("name") != "韩某":
                wrong.append((cid, fields))
        self.assertEqual(missing, [], "acknowledged customers lost (first 10 of %d)" % len(missing))
        self.assertEqual(wrong, [], "restored customers differ")
        print("restore-shipped: %d segments, %.2f s" % (len(restore["segments"]), restore["seconds"]))
        print("restored %d customers; all %d acknowledged are there (the kill came %.1f s after "
              "the last create answered)" % (restore["customers"], len(must_have), kill_at - last_ack))

        # Decrypted comparison of a sample.
        for cid in random.sample(must_have, 10):
            r = self.restored.request("POST", "/api/v1/customers/%s/reveal" % cid,
                                      {"fields": ["phone"], "reason": "restore check"}, token=token)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["fields"]["phone"], created[cid][0])

        # The restored audit chain verifies.
        r = self.restored.login(server.usernames["auditor"], STRONG_PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        r = self.restored.request("GET", "/api/v1/audit/verify", token=r.json()["token"])
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.json()["intact"], r.json())


if __name__ == "__main__":
    unittest.main(verbosity=2)
