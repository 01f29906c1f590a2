#!/usr/bin/python3
"""Seeds a running custvault with generated, VALID customers through the API
(POST /api/v1/customers), from several keep-alive connections at once, and
writes the ids it got back and the phones it sent, one a line, for the wrk
scripts get.lua and search_phone.lua.

Standard library only. The bearer token comes from CUSTVAULT_TOKEN.

  CUSTVAULT_TOKEN=... seed.py --url http://127.0.0.1:PORT --customers 20000 \\
      --ids-out ids.txt --phones-out phones.txt
"""
import argparse
import http.client
import json
import os
import random
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1129)
    parser.add_argument("--ids-out", required=True)
    parser.add_argument("--phones-out", required=True)
    args = parser.parse_args()
    token = os.environ.get("CUSTVAULT_TOKEN", "")
    if not token:
        sys.exit("seed.py: set CUSTVAULT_TOKEN")
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
                      "failures": failures}))
    return 0 if len(ids) == args.customers else 1


if __name__ == "__main__":
    sys.exit(main())
