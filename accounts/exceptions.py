"""Domain errors of the accounts app; views turn them into messages or status codes."""


class AccountsError(Exception):
    """Base for rule violations a user can fix."""


class FollowError(AccountsError):
    pass


class ProfileError(AccountsError):
    pass


CANNOT_FOLLOW_SELF = "You can't follow yourself."
ALREADY_FOLLOWING = "You already follow @{handle}."
NOT_FOLLOWING = "You don't follow @{handle}."
