from django.urls import path

from . import views

app_name = "wallet"

urlpatterns = [
    path("", views.balance, name="balance"),
    path("recharge/", views.recharge, name="recharge"),
    path("recharge/<int:pk>/success/", views.recharge_success, name="recharge_success"),
    path("recharge/<int:pk>/cancel/", views.recharge_cancel, name="recharge_cancel"),
    path("recharge/<int:pk>/refund/", views.recharge_refund, name="recharge_refund"),
    path("checkout/<str:session_id>/", views.simulated_checkout, name="simulated_checkout"),
    path("history/", views.history, name="history"),
    path("history.csv", views.history_csv, name="history_csv"),
    path("statement/", views.statement, name="statement"),
    path("limits/", views.limits, name="limits"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
