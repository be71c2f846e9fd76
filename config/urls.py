from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from livestreams import views as livestreams_views

from . import views

admin.site.site_header = "Giftcast staff"
admin.site.site_title = "Giftcast staff"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("wallet/", include("wallet.urls")),
    path("live/", include("livestreams.urls")),
    path("creator/", include("payouts.urls")),
    path("overlay/<str:token>/", livestreams_views.overlay, name="overlay"),
    path("", include("accounts.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "config.views.error_400"
handler403 = "config.views.error_403"
handler404 = "config.views.error_404"
handler500 = "config.views.error_500"
