from django.urls import path

from . import views

app_name = "payouts"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("earnings.csv", views.earnings_csv, name="earnings_csv"),
    path("payouts/", views.payouts, name="payouts"),
    path("payouts/method/", views.payout_method, name="method"),
    path("payouts/<int:pk>/", views.payout_detail, name="detail"),
    path("payouts/method/stripe/", views.stripe_connect, name="stripe_connect"),
    path("payouts/method/stripe/return/", views.stripe_return, name="stripe_return"),
    path("stripe/webhook/", views.stripe_connect_webhook, name="stripe_webhook"),
]
