"""Payments: the provider interface (manual, Stripe) and the services that move money in and out.

Configuration (api/config.py reads it; payments/config.py builds the provider):

| variable | meaning |
| --- | --- |
| `IPX_PAYMENTS_PROVIDER` | `manual` (default: the operator records money by hand) or `stripe` |
| `IPX_STRIPE_SECRET_KEY` | the platform's secret key (`sk_...`) |
| `IPX_STRIPE_WEBHOOK_SECRET` | the webhook endpoint's signing secret (`whsec_...`) |
| `IPX_STRIPE_API_BASE`, `IPX_STRIPE_CONNECT_BASE` | other API addresses (a local fake) |

With `stripe`:
- collecting: `POST /v1/payments/stripe/deposits` or `.../invoice-payments` create a
  PaymentIntent and return its client secret; `payment_intent.succeeded` (webhook) credits the
  party from `ipx:{CUR}:stripe`, and pays and distributes the invoice, in the transaction that
  records the event (`payment_events`, one row per event id: at most once);
- paying out: `POST /v1/payments/stripe/connected-account` links an `acct_...`;
  `POST /v1/withdrawals` then becomes a Connect transfer (idempotency key = the withdrawal id),
  settled from `payout` to `ipx:{CUR}:stripe`, or back to `available` if refused or reversed;
- reconciling: `ipx payments reconcile --from --to` (or `GET /v1/payments/stripe/reconciliation`)
  compares `ipx:{CUR}:stripe` with Stripe's balance transactions, charge by charge and transfer
  by transfer.
"""
