from django.urls import include, path

from testsite.urls import whoami

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("whoami/", whoami),
]
