"""`turnout serve --demo` over real HTTP: migrations, demo tenants, sign-in, per-pack schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from turnout.demo import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_end_to_end(database_url):
    port, sandbox_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "turnout",
            "serve",
            "--port",
            str(port),
            "--demo",
            "--sandbox",
            "--sandbox-port",
            str(sandbox_port),
            "--smtp-port",
            str(_free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", "TURNOUT_RUN_SCHEDULER": "true"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        login = """mutation($e: String!, $p: String!, $t: String) { login(email: $e,
          password: $p, tenant: $t) { ... on LoginPayload { bearerToken me { roles } } } }"""
        with httpx.Client(base_url=base) as c:
            r = c.post(
                "/graphql",
                json={
                    "query": login,
                    "variables": {"e": "admin@stmarys.example", "p": DEMO_PASSWORD, "t": "stmarys"},
                },
            )
            assert r.json()["data"]["login"]["me"]["roles"] == ["tenant_admin"]
            assert "HttpOnly" in r.headers["set-cookie"]
            hospital = c.post("/graphql", json={"query": "{ hospitalSettings { key } }"})
            assert hospital.json()["data"]["hospitalSettings"]
            demo = c.post(
                "/graphql",
                json={
                    "query": """{ candidates(first: 50) { totalCount
              edges { node { name phone applications { job { title priority } }
              interviews { kind state interviewer { name } } } } } }"""
                },
            ).json()
            assert not demo.get("errors"), demo
            assert demo["data"]["candidates"]["totalCount"] >= 15
            nodes = [e["node"] for e in demo["data"]["candidates"]["edges"]]
            kinds = {i["kind"] for n in nodes for i in n["interviews"]}
            assert kinds == {"ai_async", "live"}
            assert any(a["job"]["priority"] == "critical" for n in nodes for a in n["applications"])
            c.cookies.clear()
            r = c.post(
                "/graphql",
                headers={"Host": f"freshmart.localhost:{port}"},
                json={
                    "query": login,
                    "variables": {"e": "recruiter@freshmart.example", "p": DEMO_PASSWORD},
                },
            )
            token = r.json()["data"]["login"]["bearerToken"]
            c.cookies.clear()
            retail = c.post(
                "/graphql",
                headers={"Authorization": f"Bearer {token}"},
                json={"query": "{ hospitalSettings { key } }"},
            )
            assert "Cannot query field" in retail.json()["errors"][0]["message"]
            # The in-process scheduler sends the reminders that are due to the sandbox.
            for _ in range(100):
                sent = httpx.get(f"http://127.0.0.1:{sandbox_port}/messages").json()
                if {m["channel"] for m in sent} >= {"sms", "email"}:
                    break
                time.sleep(0.2)
            assert {m["channel"] for m in sent} >= {"sms", "email"}, sent
            assert any("/r/" in m["body"] for m in sent)
            page = c.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "graphiql" in page.text.lower()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "demo logins" in out and "operator@turnout.example" in out
    assert f"http://127.0.0.1:{port}/" in out
