from django.http import HttpResponse
from django.urls import include, path


def whoami(request):
    user = request.user
    if not user.is_authenticated:
        return HttpResponse("anonymous", content_type="text/plain", status=401)
    return HttpResponse(f"username={user.username}\nfirst_name={user.first_name}\n", content_type="text/plain")


urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("whoami/", whoami),
]
