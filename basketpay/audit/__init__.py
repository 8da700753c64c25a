"""The audit log: who did what to what, when, from where, and how it ended — for admin
actions and every read or write of the card vault."""
