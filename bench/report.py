#!/usr/bin/python3
"""Writes docs/performance.md from the result files scripts/bench collects
(wrk outputs, CPU counters, the import benchmark's JSON, the crypto
benchmark's JSON, callgrind summaries). Standard library only. Every figure
in the report comes from those files; the hand-written analysis in
bench/performance_notes.md is appended as it is, under its own heading.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

# Targets from the foundation issue.
GET_RATIO_TARGET = 0.30
GET_RATIO_STRETCH = 0.50
IMPORT_RATE_TARGET = 50_000
AUDIT_COST_TARGET = 0.20  # auditing may cost at most 20% of masked-get throughput

SCENARIOS = [
    ("healthz", "GET /healthz (no auth, no work: the ceiling)"),
    ("create", "POST /api/v1/customers (validate, new key, encrypt 6 fields, 5 blind indexes, insert)"),
    ("get_masked", "GET /api/v1/customers/{id} (read, unwrap key, decrypt, mask; audited: waits for its durable audit entry)"),
    ("search_phone", "POST /api/v1/customers/search {phone} (blind index lookup, decrypt, mask)"),
]


def read(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return default


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(text):
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, text, re.M)
        out["p" + pct] = to_ms(m.group(1), m.group(2)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+),", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:(.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else ""
    return out


def fmt_ms(value):
    if value is None:
        return "n/a"
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def fmt_us(value):
    return f"{value:,.0f} µs" if value < 1000 else f"{value / 1000:.2f} ms"


def machine():
    cpu = "unknown"
    for line in (read("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = ""
    m = re.search(r"MemTotal:\s+(\d+) kB", read("/proc/meminfo", "") or "")
    if m:
        mem = f"{int(m.group(1)) / 1048576:.1f} GiB"
    try:
        compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True,
                                  check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        compiler = "unknown"
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem": mem, "kernel": platform.release(),
            "compiler": compiler,
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}


def server_settings(results):
    """The server settings from the custvault.toml init wrote; keys it leaves
    commented out take the built-in defaults of common/config.h."""
    defaults = {("server", "io_threads"): 2, ("server", "worker_threads"): 4,
                ("storage", "sqlite_readers"): 4, ("crypto", "profile"): "default"}
    doc = {}
    if tomllib:
        try:
            doc = tomllib.loads(read(os.path.join(results, "custvault.toml"), "") or "")
        except tomllib.TOMLDecodeError:
            doc = {}
    settings = {}
    for (section, key), default in defaults.items():
        value = doc.get(section, {}).get(key)
        settings[key] = value if value is not None else f"{default} (built-in default)"
    return settings


def cpu_share(results, name, duration):
    """Average cores used by the server and by wrk during a scenario."""
    server = read(os.path.join(results, name + ".server_cpu"))
    wrk = read(os.path.join(results, name + ".wrk_cpu"))
    server_cores = wrk_cores = None
    if server:
        ticks, hz = server.split()
        server_cores = int(ticks) / int(hz) / duration
    if wrk:
        user, system = wrk.split()[-2:]
        wrk_cores = (float(user) + float(system)) / duration
    return server_cores, wrk_cores


def verdict(ok):
    return "**met**" if ok else "**not met**"


def import_rows(data):
    return [
        ("customers stored / requested", f"{data['customers_stored']:,} / {data['customers_requested']:,}"),
        ("ids per calendar day", "all on one day" if data["ids_per_day"] == 0
         else f"{data['ids_per_day']:,} (clock moves a day after each {data['ids_per_day']:,})"),
        ("batch (rows per store transaction; Import calls of up to 10,000 rows, pipelined)", f"{data['batch']:,}"),
        ("**customers/s** (timed Import calls only)", f"**{data['customers_per_second']:,.0f}**"),
        ("import seconds (timed)", f"{data['import_seconds']:.1f}"),
        ("data generation seconds (not timed, reported apart)", f"{data['generate_seconds']:.1f}"),
        ("wall seconds (both, plus progress output)", f"{data['wall_seconds']:.1f}"),
        ("time per Import call: p50 / p90 / max",
         f"{data['batch_ms_p50']:,.0f} / {data['batch_ms_p90']:,.0f} / {data['batch_ms_max']:,.0f} ms"),
        ("id draws / retries", f"{data['id_draws']:,} / {data['id_retries']:,}"),
        ("Import calls that redrew some ids (taken ids are found in bulk before sealing)",
         f"{data['batches_with_conflict_redraws']:,} of {data['batches']:,}"),
        ("rows refused by validation", f"{data['refused']:,}"),
        ("failed batches (rows in them)", f"{data['failed_batches']:,} ({data['rows_in_failed_batches']:,})"
         + (f", first error `{data['first_failure_code']}`" if data["failed_batches"] else "")),
        ("peak RSS (ru_maxrss)", f"{data['peak_rss_kib'] / 1024:,.0f} MiB"),
        ("database file after close", f"{data['db_bytes'] / 1048576:,.0f} MiB "
         f"({data['db_bytes'] / max(1, data['customers_stored']):,.0f} bytes per customer)"),
        ("database + WAL while open", f"{data['db_bytes_while_open'] / 1048576:,.0f} MiB"),
    ]


def parse_audit(text):
    """audit_benchmark's text output: append and verify lines."""
    out = {}
    m = re.search(r"append \(durable, group commit, (\d+) threads\): (\d+) entries in ([\d.]+) s = "
                  r"(\d+) entries/s; (\d+) batches \(([\d.]+) entries per fsync\), (\d+) failures", text)
    if m:
        out["append"] = {"threads": int(m.group(1)), "entries": int(m.group(2)),
                         "seconds": float(m.group(3)), "rate": int(m.group(4)),
                         "batches": int(m.group(5)), "per_fsync": float(m.group(6)),
                         "failures": int(m.group(7))}
    m = re.search(r"verify: (\d+) entries, (\d+) checkpoint MACs in ([\d.]+) s = (\d+) entries/s", text)
    if m:
        out["verify"] = {"entries": int(m.group(1)), "macs": int(m.group(2)),
                         "seconds": float(m.group(3)), "rate": int(m.group(4))}
    m = re.search(r"chain hash alone: (\d+) entries/s", text)
    if m:
        out["hash_rate"] = int(m.group(1))
    return out


