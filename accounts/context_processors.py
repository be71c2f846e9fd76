def viewer(request):
    """The signed-in user's profile for the page chrome (avatar, handle), if any."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"viewer_profile": None}
    return {"viewer_profile": getattr(user, "profile", None)}
