"""What routing needs to know about a card that its number does not say outright: funding
(credit, debit, prepaid) and issuing country, by BIN (the first 8 or 6 digits). A real
deployment loads its processor's BIN file here; this table holds the BINs of the sandbox
test cards (Stripe's documented test numbers), so rules and success windows by funding and
country work end to end in the sandboxes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BinFacts:
    funding: str | None = None
    issuing_country: str | None = None


UNKNOWN = BinFacts()
TEST_BINS: dict[str, BinFacts] = {
    "42424242": BinFacts("credit", "US"), "40000566": BinFacts("debit", "US"), "44000000": BinFacts("debit", "US"),
    "55555555": BinFacts("credit", "US"), "52008282": BinFacts("debit", "US"), "55554444": BinFacts("debit", "US"),
    "51051051": BinFacts("prepaid", "US"), "378282": BinFacts("credit", "US"), "60111111": BinFacts("credit", "US"),
    "40000007": BinFacts("credit", "BR"), "40000012": BinFacts("credit", "CA"), "40000025": BinFacts("credit", "FR"),
    "40000027": BinFacts("credit", "DE"), "40000082": BinFacts("credit", "GB"), "40000039": BinFacts("credit", "JP"),
}


def facts(card_bin: str | None, table: dict[str, BinFacts] = TEST_BINS) -> BinFacts:
    """The longest BIN in the table the card starts with (8 digits, then 6)."""
    if not card_bin:
        return UNKNOWN
    for length in (8, 6):
        found = table.get(card_bin[:length])
        if found is not None:
            return found
    return UNKNOWN
