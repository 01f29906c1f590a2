"""Drives the real custvault binary over HTTP for the API tests.

Stdlib only (runs with Debian's /usr/bin/python3). A CustvaultServer runs
`custvault init` in a fresh temporary directory, starts `custvault serve`
on 127.0.0.1 with port 0, reads the bound port from its first line of
output, and stops it with SIGTERM.
"""
import json
import os
import signal
import subprocess
import tempfile
import shutil
import http.client
import time

BINARY = os.environ.get("CUSTVAULT_BINARY", "")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class CustvaultServer:
    def __init__(self, environment=None):
        if not BINARY or not os.path.exists(BINARY):
            raise RuntimeError("set CUSTVAULT_BINARY to the custvault executable")
        self.data_dir = tempfile.mkdtemp(prefix="cv_api_")
        self.env = dict(os.environ)
        self.env.update(environment or {})
        init = subprocess.run([BINARY, "init", "--data-dir", self.data_dir],
                              env=self.env, capture_output=True, text=True, timeout=60)
        if init.returncode != 0:
            raise RuntimeError("init failed: " + init.stderr)
        self.init_output = init.stdout
        with open(os.path.join(self.data_dir, "initial-credentials")) as f:
            line = [l for l in f if l.startswith("bootstrap_token=")][0]
        self.token = line.strip().split("=", 1)[1]
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

    def cli(self, *args, input_text=None):
        return subprocess.run([BINARY, *args], env=self.env, capture_output=True,
                              text=True, input=input_text, timeout=60)
