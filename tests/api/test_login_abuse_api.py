"""End-to-end tests of logins and keys under abuse, against the real binary:
a login flood (issue 10.6), username enumeration (issue 10.9) and channel
keys (issue 11.4). The counters, clocks and bounds behind them are proven
in account_service_test and business_service_test."""
import datetime
import threading
import time
import unittest

from harness import CustvaultServer

MIB = 1024 * 1024


def rss_bytes(pid, field):
    """VmRSS (now) or VmHWM (peak) of a process, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for %d" % (field, pid))


def rfc3339(seconds_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class LoginFloodTest(unittest.TestCase):
    """Issue 10.6: 48 threads of unauthenticated wrong-password logins."""

    BOUND = 2  # auth.login_concurrent_max
    THREADS = 48
    PER_THREAD = 40

    def test_a_login_flood_is_refused_quickly_with_bounded_memory(self):
        server = CustvaultServer({
            # The real argon2id cost (64 MiB, t=3): memory is what is measured.
            "CUSTVAULT_AUTH_ARGON2_MEMORY_KIB": "65536",
            "CUSTVAULT_AUTH_ARGON2_ITERATIONS": "3",
            "CUSTVAULT_AUTH_LOGIN_CONCURRENT_MAX": str(self.BOUND),
            "CUSTVAULT_AUTH_LOGIN_PER_MINUTE": "10",
            "CUSTVAULT_AUTH_LOGIN_BURST": "20",
            # Each flood thread poses as its own address through the proxy.
            "CUSTVAULT_AUDIT_TRUSTED_PROXIES": "127.0.0.1/32",
            # All flood connections come from 127.0.0.1: not what is tested here.
            "CUSTVAULT_SERVER_CONNECTIONS_PER_IP_MAX": "256",
        }).start()
        try:
            token, _ = server.first_login("admin", server.initial["admin"][1])
            self.assertEqual(server.request("GET", "/api/v1/catalog", token=token).status, 200)
            pid = server.proc.pid
            baseline = rss_bytes(pid, "VmRSS")
            statuses = {}
            missing_retry_after = []
            lock = threading.Lock()
            start = threading.Barrier(self.THREADS + 1)

            def flood(n):
                address = "10.77.%d.%d" % (n // 200, n % 200 + 1)
                start.wait()
                for i in range(self.PER_THREAD):
                    r = server.request("POST", "/api/v1/auth/login",
                                       {"username": "flood%d.%d" % (n, i), "password": "Wrong-Password-1"},
                                       token=None, headers={"X-Forwarded-For": address})
                    with lock:
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        if r.status in (429, 503):
                            value = r.headers.get("retry-after", "")
                            if not (value.isdigit() and int(value) >= 1):
                                missing_retry_after.append((r.status, value))

            threads = [threading.Thread(target=flood, args=(n,)) for n in range(self.THREADS)]
            for thread in threads:
                thread.start()
            start.wait()
            # Authenticated work goes on during the flood.
            during = []
            peak_sampled = baseline
            while any(thread.is_alive() for thread in threads):
                during.append(server.request("GET", "/api/v1/catalog", token=token).status)
                peak_sampled = max(peak_sampled, rss_bytes(pid, "VmRSS"))
            for thread in threads:
                thread.join()
            peak = max(peak_sampled, rss_bytes(pid, "VmHWM"))

            total = self.THREADS * self.PER_THREAD
            self.assertEqual(sum(statuses.values()), total, statuses)
            self.assertGreater(statuses.get(429, 0), 0, statuses)  # each address's burst ran out
            refused = statuses.get(429, 0) + statuses.get(503, 0)
            self.assertGreater(refused, total // 4, statuses)
            self.assertEqual(missing_retry_after, [])
            self.assertEqual(set(statuses) - {401, 423, 429, 503}, set(), statuses)
            self.assertTrue(during, "no authenticated request ran during the flood")
            self.assertEqual(set(during), {200}, during)
            # Memory: at most BOUND argon2 blocks at once (+2 for slack:
            # allocator, the threads' stacks and buffers), not one per request.
            bound = baseline + 64 * MIB * (self.BOUND + 2)
            self.assertLess(peak, bound, "peak RSS %d MiB, baseline %d MiB, statuses %s"
                            % (peak // MIB, baseline // MIB, statuses))
            print("flood: %s; %d authenticated GETs during it; RSS baseline %d MiB, peak %d MiB"
                  % (statuses, len(during), baseline // MIB, peak // MIB))
        finally:
            server.stop()
            server.cleanup()


class EnumerationTest(unittest.TestCase):
    """Issue 10.9: a real username answers exactly like an unknown one."""

    def test_known_and_unknown_names_get_the_same_answers(self):
        server = CustvaultServer({"CUSTVAULT_AUTH_LOCKOUT_FAILURES": "3"}).start()
        try:
            staff = server.staff()
            r = server.request("POST", "/api/v1/users",
                               {"username": "enum.known", "role": "entry_clerk",
                                "ip_allowlist": "10.99.0.0/16"},  # 127.0.0.1 is outside it
                               token=staff["sys_admin"])
            self.assertEqual(r.status, 201, r.body)
            r = server.request("POST", "/api/v1/role-requests/%s/approve" % r.json()["role_request_id"],
                               {"comment": "ok"}, token=staff["security_officer"])
            self.assertEqual(r.status, 200, r.body)
            answers = []
            for attempt in range(6):
                known = server.login("enum.known", "Wrong-Password-1")
                unknown = server.login("enum.nobody", "Wrong-Password-1")
                self.assertEqual(known.status, unknown.status, attempt)
                self.assertEqual(known.json(), unknown.json(), attempt)
                answers.append(known.status)
            self.assertEqual(answers, [401, 401, 423, 423, 423, 423])
        finally:
            server.stop()
            server.cleanup()


class ChannelKeysTest(unittest.TestCase):
    """Issue 11.4: what a channel key may write, and its life cycle."""

    @classmethod
    def setUpClass(cls):
        cls.server = CustvaultServer().start()
        cls.admin = cls.server.staff()["sys_admin"]
        cls.manager = cls.server.token_for("info_manager")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def register(self, name, body=None):
        r = self.server.request("POST", "/api/v1/channels", dict({"name": name}, **(body or {})),
                                token=self.admin)
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def customer(self, token):
        r = self.server.request("POST", "/api/v1/customers", {"name": "钱九"}, token=token)
        self.assertEqual(r.status, 201, r.body)
        return r.json()["id"]

    def write(self, key, customer, kind="transactions"):
        body = {"transactions": {"amount_fen": 100, "occurred_at": rfc3339(-60), "channel": "app"},
                "complaints": {"opened_at": rfc3339(-60), "summary": "x"},
                "cooperation": {"started_at": rfc3339(-60), "kind": "supplier", "summary": "x"}}[kind]
        return self.server.request("POST", "/api/v1/customers/%s/%s" % (customer, kind), body, token=key)

    def test_a_channel_writes_only_for_its_own_customers_and_cannot_probe_ids(self):
        key = self.register("shop-a")["api_key"]
        other = self.register("shop-b")["api_key"]
        own = self.customer(key)
        others = self.customer(other)
        staffs = self.customer(self.manager)
        r = self.write(self.manager, staffs, "complaints")
        self.assertEqual(r.status, 201, r.body)
        staff_complaint = r.json()["id"]
        missing = self.server.request("POST", "/api/v1/customers/C20990101999999/transactions",
                                      {"amount_fen": 1, "occurred_at": rfc3339(-60), "channel": "app"},
                                      token=key)
        self.assertEqual(missing.status, 404)
        for customer in (others, staffs, "C20990101999999"):
            for kind in ("transactions", "complaints", "cooperation"):
                r = self.write(key, customer, kind)
                self.assertEqual((r.status, r.json()["error"]), (404, missing.json()["error"]),
                                 (customer, kind))
        r = self.server.request("POST", "/api/v1/customers/%s/complaints/%s/close" % (staffs, staff_complaint),
                                token=key)
        self.assertEqual((r.status, r.json()["error"]), (404, missing.json()["error"]))
        for kind in ("transactions", "complaints", "cooperation"):
            self.assertEqual(self.write(key, own, kind).status, 201, kind)

    def test_rotate_keeps_the_old_key_through_the_overlap_and_revoke_ends_every_key(self):
        first = self.register("shop-rotating")
        self.assertIsNotNone(first["expires_at"])
        r = self.server.request("POST", "/api/v1/channels/shop-rotating/rotate", token=self.admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        rotated = r.json()
        self.assertNotEqual(rotated["api_key"], first["api_key"])
        self.assertIsNotNone(rotated["previous_key_valid_until"])
        for key in (first["api_key"], rotated["api_key"]):  # both work within the overlap
            self.assertEqual(self.server.request("POST", "/api/v1/customers", {"name": "孙十"},
                                                 token=key).status, 201)
        r = self.server.request("POST", "/api/v1/channels/shop-rotating/revoke", token=self.admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "revoked")
        for key in (first["api_key"], rotated["api_key"]):
            self.assertEqual(self.server.request("POST", "/api/v1/customers", {"name": "孙十"},
                                                 token=key).status, 401)
        self.assertEqual(self.server.request("POST", "/api/v1/channels/shop-rotating/rotate",
                                             token=self.admin).status, 404)
        # Only channel.manage.
        self.assertEqual(self.server.request("POST", "/api/v1/channels/shop-a/revoke",
                                             token=self.manager).status, 403)

    def test_an_expired_key_is_refused_and_expiry_is_bounded(self):
        r = self.server.request("POST", "/api/v1/channels", {"name": "shop-far", "expires_at": rfc3339(800 * 86400)},
                                token=self.admin)
        self.assertEqual(r.status, 422, r.body)
        r = self.server.request("POST", "/api/v1/channels", {"name": "shop-past", "expires_at": rfc3339(-1)},
                                token=self.admin)
        self.assertEqual(r.status, 422, r.body)
        # Expiry is a wall-clock instant: the key is issued to end in a few
        # seconds, and used again once that instant has passed.
        expires = int(time.time()) + 5
        at = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = self.register("shop-brief", {"expires_at": at})["api_key"]
        self.assertEqual(self.server.request("POST", "/api/v1/customers", {"name": "孙十"},
                                             token=key).status, 201)
        time.sleep(max(0.0, expires - time.time()) + 0.5)
        self.assertEqual(self.server.request("POST", "/api/v1/customers", {"name": "孙十"},
                                             token=key).status, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
