#!/usr/bin/python3
"""A Managed HSM that answers exactly as recordings of the real service
show (azure-cli's scenario tests, builds 2020-08 to 2023-08; issue 10),
and 404 to anything never recorded.  Plain HTTP on 127.0.0.1: a TEST
FIXTURE for tests/e2e/t_hsm_recorded.sh, independent of `sdtool sim serve`.

  recorded_hsm.py SCENARIO VECTORS DIR

SCENARIO:
  download-2020   POST download -> 200 {"value": SD}, no async header
  download-2022   POST download -> 202 {"value": SD} + Azure-AsyncOperation
  download-2023     (download/pending?api-version=7.2, never polled in any
                  recording: 404 here); GET upload/pending -> InProgress
                  "The Security Domain is being confirmed." x16, Success
  recovery-2020   GET upload -> transfer key; POST upload -> 202
                  InProgress/statusDetails + Azure-AsyncOperation without
                  api-version; upload/pending InProgress x3, then Succeeded
                  "Security Domain operation complete" (statusDetails)
  recovery-2023   the same with status_details, "The Security Domain is
                  being restored." x20, then Success "The resource is active."

Tokens: DIR/token holds the one accepted ("tok-good"); a request without
Authorization gets the recorded 401 (empty body on POST, "OK" on GET,
content-type JSON, WWW-Authenticate naming DIR/tenant).  Any other token
gets the same 401.  Every request is logged to DIR/log as
"METHOD PATH?QUERY -> STATUS"; DIR/port is written when listening.  A
POST upload whose blob is not for the recorded exchange key gets 400.
"""
import base64
import hashlib
import http.server
import json
import os
import sys
import threading

SCENARIO, VEC, DIR = sys.argv[1:4]
API = "api-version=7.2"


def vec(rel):
    with open(os.path.join(VEC, rel), "rb") as f:
        return f.read()


def read(name):
    with open(os.path.join(DIR, name)) as f:
        return f.read().strip()


TOKEN = read("token")
TENANT = read("tenant")
BUILD = SCENARIO.split("-")[1]
FOLDER = {"2020": "2020-09", "2022": "2022-08", "2023": "2023-05"}[BUILD]
LOCK = threading.Lock()
STATE = {"polls": 0, "started": False}


def exchange_x5t():
    tk = json.loads(json.loads(vec(FOLDER + "/transfer_key_response.json"))["transfer_key"])
    der = base64.b64decode(tk["x5c"][0])
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        with LOCK, open(os.path.join(DIR, "log"), "a") as f:
            f.write("%s %s -> %d\n" % (self.command, self.path, status))

    def base(self):
        return "http://" + self.headers["Host"]

    def authorized(self, get):
        auth = self.headers.get("Authorization")
        if auth == "Bearer " + TOKEN:
            return True
        challenge = ('Bearer authorization="https://login.microsoftonline.com/%s", '
                     'resource="https://managedhsm.azure.net"' % TENANT)
        self.send(401, b"OK" if get else b"", [("WWW-Authenticate", challenge)])
        return False

    def status(self, word, details, legacy):
        key = "statusDetails" if legacy else "status_details"
        return json.dumps({"status": word, key: details}, separators=(",", ":")).encode()

    def do_GET(self):
        path = self.path
        if SCENARIO.startswith("download") and BUILD != "2020" and \
                path == "/securitydomain/upload/pending?" + API and STATE["started"]:
            if not self.authorized(True):
                return
            with LOCK:
                STATE["polls"] += 1
                n = STATE["polls"]
            if n <= 16:
                return self.send(200, self.status("InProgress", "The Security Domain is being confirmed.", False))
            return self.send(200, self.status("Success", "The resource is active.", False))
        if SCENARIO.startswith("recovery") and path == "/securitydomain/upload?" + API:
            if not self.authorized(True):
                return
            return self.send(200, vec(FOLDER + "/transfer_key_response.json"))
        if SCENARIO.startswith("recovery") and STATE["started"] and \
                path == "/securitydomain/upload/pending?" + API:
            if not self.authorized(True):
                return
            with LOCK:
                STATE["polls"] += 1
                n = STATE["polls"]
            if BUILD == "2020":
                if n <= 3:
                    return self.send(200, self.status("InProgress", "Security Domain restore is in progress", True))
                return self.send(200, self.status("Succeeded", "Security Domain operation complete", True))
            if n <= 20:
                return self.send(200, self.status("InProgress", "The Security Domain is being restored.", False))
            return self.send(200, self.status("Success", "The resource is active.", False))
        self.send(404, b'{"error":{"code":"NotFound","message":"never recorded"}}')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = self.path
        if SCENARIO.startswith("download") and path == "/securitydomain/download?" + API:
            if not self.authorized(False):
                return
            req = json.loads(body)
            want = json.loads(vec(FOLDER + "/download_request.json"))
            # the same certificates (in any order) and quorum as recorded
            got = sorted(c["x5c"][0] for c in req["certificates"])
            if got != sorted(c["x5c"][0] for c in want["certificates"]) or \
                    req["required"] != want["required"]:
                return self.send(400, b'{"error":{"code":"BadParameter","message":"not the recorded certificates"}}')
            STATE["started"] = True
            if BUILD == "2020":
                return self.send(200, vec(FOLDER + "/download_response.json"))
            return self.send(202, vec(FOLDER + "/download_response.json"), [
                ("Azure-AsyncOperation", self.base() + "/securitydomain/download/pending?" + API)])
        if SCENARIO.startswith("recovery") and path == "/securitydomain/upload?" + API:
            if not self.authorized(False):
                return
            try:
                blob = json.loads(json.loads(body)["value"])
                ok = blob["WrappedKey"]["x5t_256"] == exchange_x5t() and \
                    len(blob["EncData"]["data"]) == 3
            except Exception:
                ok = False
            if not ok:
                return self.send(400, b'{"error":{"code":"BadParameter","message":"not a blob for this exchange key"}}')
            with open(os.path.join(DIR, "uploaded.json"), "wb") as f:
                f.write(body)
            STATE["started"] = True
            url = self.base() + "/securitydomain/upload/pending" + ("" if BUILD == "2020" else "?" + API)
            return self.send(202, vec(FOLDER + "/upload_response.json"), [("Azure-AsyncOperation", url)])
        self.send(404, b'{"error":{"code":"NotFound","message":"never recorded"}}')


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
