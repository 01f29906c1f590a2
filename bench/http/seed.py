#!/usr/bin/python3
"""Seeds a running custvault with generated, VALID customers through the API
(POST /api/v1/customers), from several keep-alive connections at once, and
writes the ids it got back and the phones it sent, one a line, for the wrk
scripts get.lua and search_phone.lua.

Standard library only. Accounts: with --credentials (the data directory's
initial-credentials file, lines "username role one-time-password") it logs
in as the initial admin and security officer, replaces their one-time
passwords, creates an information manager through the maker-checker flow
(admin: POST /api/v1/users; security officer: POST
/api/v1/role-requests/{id}/approve), logs that account in (replacing its
one-time password too) and seeds with its session. The session token is
written to --token-out (mode 0600) for wrk. The server must run with
CUSTVAULT_AUTH_TOTP_REQUIRED_ROLES="" (no TOTP): login cost is not what
the benchmark measures. Without --credentials the token comes from
CUSTVAULT_TOKEN.

The session lives while it is used: idle timeout 15 min, absolute 8 h by
default; scripts/bench's wrk runs follow the seeding within seconds.

  seed.py --url http://127.0.0.1:PORT --credentials DATA/initial-credentials \\
      --token-out token.txt --customers 20000 --ids-out ids.txt --phones-out phones.txt
"""
import argparse
import http.client
import json
import os
import random
import secrets
import sys
import threading
import time
import urllib.parse

REGIONS = [("110105", "北京市朝阳区"), ("110108", "北京市海淀区"), ("310115", "上海市浦东新区"),
           ("440305", "广东省深圳市南山区"), ("330106", "浙江省杭州市西湖区"),
           ("510107", "四川省成都市武侯区"), ("420106", "湖北省武汉市武昌区"),
           ("320102", "江苏省南京市玄武区"), ("610113", "陕西省西安市雁塔区"),
           ("500103", "重庆市渝中区")]
ROADS = ["建国路", "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "世纪大道"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
            "胡", "郭", "何", "高", "林", "罗", "欧阳", "司马"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛",
         "明", "超", "华", "建", "国", "文", "辉", "宇", "欣", "涵"]
CARD_PREFIXES = ["622202", "621700", "622848", "621483", "622588", "621226"]
MAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "example.cn"]
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
RESPONSE_BYTES_MAX = 1 << 20


