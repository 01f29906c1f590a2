"""Drives the real custvault binary over HTTP for the API tests.

Stdlib only (runs with Debian's /usr/bin/python3). A CustvaultServer runs
`custvault init` in a fresh temporary directory, starts `custvault serve`
on 127.0.0.1 with port 0, reads the bound port from its first line of
output, and stops it with SIGTERM.
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import signal
import subprocess
import tempfile
import shutil
import http.client
import time

BINARY = os.environ.get("CUSTVAULT_BINARY", "")
STRONG_PASSWORD = "Correct-Horse-9-Battery"

# Cheap password hashing, no TOTP and no login throttle: most tests log in
# many times from 127.0.0.1. The TOTP and login-flood tests use the
# default settings.
FAST_AUTH = {
    "CUSTVAULT_AUTH_ARGON2_MEMORY_KIB": "8192",
    "CUSTVAULT_AUTH_ARGON2_ITERATIONS": "1",
    "CUSTVAULT_AUTH_TOTP_REQUIRED_ROLES": "",
    "CUSTVAULT_AUTH_LOGIN_BURST": "1000000",
}


def totp(secret_base32, at=None, step=30, digits=6):
    """RFC 6238 TOTP (HMAC-SHA1), computed independently of the server."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return str(code).zfill(digits)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class CustvaultServer:
    def __init__(self, environment=None, fast_auth=True):
        if not BINARY or not os.path.exists(BINARY):
            raise RuntimeError("set CUSTVAULT_BINARY to the custvault executable")
        self.data_dir = tempfile.mkdtemp(prefix="cv_api_")
        self.env = dict(os.environ)
        if fast_auth:
            self.env.update(FAST_AUTH)
        self.env.update(environment or {})
        init = subprocess.run([BINARY, "init", "--data-dir", self.data_dir],
                              env=self.env, capture_output=True, text=True, timeout=60)
        if init.returncode != 0:
            raise RuntimeError("init failed: " + init.stderr)
        self.init_output = init.stdout
        # "username role one-time-password" per line, after # comments.
        self.initial = {}
        with open(os.path.join(self.data_dir, "initial-credentials")) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    username, role, password = line.split()
                    self.initial[username] = (role, password)
        self.token = None  # the default bearer token of request(); set by tests
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.proc = None
        self.port = None

    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0"],
            env=self.env, stdout=subprocess.PIPE, stderr=self.log)
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError("server did not start: " + self.server_log())
        self.port = int(line.strip().rsplit(":", 1)[1])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        if hasattr(self, "log"):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def server_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, token="default", headers=None, raw_body=None):
        """token: "default" uses self.token; None sends no Authorization."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {}
        if token == "default":
            token = self.token
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw_body
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        conn.close()
        return resp

    # ---- accounts (R-ACC) ----
    def login(self, username, password, otp=None):
        body = {"username": username, "password": password}
        if otp is not None:
            body["otp"] = otp
        return self.request("POST", "/api/v1/auth/login", body, token=None)

    def first_login(self, username, one_time_password, new_password=None):
        """Logs in with a one-time password, changes it, logs in again.

        Returns (token, password). Assumes TOTP is not required for the role
        (tests that exercise TOTP do it step by step)."""
        new_password = new_password or STRONG_PASSWORD
        r = self.login(username, one_time_password)
        assert r.status == 200, (r.status, r.body)
        limited = r.json()
        assert limited["must_change_password"], limited
        r = self.request("POST", "/api/v1/auth/password",
                         {"old_password": one_time_password, "new_password": new_password},
                         token=limited["token"])
        assert r.status in (200, 204), (r.status, r.body)
        r = self.login(username, new_password)
        assert r.status == 200, (r.status, r.body)
        return r.json()["token"], new_password

    def staff(self):
        """Tokens of the initial admin and security officer, then accounts
        with any role through the maker-checker flow: staff()[role]."""
        if not hasattr(self, "_staff"):
            self._staff = {}
            self.usernames = {"sys_admin": "admin", "security_officer": "security",
                              "auditor": "auditor"}
            self._staff["sys_admin"] = self.first_login("admin", self.initial["admin"][1])[0]
            self._staff["security_officer"] = self.first_login("security", self.initial["security"][1])[0]
            self._staff["auditor"] = self.first_login("auditor", self.initial["auditor"][1])[0]
        return self._staff

    def token_for(self, role):
        staff = self.staff()
        if role not in staff:
            name = "user.%s.%d" % (role.replace("_", ""), len(staff))
            r = self.request("POST", "/api/v1/users",
                             {"username": name, "display_name": "Test " + role, "role": role},
                             token=staff["sys_admin"])
            assert r.status == 201, (r.status, r.body)
            created = r.json()
            assert created["account"]["status"] == "pending"
            r = self.request("POST", "/api/v1/role-requests/%s/approve" % created["role_request_id"],
                             {"comment": "test"}, token=staff["security_officer"])
            assert r.status == 200, (r.status, r.body)
            staff[role] = self.first_login(name, created["one_time_password"])[0]
            self.usernames[role] = name
        return staff[role]

    def cli(self, *args, input_text=None):
        return subprocess.run([BINARY, *args], env=self.env, capture_output=True,
                              text=True, input=input_text, timeout=60)
