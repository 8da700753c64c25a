"""Key rotation under concurrent authorizations: every request succeeds, every stored card
still decrypts, and every data key ends up wrapped under the new key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from basketpay.audit.tables import audit_log
from basketpay.server import ServerProcess
from basketpay.vault.crypto import Sealed
from basketpay.vault.keyring import Keyring
from basketpay.vault.tables import payment_methods
from tests.helpers import post

CARDS = ("4242424242424242", "5555555555554444", "378282246310005")
CARDS_BEFORE = 30


def authorize(http: httpx.Client, number: str) -> int:
    cvc = "1234" if number.startswith("37") else "123"
    created = post(http, "/v1/payment_methods", {"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2031, "cvc": cvc}})
    if created.status_code != 200:
        return created.status_code
    confirmed = post(http, "/v1/payment_intents", {
        "amount": 2500, "currency": "usd", "capture_method": "manual",
        "payment_method": created.json()["id"], "confirm": True})
    return confirmed.status_code


def test_rotation_under_load(database_url: str, tmp_path: Path, merchant: tuple[str, str], engine: Engine) -> None:
    env = {"BASKETPAY_DATA_DIR": str(tmp_path), "BASKETPAY_LOG_LEVEL": "WARNING"}
    server = ServerProcess(database_url, env=env).start()  # keys in tmp_path's keyring file
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    statuses: list[int] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
            statuses += [authorize(http, CARDS[i % 3]) for i in range(CARDS_BEFORE)]

            def load() -> None:
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as worker:
                    while not stop.is_set():
                        statuses.append(authorize(worker, CARDS[len(statuses) % 3]))

            workers = [threading.Thread(target=load) for _ in range(3)]
            for worker in workers:
                worker.start()
            command = [sys.executable, "-m", "basketpay.cli.main", "vault", "rotate-key"]
            rotation_env = {**os.environ, **env, "BASKETPAY_DATABASE_URL": database_url}
            done = subprocess.run(command, env=rotation_env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-3000:]
            output = done.stdout
            statuses += [authorize(http, CARDS[0]) for _ in range(5)]  # after the rotation too
            stop.set()
            for worker in workers:
                worker.join()
    finally:
        stop.set()
        server.stop()
    report = json.loads(output.strip().splitlines()[-1])
    assert set(statuses) == {200}, statuses
    assert report["rewrapped"] >= CARDS_BEFORE and report["keys_in_keyring"] == 2

    keyring = Keyring.from_settings(None, tmp_path)
    with engine.connect() as connection:
        rows = connection.execute(select(payment_methods).where(payment_methods.c.merchant_id == merchant[0])).all()
        actions = set(connection.scalars(select(audit_log.c.action).where(audit_log.c.actor.like("%" + merchant[0]))))
    assert len(rows) >= CARDS_BEFORE + 5
    for row in rows:
        assert row.key_id == keyring.active.key_id == report["new_key_id"]
        number = keyring.open(Sealed(row.key_id, row.wrapped_data_key, row.card_ciphertext), row.id.encode())
        assert number.decode() in CARDS and number.decode().endswith(row.last4)
    assert {"vault.write", "vault.read"} <= actions
