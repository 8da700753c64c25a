"""Settlement file formats: each parser streams a file into normalised `SettlementRow`s."""
