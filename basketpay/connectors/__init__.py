"""Processor connectors: stateless adapters behind one interface (`base.Connector`)."""
