from django import template

register = template.Library()


@register.filter
def time_span(delta) -> str:
    """A timedelta as 1:02:03 or 2:03."""
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.simple_tag
def live_stream_of(user):
    """{% live_stream_of profile.user as live %}: the user's live stream, if any."""
    from livestreams.selectors import live_stream_of as select

    return select(creator=user)


@register.simple_tag
def creator_share_terms():
    """{% creator_share_terms as share %}: share.diamonds for every share.coins a fan gives."""
    from livestreams.selectors import creator_share_terms as select

    return select()
