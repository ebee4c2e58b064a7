"""One URL per webhook endpoint; providers whose URL carries a secret get a `<secret>/` segment."""

from django.urls import path

from integrations.providers.registry import kinds_for_endpoint, provider_class, webhook_endpoints
from integrations.webhooks import salvy_webhook, webhook_view


def webhook_urls() -> list:
    urls = []
    for endpoint in webhook_endpoints():
        view = webhook_view(endpoint)
        if provider_class(kinds_for_endpoint(endpoint)[0]).webhook_path_secret:
            urls.append(path(f"webhooks/{endpoint}/<str:secret>/", view, name=f"webhook-{endpoint}"))
        else:
            urls.append(path(f"webhooks/{endpoint}/", view, name=f"webhook-{endpoint}"))
    urls.append(path("webhooks/salvy/", salvy_webhook, name="webhook-salvy"))
    return urls
