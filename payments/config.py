"""Choosing the payment provider from configuration: the one place that knows the names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.manual import ManualProvider
from payments.provider import PaymentProvider
from payments.services.payouts import ProviderPayouts
from payments.stripe_adapter import StripeProvider, StripeSettings

PROVIDERS = ("manual", "stripe")


@dataclass(frozen=True)
class PaymentSettings:
    provider: str = "manual"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None  # e.g. a local fake (localstripe) in tests
    stripe_connect_base: str | None = None
    # Not from the environment: tests hand the SDK a transport (a stripe.HTTPClient).
    stripe_http_client: Any = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PaymentSettings:
        return cls(
            provider=env.get("IPX_PAYMENTS_PROVIDER", "manual"),
            stripe_secret_key=env.get("IPX_STRIPE_SECRET_KEY"),
            stripe_webhook_secret=env.get("IPX_STRIPE_WEBHOOK_SECRET"),
            stripe_api_base=env.get("IPX_STRIPE_API_BASE"),
            stripe_connect_base=env.get("IPX_STRIPE_CONNECT_BASE"),
        )


def make_provider(settings: PaymentSettings) -> PaymentProvider:
    """The configured provider; a misconfiguration stops the start-up, not a later payment."""
    if settings.provider == "manual":
        return ManualProvider()
    if settings.provider == "stripe":
        missing = [name for name, value in (
            ("IPX_STRIPE_SECRET_KEY", settings.stripe_secret_key),
            ("IPX_STRIPE_WEBHOOK_SECRET", settings.stripe_webhook_secret)) if not value]
        if missing:
            raise ValueError(f"IPX_PAYMENTS_PROVIDER=stripe needs {', '.join(missing)}")
        assert settings.stripe_secret_key and settings.stripe_webhook_secret
        return StripeProvider(StripeSettings(
            secret_key=settings.stripe_secret_key,
            webhook_secret=settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base, connect_base=settings.stripe_connect_base),
            http_client=settings.stripe_http_client)
    raise ValueError(f"IPX_PAYMENTS_PROVIDER must be one of {', '.join(PROVIDERS)}, "
                     f"not '{settings.provider}'")


def withdrawal_route(provider: PaymentProvider) -> ProviderPayouts | None:
    """The withdrawal hook for ledger.services.money: None when the operator pays by hand."""
    return None if isinstance(provider, ManualProvider) else ProviderPayouts(provider)
