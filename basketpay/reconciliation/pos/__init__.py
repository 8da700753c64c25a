"""Retailers' point-of-sale feeds: a store's card purchases (CSV) matched to the card
authorizations of the orders they bought the groceries for (`importer.import_pos_feed`),
with every mismatch reported; routes in `api`, the CLI in `cli`."""
