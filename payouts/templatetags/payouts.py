"""Diamonds as money, and the earnings chart, for the creator's pages."""

from __future__ import annotations

from django import template

from wallet.money import DEFAULT_LOCALE, format_money

from ..selectors import DailyEarnings, payout_quote

register = template.Library()


@register.simple_tag(takes_context=True)
def cash(context, diamonds) -> str:
    """{% cash 2000 %} → what 2,000 diamonds are worth in the creator's currency ("≈ £7.89"
    when that is an estimate from staff's exchange rate; payouts are made in USD)."""
    view = context["cash"]
    shown = format_money(view.minor(int(diamonds)), view.currency, view.locale)
    return f"≈ {shown}" if view.is_estimate else shown


@register.simple_tag(takes_context=True)
def usd(context, diamonds) -> str:
    """{% usd 14999 %} → $74.99: what a payout of these diamonds pays, in whole cents."""
    return format_money(
        payout_quote(int(diamonds)).cents, "USD", context.get("locale", DEFAULT_LOCALE)
    )


CHART_W, CHART_H, CHART_TOP = 600, 160, 8


@register.inclusion_tag("payouts/_chart.html")
def earnings_chart(daily: DailyEarnings) -> dict:
    """A server-drawn bar chart (SVG) of diamonds per day, with its table fallback."""
    count = len(daily.days) or 1
    slot = CHART_W / count
    peak = daily.peak or 1
    bars = []
    for index, day in enumerate(daily.days):
        height = 0 if not day.diamonds else max(2.0, (CHART_H - CHART_TOP) * day.diamonds / peak)
        bars.append(
            {
                "x": round(index * slot + 1, 2),
                "y": round(CHART_H - height, 2),
                "width": round(max(slot - 2, 1), 2),
                "height": round(height, 2),
                "day": day.day,
                "diamonds": day.diamonds,
            }
        )
    return {"bars": bars, "daily": daily, "width": CHART_W, "height": CHART_H}


@register.filter
def change_pct(current: int, previous: int) -> str:
    """The change against the previous period ("new" when there was nothing before)."""
    if not previous:
        return "new" if current else "—"
    pct = round((current - previous) * 100 / previous)
    return f"{pct:+d} %"
