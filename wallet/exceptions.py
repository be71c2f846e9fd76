"""Domain errors of the wallet; each message is what a person should read."""


class WalletError(Exception):
    code = "wallet_error"


class LedgerError(WalletError):
    """A programming error: an unbalanced or malformed transaction."""

    code = "ledger_error"


class InsufficientFunds(WalletError):
    code = "insufficient_funds"


class AccountFrozen(WalletError):
    code = "wallet_frozen"


class IdempotencyConflict(WalletError):
    code = "idempotency_conflict"


UNBALANCED = "Entries of {unit} sum to {total}, not zero."
TOO_FEW_ENTRIES = "A transaction needs at least two entries."
ZERO_ENTRY = "An entry cannot move zero."
INSUFFICIENT_COINS = "Not enough coins: you have {balance:,} and this needs {needed:,}."
INSUFFICIENT = "Not enough {unit}: {balance:,} available, {needed:,} needed."
FROZEN = "This wallet is frozen while staff review it. Contact support."
KEY_REUSED = "This request key was already used for a different request."


class RechargeError(WalletError):
    code = "recharge_error"


class RetryLater(WalletError):
    """A lock could not be taken in time: the caller should retry (webhooks answer 503)."""

    code = "retry_later"


class IllegalTransition(WalletError):
    code = "illegal_transition"


PACKAGE_UNAVAILABLE = "That coin package is not available."
NOT_PRICED = "Coins are not sold in {currency} yet."
CUSTOM_RANGE = "Choose between {low:,} and {high:,} coins."
RECHARGE_FROZEN = "Your wallet is frozen while staff review it, so you can't buy coins right now."
PROVIDER_DOWN = "The payment service could not start your checkout. Nothing was charged; try again."

REFUND_NOT_PAID = "Only a paid purchase can be refunded."
REFUND_WINDOW_PASSED = (
    "Purchases can be refunded for {hours} hours after payment; this one's time has passed."
)
REFUND_SPENT = "Coins have been spent since this purchase, so it can no longer be refunded."
REFUND_REVIEW = "Staff are looking at this purchase, so it can't be refunded here; contact support."
REFUND_FROZEN = "Your wallet is frozen while staff review it, so refunds are paused."
REFUND_PROVIDER = (
    "The payment service could not refund this purchase ({message}). Nothing changed; try again."
)
