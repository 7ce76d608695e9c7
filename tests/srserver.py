# SPDX-License-Identifier: Apache-2.0
"""What the server tests (tests/cli_server*.py) share: test certificates
made with openssl in a temporary directory, a `strongroom serve` started on
a free loopback port and stopped with SIGTERM, and an HTTP(S) client on
http.client and ssl (keep-alive, client certificates, TLS versions).

Not a test itself (ctest runs tests/cli_*.py only)."""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import srcli

OPENSSL = "openssl"


def _ossl(args, cwd):
    subprocess.run([OPENSSL] + args, cwd=cwd, check=True,
                   capture_output=True)


class Certs:
    """A server CA and a server certificate for 127.0.0.1 / localhost, a
    client CA with client certificates by common name, and a second,
    untrusted CA with its own client certificate (CN "intake1")."""

    def __init__(self, directory):
        self.dir = directory
        d = directory
        for ca in ("server-ca", "client-ca", "rogue-ca"):
            _ossl(["req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                   "-subj", "/CN=" + ca, "-keyout", ca + ".key",
                   "-out", ca + ".crt"], d)
        self.server_ca = os.path.join(d, "server-ca.crt")
        self.client_ca = os.path.join(d, "client-ca.crt")
        self.server_cert, self.server_key = self._issue(
            "server", "server-ca", san="IP:127.0.0.1,DNS:localhost")
        self.rogue = self._issue("intake1-rogue", "rogue-ca", cn="intake1")

    def _issue(self, name, ca, cn=None, san=None, days="2"):
        d = self.dir
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            if san:
                f.write("subjectAltName=%s\n" % san)
                f.write("extendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _ossl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
               "-nodes", "-subj", "/CN=" + (cn or name), "-keyout",
               name + ".key", "-out", name + ".csr"], d)
        _ossl(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
               "-CAkey", ca + ".key", "-CAcreateserial", "-days", days,
               "-extfile", ext, "-out", name + ".crt"], d)
        return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")

    def client(self, cn):
        """A client certificate and key for common name cn, signed by the
        trusted client CA."""
        return self._issue("client-" + cn, "client-ca", cn=cn)


class Server:
    """`strongroom serve` on 127.0.0.1, on a port the kernel picks.

    tls: serve HTTPS with certs (a Certs); client_ca: also trust client
    certificates; settings: more --name value pairs."""

    def __init__(self, vault, certs=None, client_ca=False, settings=None,
                 access_log=None):
        self.vault = vault
        self.certs = certs
        self.tls = certs is not None
        # Tests of failed authentication run many from 127.0.0.1: only
        # the tests of the limit itself set one.
        args = [srcli.CLI, "serve", "--vault", vault.path,
                "--listen", "127.0.0.1:0", "--threads", "4",
                "--checkpoint-interval", "200",
                "--auth-failures-per-minute", "0"]
        if self.tls:
            args += ["--tls-cert", certs.server_cert,
                     "--tls-key", certs.server_key]
            if client_ca:
                args += ["--client-ca", certs.client_ca]
        else:
            args += ["--insecure-loopback"]
        self.access_log = access_log
        if access_log:
            args += ["--access-log", access_log]
        for k, v in (settings or {}).items():
            args += ["--" + k, str(v)]
        env = dict(os.environ)
        env["STRONGROOM_PASSPHRASE"] = srcli.PASS
        env.pop("STRONGROOM_TOKEN", None)
        env.pop("STRONGROOM_VAULT", None)
        self.stderr_path = tempfile.mktemp(prefix="sr-serve-", suffix=".err")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=self._err, env=env)
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("serve exited %d: %s" % (
                    self.proc.returncode, self.stderr()))
            m = re.search(rb"listening on https?://[^:]+:(\d+)",
                          open(self.stderr_path, "rb").read())
            if m:
                return int(m.group(1))
            time.sleep(0.05)
        raise AssertionError("serve did not start: %s" % self.stderr())

    def stderr(self):
        return open(self.stderr_path, "rb").read().decode(errors="replace")

    def stop(self, timeout=60):
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self._err.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._err.close()

    def context(self, cert=None, min_version=None, max_version=None,
                ciphers=None):
        """An ssl.SSLContext trusting the server CA, optionally with a
        client certificate (cert, key) and version or cipher limits."""
        ctx = ssl.create_default_context(cafile=self.certs.server_ca)
        if cert is not None:
            ctx.load_cert_chain(cert[0], cert[1])
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        if ciphers is not None:
            ctx.set_ciphers(ciphers)
        return ctx

    def conn(self, **ctx_args):
        """A keep-alive connection (http.client)."""
        if self.tls:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.context(**ctx_args),
                timeout=30)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, token=None, headers=None,
                conn=None, content_type="application/json", **ctx_args):
        """One request; returns (status, headers dict (lower-case names),
        body bytes). body: a dict/list (sent as JSON), bytes or str."""
        c = conn or self.conn(**ctx_args)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None and content_type and "Content-Type" not in h:
            h["Content-Type"] = content_type
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, hdrs, data

    def json(self, method, path, body=None, token=None, want=None, **kw):
        """request() and parse the JSON reply; assert the status if want."""
        st, h, data = self.request(method, path, body, token, **kw)
        if want is not None and st != want:
            raise AssertionError("%s %s: %d, wanted %d: %s" % (
                method, path, st, want, data[:1000]))
        return st, h, (json.loads(data) if data else None)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_problem(test, status, headers, body, slug, want_status=None):
    """An RFC 9457 problem of the given slug: content type, members, and
    the status in the body equal to the response's."""
    test.assertEqual(headers.get("content-type"), "application/problem+json")
    p = json.loads(body)
    test.assertEqual(p["type"], "urn:strongroom:problem:" + slug, p)
    test.assertEqual(p["status"], status)
    test.assertIsInstance(p["title"], str)
    if want_status is not None:
        test.assertEqual(status, want_status)
    for k in p:
        test.assertIn(k, ("type", "title", "status", "detail", "instance"))
    return p