def id_check_character(first17):
    """GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS))
    return "10X98765432"[total % 11]


def luhn_check_digit(partial):
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the check digit will be appended to the right
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def digits(rng, count):
    return "".join(str(rng.randint(0, 9)) for _ in range(count))


def customer(rng):
    code, district = rng.choice(REGIONS)
    year, month = rng.randint(1950, 2005), rng.randint(1, 12)
    last = DAYS_IN_MONTH[month - 1]
    if month == 2 and (year % 4 == 0 and year % 100 != 0 or year % 400 == 0):
        last = 29
    first17 = f"{code}{year:04d}{month:02d}{rng.randint(1, last):02d}{digits(rng, 3)}"
    card = rng.choice(CARD_PREFIXES) + digits(rng, 12)
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    local = "".join(chr(97 + rng.randint(0, 25)) for _ in range(rng.randint(4, 9)))
    return {
        "name": name,
        "id_number": first17 + id_check_character(first17),
        "phone": f"1{rng.randint(3, 9)}{digits(rng, 9)}",
        "address": f"{district}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
        "bank_account": card + luhn_check_digit(card),
        "email": f"{local}{digits(rng, rng.randint(0, 3))}@{rng.choice(MAIL_DOMAINS)}",
    }


def worker(url, token, count, seed, results, lock, failures):
    rng = random.Random(seed)
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    ids, phones = [], []
    for _ in range(count):
        record = customer(rng)
        body = json.dumps(record, ensure_ascii=False).encode("utf-8")
        for attempt in range(3):
            try:
                conn.request("POST", "/api/v1/customers", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read(RESPONSE_BYTES_MAX)
                break
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                conn.close()
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                if attempt == 2:
                    raise
        if response.status == 201:
            ids.append(json.loads(payload)["id"])
            phones.append(record["phone"])
        else:
            with lock:
                # The status and the error code only: never the values sent.
                code = ""
                try:
                    code = json.loads(payload).get("error", {}).get("code", "")
                except (ValueError, AttributeError):
                    pass
                failures[f"{response.status} {code}".strip()] = \
                    failures.get(f"{response.status} {code}".strip(), 0) + 1
    conn.close()
    with lock:
        results.append((ids, phones))


def call(url, method, path, body, token=None):
    """One JSON request on a fresh connection: (status, parsed body or {})."""
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    try:
        conn.request(method, path, body=json.dumps(body).encode("utf-8"), headers=headers)
        response = conn.getresponse()
        payload = response.read(RESPONSE_BYTES_MAX)
    finally:
        conn.close()
    try:
        parsed_body = json.loads(payload) if payload else {}
    except ValueError:
        parsed_body = {}
    return response.status, parsed_body


def error_code(body):
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code", "") if isinstance(error, dict) else ""


def new_password():
    # Upper, lower, digit and symbol, 28+ characters; never printed.
    return "Bench-" + secrets.token_urlsafe(18) + "-9aZ"


def first_login(url, username, one_time_password):
    """Logs in with a one-time password, replaces it, logs in again: the
    session token. Fails (SystemExit) with the status and error code only."""
    status, body = call(url, "POST", "/api/v1/auth/login",
                        {"username": username, "password": one_time_password})
    if status != 200 or "token" not in body:
        sys.exit(f"seed.py: login {username}: {status} {error_code(body)} "
                 "(is CUSTVAULT_AUTH_TOTP_REQUIRED_ROLES empty?)")
    password = new_password()
    status, changed = call(url, "POST", "/api/v1/auth/password",
                           {"old_password": one_time_password, "new_password": password},
                           token=body["token"])
    if status not in (200, 204):
        sys.exit(f"seed.py: password change {username}: {status} {error_code(changed)}")
    status, body = call(url, "POST", "/api/v1/auth/login",
                        {"username": username, "password": password})
    if status != 200 or "token" not in body:
        sys.exit(f"seed.py: second login {username}: {status} {error_code(body)}")
    return body["token"]


def info_manager_token(url, credentials_path):
    """The session of a fresh information manager, made through the
    maker-checker flow by the initial admin and security officer."""
    initial = {}
    with open(credentials_path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                username, _role, password = line.split()
                initial[username] = password
    for needed in ("admin", "security"):
        if needed not in initial:
            sys.exit(f"seed.py: no {needed} in {credentials_path}")
    admin = first_login(url, "admin", initial["admin"])
    security = first_login(url, "security", initial["security"])
    status, created = call(url, "POST", "/api/v1/users",
                           {"username": "bench.infomanager", "display_name": "Benchmark",
                            "role": "info_manager"}, token=admin)
    if status != 201:
        sys.exit(f"seed.py: create user: {status} {error_code(created)}")
    status, approved = call(url, "POST",
                            "/api/v1/role-requests/%s/approve" % created["role_request_id"],
                            {"comment": "benchmark"}, token=security)
    if status != 200:
        sys.exit(f"seed.py: approve: {status} {error_code(approved)}")
    return first_login(url, "bench.infomanager", created["one_time_password"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1129)
    parser.add_argument("--ids-out", required=True)
    parser.add_argument("--phones-out", required=True)
    parser.add_argument("--credentials", help="initial-credentials of a fresh data directory")
    parser.add_argument("--token-out", help="where the information manager's token goes (0600)")
    args = parser.parse_args()
    if args.credentials:
        login_start = time.monotonic()
        token = info_manager_token(args.url, args.credentials)
        login_seconds = time.monotonic() - login_start
    else:
        token = os.environ.get("CUSTVAULT_TOKEN", "")
        login_seconds = 0.0
    if not token:
        sys.exit("seed.py: give --credentials or set CUSTVAULT_TOKEN")
    if args.token_out:
        fd = os.open(args.token_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(token + "\n")
    if not 1 <= args.connections <= 256 or not 1 <= args.customers <= 10_000_000:
        sys.exit("seed.py: --connections 1..256, --customers 1..10000000")

    results, failures, lock = [], {}, threading.Lock()
    share, extra = divmod(args.customers, args.connections)
    threads = [threading.Thread(target=worker,
                                args=(args.url, token, share + (1 if i < extra else 0),
                                      args.seed * 1000 + i, results, lock, failures))
               for i in range(args.connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    ids = [i for chunk, _ in results for i in chunk]
    phones = [p for _, chunk in results for p in chunk]
    with open(args.ids_out, "w", encoding="ascii") as f:
        f.write("\n".join(ids) + "\n")
    with open(args.phones_out, "w", encoding="ascii") as f:
        f.write("\n".join(phones) + "\n")
    print(json.dumps({"requested": args.customers, "created": len(ids), "seconds": round(seconds, 3),
                      "per_second": round(len(ids) / seconds, 1) if seconds > 0 else 0,
                      "login_seconds": round(login_seconds, 3), "role": "info_manager",
                      "failures": failures}))
    return 0 if len(ids) == args.customers else 1


if __name__ == "__main__":
    sys.exit(main())
