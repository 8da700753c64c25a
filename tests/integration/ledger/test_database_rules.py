"""The database itself refuses what would break the books, whatever code path writes:
unbalanced entries, changes to history, postings to a bucket that does not exist, a
guarded balance going negative, a hold posted beyond its amount."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from basketpay.ledger.posting import Entry, Posting, transfer

PROVISION = """
INSERT INTO ledger_accounts (id, merchant_id, code, currency, type, normal_balance, guard, buckets)
VALUES (:id, :merchant, :code, 'USD', :type, :normal, :guard, :buckets)"""
BUCKETS = """
INSERT INTO ledger_balances (account_id, bucket, merchant_id, currency, normal_balance, guard)
SELECT :id, b, :merchant, 'USD', :normal, :guard FROM generate_series(0, :buckets - 1) b"""


@pytest.fixture()
def books(engine: Engine, merchant: tuple[str, str]) -> Iterator[Connection]:
    """Three accounts in a transaction that is rolled back afterwards."""
    with engine.connect() as connection, connection.begin() as transaction:
        for name, type_, normal, guard, buckets in (("cash", "asset", "debit", "none", 4),
                                                    ("wallet", "liability", "credit", "non_negative", 1),
                                                    ("revenue", "revenue", "credit", "none", 1)):
            values = {"id": f"la_{name}_{merchant[0]}", "merchant": merchant[0], "code": name, "type": type_,
                      "normal": normal, "guard": guard, "buckets": buckets}
            connection.execute(text(PROVISION), values)
            connection.execute(text(BUCKETS), values)
        yield connection
        transaction.rollback()


COLUMNS = ("entry_id", "merchant_id", "account_id", "currency", "bucket", "phase", "amount")


def write(connection: Connection, entry: Entry) -> None:
    """An entry's postings in ONE multi-row INSERT: the database checks balance per statement,
    so postings sent one statement each (executemany) are refused as unbalanced."""
    row, postings = entry.rows()
    connection.execute(text(
        "INSERT INTO ledger_entries (id, merchant_id, kind) VALUES (:id, :merchant_id, :kind)"), row)
    values = ", ".join("(" + ", ".join(f":{c}{i}" for c in COLUMNS) + ")" for i in range(len(postings)))
    params = {f"{c}{i}": posting[c] for i, posting in enumerate(postings) for c in COLUMNS}
    connection.execute(text(f"INSERT INTO ledger_postings ({', '.join(COLUMNS)}) VALUES {values}"), params)


def test_postings_sent_one_statement_each_are_refused(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    row, postings = Entry(m, "manual", transfer(f"la_cash_{m}", f"la_revenue_{m}", "USD", 9)).rows()
    books.execute(text("INSERT INTO ledger_entries (id, merchant_id, kind) VALUES (:id, :merchant_id, :kind)"), row)
    with pytest.raises(DBAPIError, match="does not balance"), books.begin_nested():
        books.execute(text(f"INSERT INTO ledger_postings ({', '.join(COLUMNS)}) VALUES "
                           f"({', '.join(':' + c for c in COLUMNS)})"), postings)


def refused(connection: Connection, statement: str, **params: object) -> str:
    with pytest.raises(DBAPIError) as caught, connection.begin_nested():
        connection.execute(text(statement), params)
    return str(caught.value.orig)


def test_an_unbalanced_insert_is_refused_by_the_database(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    books.execute(text("INSERT INTO ledger_entries (id, merchant_id, kind) VALUES ('le_bad', :m, 'manual')"), {"m": m})
    message = refused(books, "INSERT INTO ledger_postings (entry_id, merchant_id, account_id, currency, bucket, phase, "
                             "amount) VALUES ('le_bad', :m, :a, 'USD', 0, 0, 100), ('le_bad', :m, :b, 'USD', 0, 0, -99)",
                      m=m, a=f"la_cash_{m}", b=f"la_revenue_{m}")
    assert "does not balance" in message


def test_balances_follow_postings_and_history_cannot_change(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    entry = Entry(m, "manual", transfer(f"la_cash_{m}", f"la_revenue_{m}", "USD", 250, debit_bucket=3))
    write(books, entry)
    posted = books.execute(text("SELECT posted FROM ledger_balances WHERE account_id = :a AND bucket = 3"),
                           {"a": f"la_cash_{m}"}).scalar_one()
    assert posted == 250
    assert "append-only" in refused(books, "UPDATE ledger_postings SET amount = 1 WHERE entry_id = :e", e=entry.id)
    assert "append-only" in refused(books, "DELETE FROM ledger_entries WHERE id = :e", e=entry.id)


def test_a_posting_to_a_missing_bucket_or_another_currency_is_refused(
    books: Connection, merchant: tuple[str, str]
) -> None:
    m = merchant[0]
    with pytest.raises(DBAPIError, match="bucket"), books.begin_nested():
        write(books, Entry(m, "manual", transfer(f"la_revenue_{m}", f"la_cash_{m}", "USD", 5, debit_bucket=7)))
    with pytest.raises(DBAPIError, match="does not match a balance row"), books.begin_nested():
        write(books, Entry(m, "manual", [Posting(f"la_cash_{m}", "EUR", 5), Posting(f"la_revenue_{m}", "EUR", -5)]))


def test_a_guarded_balance_never_goes_negative(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    write(books, Entry(m, "manual", transfer(f"la_cash_{m}", f"la_wallet_{m}", "USD", 100)))
    with pytest.raises(DBAPIError, match="available_not_negative"), books.begin_nested():
        write(books, Entry(m, "manual", transfer(f"la_wallet_{m}", f"la_revenue_{m}", "USD", 101)))
    write(books, Entry(m, "manual", transfer(f"la_wallet_{m}", f"la_revenue_{m}", "USD", 100)))


def test_a_hold_cannot_be_posted_beyond_its_amount(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    books.execute(text(
        "INSERT INTO ledger_holds (id, merchant_id, currency, debit_account_id, credit_account_id, amount) "
        "VALUES ('lh_t', :m, 'USD', :a, :b, 100)"), {"m": m, "a": f"la_cash_{m}", "b": f"la_revenue_{m}"})
    assert "not_over_posted" in refused(books, "UPDATE ledger_holds SET posted_amount = 80, released_amount = 30, "
                                              "status = 'posted' WHERE id = 'lh_t'")


def test_postings_of_an_entry_that_does_not_exist_are_refused(books: Connection, merchant: tuple[str, str]) -> None:
    m = merchant[0]
    orphan = Entry(m, "manual", transfer(f"la_cash_{m}", f"la_revenue_{m}", "USD", 5))
    _, postings = orphan.rows()
    values = ", ".join("(" + ", ".join(f":{c}{i}" for c in COLUMNS) + ")" for i in range(len(postings)))
    params = {f"{c}{i}": posting[c] for i, posting in enumerate(postings) for c in COLUMNS}
    with pytest.raises(DBAPIError, match="does not exist"), books.begin_nested():
        books.execute(text(f"INSERT INTO ledger_postings ({', '.join(COLUMNS)}) VALUES {values}"), params)
