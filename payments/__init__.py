"""Payments: the provider interface (manual, Stripe) and the services that move money in and out."""
