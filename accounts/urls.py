from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/profile/", views.profile_edit, name="profile_edit"),
    path("become-a-creator/", views.become_creator, name="become_creator"),
    path("@<str:handle>/", views.profile_detail, name="profile"),
    path("@<str:handle>/follow/", views.follow, name="follow"),
    path("@<str:handle>/unfollow/", views.unfollow, name="unfollow"),
]
