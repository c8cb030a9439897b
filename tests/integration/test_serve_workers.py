"""``chipin serve --workers N``: several processes sharing the port on PostgreSQL, refused on
SQLite (one process does it all there)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from chipin.cli import app
from chipin.store import tables as t
from chipin.store.db import make_engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
SECRET = "serve-workers-secret-0123456789"


def test_more_than_one_worker_needs_postgresql(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chipin.db'}"
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "--workers above 1 needs PostgreSQL" in result.output


def test_polling_is_one_process(postgres_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "2", "--telegram-polling"],
        env={"DATABASE_URL": postgres_url},
    )
    assert result.exit_code == 1
    assert "use it without --workers" in result.output


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes through /proc")
def test_two_workers_serve_the_webhooks_on_postgresql(postgres_url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {
        "DATABASE_URL": postgres_url,
        "TELEGRAM_BOT_TOKEN": "7000000001:AAH-serve-workers",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",  # nobody there: getMe fails at once
        "PARSER": "rules",
        "LOG_LEVEL": "WARNING",
        "CHIPIN_ENV": "development",
    }
    chipin = str(Path(sys.executable).with_name("chipin"))
    command = [chipin, "serve", "--port", str(port), "--workers", "2", "--no-worker"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "chipin serve --workers 2 did not start"
            time.sleep(0.2)
        assert len(_children(proc.pid)) >= 2  # uvicorn's worker processes
        update = json.loads((FIXTURES / "message__text_in_group.json").read_text())
        with httpx.Client(base_url=base, timeout=10) as client:
            for n in range(20):
                update["update_id"] = 810000000 + n % 10  # each twice
                answer = client.post(
                    "/webhooks/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                assert answer.status_code == 200, answer.text
        engine = make_engine(postgres_url)
        try:
            with engine.connect() as conn:
                query = select(func.count()).where(
                    t.inbox.c.provider_id.like("81000000_"), t.inbox.c.status == "pending"
                )
                assert conn.execute(query).scalar() == 10
        finally:
            engine.dispose()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
