from django.urls import path

from . import views

app_name = "livestreams"

urlpatterns = [
    path("", views.discover, name="discover"),
    path("go/", views.go_live, name="go_live"),
    path("<int:pk>/", views.room, name="room"),
    path("<int:pk>/end/", views.end, name="end"),
    path("<int:pk>/overlay-reset/", views.overlay_reset, name="overlay_reset"),
]
