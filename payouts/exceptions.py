"""Domain errors of payouts; each message is what a creator or staff member should read."""


class PayoutError(Exception):
    code = "payout_error"


class PayoutNotAllowed(PayoutError):
    code = "payout_not_allowed"


NOT_CREATOR = "Only creators can request payouts: see what's missing on the Become a creator page."
NO_METHOD = "Add a payout method (PayPal or bank account) before you request a payout."
NO_MFA = "Turn on two-factor authentication before you request a payout."
BAD_AMOUNT = "Enter a whole number of diamonds."
TOO_SMALL = "The minimum payout is {minimum} ({diamonds:,} diamonds)."
TOO_LARGE = "You have {available:,} diamonds available for payout; you asked for {asked:,}."
NOT_WHOLE_CENT = "{asked:,} diamonds are worth less than one cent."
DAILY_CAP = (
    "Payouts are limited to {cap} per 24 hours; {left} is left for now (you asked for {asked})."
)
FROZEN = "Your wallet is frozen while staff review it; payouts wait until then."
ILLEGAL_MOVE = "A {current} payout can't be marked {target}."
SELF_ACTION = "Nobody can approve, pay or reject their own payout; another staff member must."
STAFF_ONLY = "Only staff can change a payout's status."
REASON_NEEDED = "Give a reason: the creator reads it."
REFERENCE_NEEDED = "Record the payment's reference (PayPal or bank transaction id)."
KEY_REUSED = "This request was already made for a different amount."
