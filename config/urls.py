from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import ops
from integrations.urls import webhook_urls

urlpatterns = [
    # First: every customer message arrives here, and URLs are tried in order.
    *webhook_urls(),
    # The fleet's operator screens (provisioning, connect, fleet) live beside the admin's own pages.
    path("admin/chips/", include("chips.admin_urls")),
    path("admin/", admin.site.urls),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("api/health", ops.api_health, name="api-health"),
    path("metrics", ops.metrics, name="prometheus-django-metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("simulator/", include("simulator.urls")),
]
