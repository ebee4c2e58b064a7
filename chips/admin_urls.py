"""The fleet's operator screens, mounted under /admin/chips/ ahead of the admin's own URLs.

Every view is wrapped by the admin site's `admin_view`: anonymous and non-staff visitors go to the
admin login, responses are never cached, and POSTs are CSRF-checked, as on any admin page.
"""

from django.contrib import admin
from django.urls import path

from chips import admin_views as views

app_name = "chips_admin"


def _admin(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("fleet/", _admin(views.fleet), name="fleet"),
    path("fleet/chip/<int:chip_id>/transition/", _admin(views.chip_transition_apply), name="transition"),
    path("fleet/alert/<int:alert_id>/resolve/", _admin(views.alert_resolve_apply), name="alert-resolve"),
    path("provision/", _admin(views.provision), name="provision"),
    path(
        "provisioningjob/<int:job_id>/progress/",
        _admin(views.provisioning_progress),
        name="provisioning-progress",
    ),
    path(
        "provisioningjob/<int:job_id>/progress.json",
        _admin(views.provisioning_progress_json),
        name="provisioning-progress-json",
    ),
    path("chip/<int:chip_id>/connect/", _admin(views.chip_connect), name="connect"),
    path("chip/<int:chip_id>/connect.json", _admin(views.chip_connect_json), name="connect-json"),
    path("chip/<int:chip_id>/connect/request/", _admin(views.chip_connect_request), name="connect-request"),
    path("chip/<int:chip_id>/sms/<int:sms_id>/used/", _admin(views.sms_code_used), name="sms-used"),
]
