"""`vidrecall serve` as a user starts it: bad settings fail in one line before anything binds; off loopback a
token is generated, printed once in the URL, and required."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import REPO
from tests.webserver import free_port


def serve(*args, store):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("VIDRECALL_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "vidrecall", "serve", "--store", str(store), *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def url_line(proc, timeout=90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("open http"):
            return line.split()[1]
        if not line and proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    raise AssertionError("serve printed no URL")


def wait_up(url: str, **kw) -> httpx.Response:
    for _ in range(100):
        try:
            return httpx.get(url, timeout=5, **kw)
        except httpx.ConnectError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("args, words", [(["--allow", "/no/such/folder"], "--allow /no/such/folder: no such folder"),
                                         (["--token", "short"], "--token is too short"),
                                         (["--port", "70000"], "--port 70000")])
def test_bad_settings_fail_in_one_line_before_binding(tmp_path, capsys, args, words):
    from vidrecall.cli import main

    assert main(["serve", "--store", str(tmp_path / "store"), *args]) == 2  # would block serving if it got that far
    captured = capsys.readouterr()
    assert words in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert "open http" not in captured.out


def test_off_loopback_a_token_is_generated_printed_once_and_required(tmp_path):
    port = free_port()
    proc = serve("--host", "0.0.0.0", "--port", str(port), store=tmp_path / "store")
    try:
        url = url_line(proc)
        assert url.startswith(f"http://0.0.0.0:{port}/?token=") and len(url.split("token=")[1]) >= 24
        token = url.split("token=")[1]
        base = f"http://127.0.0.1:{port}"
        assert wait_up(f"{base}/api/status").status_code == 401
        status = httpx.get(f"{base}/api/status", headers={"Authorization": f"Bearer {token}"}).json()
        assert status["token_required"] and not status["models_loaded"]  # nothing loaded until it is needed
        page = httpx.get(f"{base}/?token={token}", follow_redirects=True)
        assert page.status_code == 200 and "app.js" in page.text  # the cookie the redirect set opened the page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rest = proc.stdout.read()
    assert rest.count(token) == 0  # printed once, in the URL line


def test_default_binds_loopback_without_a_token(tmp_path):
    port = free_port()
    proc = serve("--port", str(port), store=tmp_path / "store")
    try:
        assert url_line(proc) == f"http://127.0.0.1:{port}/"
        assert wait_up(f"http://127.0.0.1:{port}/api/videos").json() == []
    finally:
        proc.terminate()
        proc.wait(timeout=30)
