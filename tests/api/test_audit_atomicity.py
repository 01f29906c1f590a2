"""A write never lands without its audit entry (issue 10 item 3, R-AUD-6).

Issue 10.3: kill -9 the server at a random moment under a mixed load of
creates, updates, deletes, reveals and transactions from 8 clients, several
times; after each restart every change in custvault.db has its entry in
audit.db and every entry its change. Both files are read directly with
sqlite3, read-only.
"""
import datetime
import os
import random
import signal
import sqlite3
import threading
import time
import unittest

from harness import CustvaultServer

TRIALS = 5
CLIENTS = 8


def ago(minutes):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_only(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)


class AuditAtomicityTest(unittest.TestCase):
    def snapshot(self, data_dir):
        """What the data says and what the trail says, per customer."""
        data = read_only(os.path.join(data_dir, "custvault.db"))
        trail = read_only(os.path.join(data_dir, "audit.db"))
        try:
            present = {row[0]: (row[1], row[2]) for row in
                       data.execute("SELECT id, created_at_us, updated_at_us FROM customers")}
            shredded = {row[0] for row in data.execute("SELECT customer_id FROM shredded_customers")}
            transactions = {}
            for customer, count in data.execute(
                    "SELECT customer_id, count(*) FROM business_transactions GROUP BY customer_id"):
                transactions[customer] = count
            entries = {}
            for operation, customer, details in trail.execute(
                    "SELECT operation, customer_id, details FROM audit_entries "
                    "WHERE result = 'ok' AND customer_id <> '' ORDER BY seq"):
                entries.setdefault((operation, customer), []).append(details)
        finally:
            data.close()
            trail.close()
        return present, shredded, transactions, entries

    def check_consistent(self, server, trial):
        present, shredded, transactions, entries = self.snapshot(server.data_dir)
        problems = []
        # Every change in the data has its entry.
        for customer, (created, updated) in present.items():
            if ("customer.create", customer) not in entries:
                problems.append("created without entry: " + customer)
            if updated != created and ("customer.update", customer) not in entries:
                problems.append("updated without entry: " + customer)
        for customer in shredded:
            if ("customer.delete", customer) not in entries:
                problems.append("deleted without entry: " + customer)
        for customer, count in transactions.items():
            added = [d for d in entries.get(("business.add", customer), []) if '"transaction"' in d]
            if len(added) < count:
                problems.append("%d transactions of %s, %d entries" % (count, customer, len(added)))
        # Every entry has its change.
        for (operation, customer), details in entries.items():
            if operation == "customer.create" and customer not in present and customer not in shredded:
                problems.append("create entry without the customer: " + customer)
            if operation == "customer.delete" and customer not in shredded:
                problems.append("delete entry without the delete: " + customer)
            if operation == "business.add" and customer not in shredded:
                added = [d for d in details if '"transaction"' in d]
                if len(added) > transactions.get(customer, 0):
                    problems.append("%d transaction entries of %s, %d rows" %
                                    (len(added), customer, transactions.get(customer, 0)))
        self.assertEqual(problems, [], "trial %d" % trial)
        return len(present), len(shredded), sum(transactions.values())

    def test_R_AUD_6_kill_9_under_mixed_load_leaves_no_change_without_its_entry(self):
        # Issue 10.3
        server = CustvaultServer().start()
        try:
            manager = server.token_for("info_manager")
            auditor = server.staff()["auditor"]
            rng = random.Random(os.getpid())
            totals = []
            for trial in range(TRIALS):
                known = []  # customer ids this trial's clients created
                lock = threading.Lock()
                stop = threading.Event()
                answered = [0]

                def client(worker):
                    n = 0
                    while not stop.is_set():
                        n += 1
                        with lock:
                            target = rng.choice(known) if known else None
                        choice = rng.random()
                        try:
                            if target is None or choice < 0.35:
                                r = server.request("POST", "/api/v1/customers",
                                                   {"name": "原子测试", "phone": "139%08d" % (worker * 1000000 + n)},
                                                   token=manager)
                                if r.status == 201:
                                    with lock:
                                        known.append(r.json()["id"])
                            elif choice < 0.55:
                                r = server.request("PATCH", "/api/v1/customers/" + target,
                                                   {"phone": "138%08d" % (worker * 1000000 + n)}, token=manager)
                            elif choice < 0.65:
                                r = server.request("DELETE", "/api/v1/customers/" + target, token=manager)
                                if r.status in (200, 204):
                                    with lock:
                                        if target in known:
                                            known.remove(target)
                            elif choice < 0.75:
                                r = server.request("POST", "/api/v1/customers/%s/reveal" % target,
                                                   {"fields": ["name"], "reason": "核对"}, token=manager)
                            else:
                                r = server.request("POST", "/api/v1/customers/%s/transactions" % target,
                                                   {"amount_fen": 100 + n, "occurred_at": ago(5),
                                                    "channel": "app"}, token=manager)
                        except OSError:
                            return  # the server is gone
                        with lock:
                            answered[0] += 1

                threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
                for t in threads:
                    t.start()
                # A random moment once the load is going.
                deadline = time.time() + 20
                wanted = rng.randint(60, 250)
                while time.time() < deadline:
                    with lock:
                        if answered[0] >= wanted:
                            break
                    time.sleep(0.01)
                os.kill(server.proc.pid, signal.SIGKILL)
                server.proc.wait()
                stop.set()
                for t in threads:
                    t.join()
                server.proc.stdout.close()
                server.log.close()
                self.assertGreater(answered[0], 20, "the load did not get going")

                server.start()
                r = server.request("GET", "/api/v1/audit/verify", token=auditor)
                self.assertEqual(r.status, 200, r.body)
                self.assertTrue(r.json()["intact"], r.json())
                totals.append(self.check_consistent(server, trial))
            present, shredded, transactions = totals[-1]
            self.assertGreater(present, 0)
            self.assertGreater(shredded, 0)
            self.assertGreater(transactions, 0)
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
