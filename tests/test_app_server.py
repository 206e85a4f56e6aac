"""The web page as a real server: started on a free loopback port, called with gradio_client."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    import httpx

    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    port = free_port()
    data_dir = tmp_path_factory.mktemp("app-data")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio-tmp")), "JDROLES_DATA_DIR": str(data_dir)}
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, process)
        yield {"url": url, "data_dir": data_dir, "port": port}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def client(app_server):
    from gradio_client import Client

    return Client(app_server["url"], verbose=False)


def example(name: str) -> str:
    return (REPO / "examples" / name).read_text()


def test_api_on_a_mixed_posting(client):
    result = client.predict(example("mixed-mystic-pm.md"), "Product Manager, Growth", api_name="/analyze")
    assert result["verdict"] == "mixed"
    assert {"PM", "PMM", "marketing-ops"} & set(result["mixed_roles"]) and len(result["mixed_roles"]) >= 2
    assert result["role_load"] > 1.5
    assert result["title_check"]["title_role"] == "PM"
    assert result["split"] and all(p["text"].startswith("# ") for p in result["split"])


def test_api_on_a_focused_posting(client):
    result = client.predict(example("focused-pm.md"), "", api_name="/analyze")
    assert result["verdict"] == "focused-PM"
    assert result["mixed_roles"] == [] and result["split"] == []
    labels = {l["text"]: l["label"] for l in result["lines"]}
    assert labels["Write clear PRDs and user stories with acceptance criteria."] == "PM"


def test_api_rejects_empty_text_and_keeps_working(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Paste a job description"):
        client.predict("   ", "", api_name="/analyze")
    assert client.predict(example("marketing-ops.md"), "", api_name="/analyze")["verdict"] == "focused-marketing-ops"


def test_server_binds_loopback_only(app_server):
    with socket.socket() as s:
        s.settimeout(1)
        hostname_ip = socket.gethostbyname(socket.gethostname())
        if hostname_ip.startswith("127."):
            pytest.skip("this machine has no non-loopback address")
        assert s.connect_ex((hostname_ip, app_server["port"])) != 0
