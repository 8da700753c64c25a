"""The connectors basketpay can route to: adding a processor is one package plus one line here."""

from __future__ import annotations

from basketpay.connectors.adyen import AdyenConnector
from basketpay.connectors.base import Connector
from basketpay.connectors.sandbox import SandboxConnector
from basketpay.connectors.stripe import StripeConnector
from basketpay.db.database import Database
from basketpay.errors import InvalidRequest
from basketpay.settings import Settings


class ConnectorRegistry:
    def __init__(self, connectors: dict[str, Connector], default: str) -> None:
        self._connectors = connectors
        self.default = default

    def names(self) -> list[str]:
        return sorted(self._connectors)

    def get(self, name: str) -> Connector:
        connector = self._connectors.get(name)
        if connector is None:
            raise InvalidRequest(f"unknown connector {name!r}", code="connector_unknown")
        return connector


def build_registry(database: Database, settings: Settings) -> ConnectorRegistry:
    connectors: dict[str, Connector] = {"sandbox": SandboxConnector(database)}
    if settings.stripe_secret_key is not None:
        connectors["stripe"] = StripeConnector(
            settings.stripe_api_base, settings.stripe_secret_key.get_secret_value(), settings.processor_timeout_ms,
            settings.stripe_search_grace_seconds,
        )
    if settings.adyen_api_key is not None:
        connectors["adyen"] = AdyenConnector(
            settings.adyen_api_base, settings.adyen_api_key.get_secret_value(), settings.adyen_merchant_account,
            settings.processor_timeout_ms,
        )
    return ConnectorRegistry(connectors, default=settings.default_connector)