def callgrind_table(text, limit):
    rows = []
    seen = set()
    total = None
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$", line)
        if not m:
            continue
        what = m.group(3).strip()
        if what.startswith("PROGRAM TOTALS"):
            total = m.group(1)
            continue
        lib = ""
        lm = re.search(r"\s\[([^\]]+)\]$", what)
        if lm:
            lib = os.path.basename(lm.group(1))
            what = what[:lm.start()]
        # "file:function": paths hold no colon, C++ names hold "::".
        location, _, function = what.partition(":")
        function = re.sub(r"\[abi:cxx11\]", "", function).replace("(anonymous namespace)", "{anon}")
        function = function.split("(")[0] or function  # drop argument lists
        function = re.sub(r"<[^<>]*(<[^<>]*>[^<>]*)*>", "<>", function)  # and template arguments
        if function in seen or function.startswith(("__libc_start", "0x000000000001")) \
                or function in ("", "main") or "below main" in what:
            continue
        seen.add(function)
        where = os.path.basename(location) if location and location != "???" else lib
        rows.append((m.group(2), function.replace("|", "\\|")[:100], where))
        if len(rows) >= limit:
            break
    return total, rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--build-type", default="")
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--wrk-threads", type=int, required=True)
    a = p.parse_args()
    r = a.results
    m = machine()
    settings = server_settings(r)
    wrk = {name: parse_wrk(read(os.path.join(r, name + ".wrk"), "") or "") for name, _ in SCENARIOS}
    healthz_rps = wrk["healthz"]["rps"] or 0
    seed = json.loads(read(os.path.join(r, "seed.json"), "{}") or "{}")
    get_text = read(os.path.join(r, "get.json"))
    get = json.loads(get_text.strip().splitlines()[-1]) if get_text and get_text.strip() else None
    audits = []
    for name in sorted(os.listdir(r)):
        mm = re.match(r"audit_(\d+)\.txt$", name)
        if mm:
            audits.append((int(mm.group(1)), parse_audit(read(os.path.join(r, name), "") or "")))
    audits.sort()
    loads = [line.rsplit(" ", 4) for line in (read(os.path.join(r, "loadavg.txt"), "") or "").splitlines()
             if line.strip()]
    imports = []
    for name, title in (("import", "10,000 customers per calendar day (the issue's setting)"),
                        ("import_clean", "One 5,000-row batch per calendar day (no batch meets an "
                                         "earlier batch's id)"),
                        ("import_one_day", "Every customer on ONE calendar day")):
        text = read(os.path.join(r, name + ".json"))
        if text and text.strip():
            imports.append((name, title, json.loads(text.strip().splitlines()[-1])))

    out = []
    w = out.append
    w("# Performance")
    w("")
    span = f" (runs {loads[0][1]}-{loads[-1][1]} UTC)" if len(loads) >= 2 else ""
    w(f"Measured {m['date']}{span} by `scripts/bench` (this file is generated: run it again rather")
    w("than editing the figures). The hand-written analysis at the end says where time goes.")
    w("")
    w("## Machine and settings")
    w("")
    w(f"- CPU: {m['cpu']}, **{m['nproc']} cores** (`nproc`); memory {m['mem']}; Linux {m['kernel']}")
    if loads:
        w("- **The machine is shared** with other engineers' builds and tests while this runs; the "
          "load average (1, 5, 15 min) at each step, UTC: " +
          "; ".join(f"{step} {clock}: {a1} {a5} {a15}" for step, clock, a1, a5, a15 in loads) +
          ". With 2 cores, a load above 2 means the benchmark got less than the whole machine.")
    w(f"- Build: `build/`, CMAKE_BUILD_TYPE {a.build_type or 'unknown'}, {m['compiler']}")
    w(f"- Server: `custvault serve` on 127.0.0.1, io_threads = {settings['io_threads']}, "
      f"worker_threads = {settings['worker_threads']}, sqlite_readers = {settings['sqlite_readers']}, "
      f"crypto profile {settings['profile']}; SQLite in WAL mode on the local disk.")
    w(f"- Load: `wrk -t{a.wrk_threads} -c{a.connections} -d{a.duration:g}s --latency` on the **same "
      f"{m['nproc']} cores** as the server. wrk's own CPU time is in the tables: every core-second wrk "
      "spends is one the server does not get, so these are lower bounds for a server with the "
      "machine to itself.")
    if seed:
        w(f"- Data: {seed.get('created', 0):,} customers created through the API before the runs "
          f"({seed.get('per_second', 0):,.0f}/s from a Python seeder with 8 keep-alive "
          f"connections{', failures: ' + json.dumps(seed['failures']) if seed.get('failures') else ''}); "
          "get and search pick uniformly among them.")
        w("- Accounts: the server runs with `CUSTVAULT_AUTH_TOTP_REQUIRED_ROLES=\"\"` (no TOTP). "
          "The seeder logs in as the initial admin and security officer (one-time passwords from "
          "initial-credentials, replaced at first login), creates an `info_manager` through the "
          "maker-checker flow (POST /api/v1/users, then POST /api/v1/role-requests/{id}/approve), "
          "and that account's session token is what the seeder and wrk send. **Login cost is not "
          "measured here** (argon2id's cost is below); every request still checks the session "
          f"(idle timeout 15 min, absolute 8 h; the runs take minutes). Logins took "
          f"{seed.get('login_seconds', 0):.1f} s before seeding.")
    w("")
    w("## HTTP API")
    w("")
    w("| scenario | req/s | p50 | p99 | vs healthz | non-2xx | server cores | wrk cores |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, title in SCENARIOS:
        d = wrk[name]
        server_cores, wrk_cores = cpu_share(r, name, a.duration)
        ratio = f"{d['rps'] / healthz_rps:.0%}" if d["rps"] and healthz_rps else "n/a"
        errors = f" (socket errors: {d['socket_errors']})" if d["socket_errors"] else ""
        cores = lambda c: "n/a" if c is None else f"{c:.2f}"
        w(f"| {title} | {d['rps'] or 0:,.0f} | {fmt_ms(d['p50'])} | {fmt_ms(d['p99'])} | {ratio} | "
          f"{d['non2xx']:,}{errors} | {cores(server_cores)} | {cores(wrk_cores)} |")
    w("")
    w("\"server cores\" and \"wrk cores\" are CPU seconds (user + system) divided by the run's "
      "length: 1.00 is one core busy the whole time.")
    w("")

    w("## Bulk import (service level)")
    w("")
    w("`build/bench/import_benchmark`: `CustomerService::Import` of generated valid customers "
      "(resident IDs with real regions, birth dates and GB 11643 check characters, mobiles, "
      "Luhn-valid 19-digit cards, Chinese names, district addresses, e-mail) into a fresh data "
      "directory, Import calls of 10,000 rows, 5,000 rows per store transaction. The import is "
      "pipelined: each batch's ids are checked against the store in bulk before sealing, the "
      "batch is sealed (key, encryption, blind indexes) by two seal threads, and the next batch is "
      "sealed while the previous one is written. Each call's rows are generated **before** it "
      "and outside the timed part; customers/s counts only the Import calls.")
    w("")
    for name, title, data in imports:
        w(f"### {title}")
        w("")
        w("| measure | value |")
        w("|---|---:|")
        for k, v in import_rows(data):
            w(f"| {k} | {v} |")
        w("")

    if get:
        w("## Masked get by id: with and without auditing (service level)")
        w("")
        w(f"`build/bench/get_benchmark`: one scratch vault, {get['customers']:,} customers imported "
          "as a staff info_manager, then `CustomerService::Get` on uniformly random ids for "
          f"{get['seconds_per_run']:g} s per run. **Audited**: `vault.customers()`, each Get appends "
          "its audit entry and returns only once the group-committed batch holding it is fsynced. "
          "**Unaudited**: a second CustomerService over the same config, catalog, keyring, store and "
          "accounts with an AuditRecorder that does nothing. Same process, same database, same run; "
          "authorization, the SQLite read, key unwrap, decryption and masking are in both.")
        w("")
        w("| threads | without audit gets/s | p50 | p99 | with audit gets/s | p50 | p99 | audited / unaudited | auditing costs | audit group commits (fsyncs) | entries per commit | time per commit |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        by_threads = {}
        for run in get["runs"]:
            by_threads.setdefault(run["threads"], {})["audited" if run["audited"] else "plain"] = run
        for threads, pair in sorted(by_threads.items()):
            plain, audited = pair.get("plain"), pair.get("audited")
            if not plain or not audited:
                continue
            ratio = audited["gets_per_second"] / plain["gets_per_second"] if plain["gets_per_second"] else 0
            fails = plain["failures"] + audited["failures"]
            w(f"| {threads} | {plain['gets_per_second']:,.0f} | {fmt_us(plain['p50_us'])} | "
              f"{fmt_us(plain['p99_us'])} | {audited['gets_per_second']:,.0f} | "
              f"{fmt_us(audited['p50_us'])} | {fmt_us(audited['p99_us'])} | {ratio:.1%} | "
              f"{1 - ratio:.1%}{' (failures: ' + str(fails) + ')' if fails else ''} | "
              + (f"{audited['audit_batches']:,} | {audited['audit_entries'] / audited['audit_batches']:.1f} | "
                 f"{1000 * audited['seconds'] / audited['audit_batches']:.2f} ms |"
                 if audited.get("audit_batches") else "n/a | n/a | n/a |"))
        w("")
        w(f"Audit entries written during the run (import, seeding and audited gets): "
          f"{get.get('audit_entries', 0):,}.")
        w("")

    if audits:
        w("## Audit log: durable append and verify rates")
        w("")
        w("`build/bench/audit_benchmark --threads T --append-entries 100000`: `AuditLog::Append` "
          "from T threads, each call returning only once its group-committed batch is fsynced; "
          "then a chain written directly through the store is verified end to end "
          "(`VerifyChain`: SM3 chain hashes and checkpoint MACs).")
        w("")
        w("| threads | appends/s (durable) | entries per fsync | verify: entries | verify entries/s | chain hash alone |")
        w("|---:|---:|---:|---:|---:|---:|")
        for threads, d in audits:
            app, v = d.get("append"), d.get("verify")
            w(f"| {threads} | {app['rate']:,} | {app['per_fsync']:.1f} | "
              f"{(v['entries'] if v else 0):,} | {(v['rate'] if v else 0):,} | "
              f"{d.get('hash_rate', 0):,}/s |" if app else f"| {threads} | failed | | | | |")
        w("")

    password_text = read(os.path.join(r, "password.json"))
    if password_text:
        pw = json.loads(password_text)
        w("## Password hashing (argon2id)")
        w("")
        w("`build/bench/password_benchmark` (Google Benchmark): one hash or verify at each parameter "
          "set; a login costs one verify. This is the cost the HTTP figures above leave out.")
        w("")
        w("| benchmark | time | CPU | iterations |")
        w("|---|---:|---:|---:|")
        for b in pw.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            unit = b.get("time_unit", "ns")
            w(f"| {b['name']} | {b['real_time']:,.1f} {unit} | {b['cpu_time']:,.1f} {unit} | {b['iterations']:,} |")
        w("")

    w("## Targets from the issue")
    w("")
    get_ratio = (wrk["get_masked"]["rps"] or 0) / healthz_rps if healthz_rps else 0
    spread = next((d for n, _, d in imports if n == "import"), None)
    clean = next((d for n, _, d in imports if n == "import_clean"), None)
    w("| target | measured | result |")
    w("|---|---:|---|")
    w(f"| masked get by id >= {GET_RATIO_TARGET:.0%} of healthz req/s | {get_ratio:.0%} | "
      f"{verdict(get_ratio >= GET_RATIO_TARGET)} |")
    w(f"| stretch: masked get by id >= {GET_RATIO_STRETCH:.0%} of healthz req/s | {get_ratio:.0%} | "
      f"{verdict(get_ratio >= GET_RATIO_STRETCH)} |")
    if get:
        for threads, pair in sorted(by_threads.items()):
            plain, audited = pair.get("plain"), pair.get("audited")
            if plain and audited and plain["gets_per_second"]:
                cost = 1 - audited["gets_per_second"] / plain["gets_per_second"]
                w(f"| auditing costs <= {AUDIT_COST_TARGET:.0%} of masked-get throughput "
                  f"(service level, {threads} threads) | {cost:.0%} | {verdict(cost <= AUDIT_COST_TARGET)} |")
    if spread:
        w(f"| import >= {IMPORT_RATE_TARGET:,} customers/s | {spread['customers_per_second']:,.0f} | "
          f"{verdict(spread['customers_per_second'] >= IMPORT_RATE_TARGET)} |")
    if clean:
        w(f"| (same, one 5,000-row batch per calendar day: few id collisions; "
          f"{clean['customers_stored']:,} customers) | "
          f"{clean['customers_per_second']:,.0f} | "
          f"{verdict(clean['customers_per_second'] >= IMPORT_RATE_TARGET)} |")
    w("")

    crypto_text = read(os.path.join(r, "crypto.json"))
    if crypto_text:
        crypto = json.loads(crypto_text)
        w("## Crypto micro-benchmarks")
        w("")
        w("`build/bench/crypto_benchmark --benchmark_min_time=0.2` (Google Benchmark, one thread; "
          "the crypto work's benchmark, see bench/crypto_benchmark.cc for what each one does).")
        w("")
        w("| benchmark | time | CPU | iterations | throughput |")
        w("|---|---:|---:|---:|---:|")
        for b in crypto.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            unit = b.get("time_unit", "ns")
            extra = ""
            if "bytes_per_second" in b:
                extra = f"{b['bytes_per_second'] / 1048576:,.0f} MiB/s"
            elif "items_per_second" in b:
                extra = f"{b['items_per_second']:,.0f} items/s"
            label = f" ({b['label']})" if b.get("label") else ""
            w(f"| {b['name']}{label} | {b['real_time']:,.0f} {unit} | {b['cpu_time']:,.0f} {unit} | "
              f"{b['iterations']:,} | {extra} |")
        w("")

    inclusive = read(os.path.join(r, "callgrind_inclusive.txt"))
    self_cost = read(os.path.join(r, "callgrind_self.txt"))
    if inclusive or self_cost:
        w("## Profile of the import (callgrind)")
        w("")
        w("`valgrind --tool=callgrind build/bench/import_benchmark --customers 5000 --ids-per-day 1000` "
          "(no id-collision fallback; instructions, "
          "not time: system calls such as fsync and page-cache writes cost little here and much "
          "on a clock; the data generation is included).")
        w("")
        for title, text, limit in (("Self cost (instructions spent in the function itself)", self_cost, 20),
                                   ("Inclusive cost (the function and what it calls)", inclusive, 30)):
            if not text:
                continue
            total, rows = callgrind_table(text, limit)
            w(f"{title}; total {total or 'n/a'} instructions:")
            w("")
            w("| % | function | file or library |")
            w("|---:|---|---|")
            for pct, function, where in rows:
                w(f"| {pct} | `{function}` | {where} |")
            w("")

    inclusive = read(os.path.join(r, "callgrind_audit_inclusive.txt"))
    self_cost = read(os.path.join(r, "callgrind_audit_self.txt"))
    if inclusive or self_cost:
        w("## Profile of the audit append path (callgrind)")
        w("")
        w("`valgrind --tool=callgrind build/bench/audit_benchmark --threads 64 --append-entries 5000 "
          "--verify-entries 1000`: what an audited get adds, in instructions (the fsync waits are "
          "not instructions and do not show here; the 1,000-entry verify chain is included).")
        w("")
        for title, text, limit in (("Self cost", self_cost, 20),
                                   ("Inclusive cost", inclusive, 30)):
            if not text:
                continue
            total, rows = callgrind_table(text, limit)
            w(f"{title}; total {total or 'n/a'} instructions:")
            w("")
            w("| % | function | file or library |")
            w("|---:|---|---|")
            for pct, function, where in rows:
                w(f"| {pct} | `{function}` | {where} |")
            w("")

    notes = read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "performance_notes.md"))
    if notes:
        w(notes.rstrip())
        w("")

    w("## Reproduce")
    w("")
    w("```sh")
    w(a.command)
    w("```")
    w("")
    w("Environment knobs (defaults): DURATION=10 (seconds per wrk run), CONNECTIONS=64, "
      "WRK_THREADS=2, SEED_CUSTOMERS=20000, CUSTOMERS=1000000, CLEAN_CUSTOMERS=$CUSTOMERS, ONE_DAY_CUSTOMERS=200000, "
      "GET_CUSTOMERS=20000, GET_THREADS=2,64, GET_SECONDS=DURATION/2, AUDIT_THREADS=64,256, "
      "AUDIT_VERIFY_ENTRIES=1000000, "
      "PROFILE=1, BENCH_BUILD=all (or `targets` to build only the benchmark binaries). "
      "The get benchmark alone: `build/bench/get_benchmark --customers N --threads 2,64 --seconds S`; "
      "the audit log: `build/bench/audit_benchmark --threads T --append-entries N --verify-entries N`; "
      "argon2id: `build/bench/password_benchmark`. "
      "The import benchmark alone: `build/bench/import_benchmark --customers N [--batch N] "
      "[--ids-per-day N] [--data-dir D] [--keep]`. "
      "Measured by hand (see the notes above for the exact commands): re-classification "
      "`build/bench/reclassify_benchmark [--customers N] [--transactions N] "
      "[--data-dir D --generate-only | --reuse --keep]`; backup and restore "
      "`build/bench/backup_benchmark --customers N --updates K,K,... [--zstd-level L] [--threads T]`; "
      "shipping lag `CUSTVAULT_SHIPPING_LOAD_SECONDS=30 CUSTVAULT_BINARY=build/custvault "
      "/usr/bin/python3 tests/api/test_backup_shipping.py`; the SQLite store alone "
      "`build/bench/store_benchmark [--customers N] [--batch N] [--gets N] [--singles N] "
      "[--threads T]`.")
    w("")
    with open(a.output, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
