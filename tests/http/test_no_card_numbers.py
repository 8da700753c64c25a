"""After a run of payments, the card numbers appear nowhere: not in any table (outside the
vault's ciphertext), not in events, not in the server's log, not in any file it wrote."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from basketpay.db.metadata import import_all_tables
from tests.helpers import card, post

NUMBERS = ("4242424242424242", "5555555555554444", "4000000000009995", "4000000000000002")


def test_card_numbers_never_leave_the_vault(client: httpx.Client, engine: Engine, server_log: Path, data_dir: Path) -> None:
    for number in NUMBERS:
        payment_method = card(client, number)
        intent = post(client, "/v1/payment_intents", {
            "amount": 1234, "currency": "usd", "capture_method": "manual", "payment_method": payment_method,
            "confirm": True, "description": "scan"})
        if intent.status_code == 200:
            post(client, f"/v1/payment_intents/{intent.json()['id']}/capture", {})
    forbidden = [n for n in NUMBERS] + [n.encode().hex() for n in NUMBERS]
    with engine.connect() as connection:
        for table in import_all_tables().sorted_tables:
            dump = connection.execute(text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table.name} t")).scalar_one()
            for needle in forbidden:
                assert needle not in dump, (table.name, needle)
    for path in [server_log, *data_dir.rglob("*")]:
        if path.is_file() and "pgdata" not in path.parts:
            content = path.read_bytes()
            for number in NUMBERS:
                assert number.encode() not in content, path
