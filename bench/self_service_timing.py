"""Start latency of customer self-service by outcome (R-SELF-1, docs/self-service.md).

Measures, client-side over one keep-alive connection, how long
POST /api/v1/self-service/challenges takes when the details match, when the
last 4 are wrong and when the customer does not exist: the three should be
indistinguishable. The requests are shuffled together so drift hits all
three alike. Starts a server of its own (tests/api/harness.py).

    CUSTVAULT_BINARY=build/custvault /usr/bin/python3 bench/self_service_timing.py [per_id]

per_id (default 100, at most 100: the per-customer limit's maximum) starts
for each of 3 ids per outcome.
"""
import http.client
import json
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
from harness import CustvaultServer  # noqa: E402

IDS_PER_OUTCOME = 3


def main():
    per_id = min(100, int(sys.argv[1]) if len(sys.argv) > 1 else 100)
    server = CustvaultServer({"CUSTVAULT_SELF_SERVICE_CODES_PER_CUSTOMER_PER_HOUR": "100",
                              "CUSTVAULT_SELF_SERVICE_STARTS_PER_IP_PER_HOUR": "100000",
                              "CUSTVAULT_SELF_SERVICE_REQUESTS_PER_IP_MAX": "1000000"}).start()
    try:
        manager = server.token_for("info_manager")
        customers = []
        for i in range(2 * IDS_PER_OUTCOME):
            phone = "1370000%04d" % i
            r = server.request("POST", "/api/v1/customers",
                               {"name": "张三", "id_number": "11010519491231002X", "phone": phone,
                                "address": "北京市朝阳区建国路88号"}, token=manager)
            customers.append((r.json()["id"], phone))
        jobs = []
        for cid, phone in customers[:IDS_PER_OUTCOME]:
            jobs += [("match", cid, "002X", phone)] * per_id
        for cid, phone in customers[IDS_PER_OUTCOME:]:
            jobs += [("wrong_last4", cid, "1234", phone)] * per_id
        for k in range(IDS_PER_OUTCOME):
            jobs += [("unknown", "C2000010100%04d" % k, "002X", "13700009999")] * per_id
        random.seed(1)
        random.shuffle(jobs)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        times = {"match": [], "wrong_last4": [], "unknown": []}
        for kind, cid, last4, phone in jobs:
            body = json.dumps({"customer_id": cid, "id_last4": last4, "phone": phone})
            started = time.perf_counter()
            conn.request("POST", "/api/v1/self-service/challenges", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            times[kind].append((time.perf_counter() - started) * 1e6)
            assert response.status == 202, response.status
        for kind, t in times.items():
            t.sort()
            print("%-12s n=%d  p25 %6.0f us  median %6.0f us  p75 %6.0f us" % (
                kind, len(t), t[len(t) // 4], statistics.median(t), t[3 * len(t) // 4]))
        print("load average: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        server.stop()
        server.cleanup()


if __name__ == "__main__":
    main()
