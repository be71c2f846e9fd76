from django import template

from wallet.money import DEFAULT_LOCALE, format_money, format_rate

register = template.Library()


@register.simple_tag(takes_context=True)
def money(context, amount_minor, currency):
    """{% money 370 "USD" %} → $3.70, in the page's `locale`."""
    return format_money(int(amount_minor), currency, context.get("locale", DEFAULT_LOCALE))


@register.simple_tag(takes_context=True)
def coin_value(context, coins):
    """{% coin_value 350 %} → what 350 coins are worth at the fan's own purchase price."""
    value = context.get("coin_value")
    return value.of(int(coins)) if value else ""


@register.simple_tag(takes_context=True)
def per_100(context, offer):
    return format_rate(
        offer.per_100_minor, offer.price.currency, context.get("locale", DEFAULT_LOCALE)
    )
