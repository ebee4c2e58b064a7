"""The WSGI application: Django's site, and the gateways' webhooks with the least of Django's cycle.

Every customer message arrives at a webhook URL, thousands a second in a burst, from a machine that
has no session, user, CSRF token or static file to deal with. Around a view that records a message,
Django's usual request cycle (URL resolver, the site's middleware, signals, script prefix and urlconf
bookkeeping) cost about as much CPU again as the view; `make bench` measured the duplicates phase
about 1.5 times faster without it. So webhook URLs go to `WebhookHandler`, which keeps what matters
for them and drops the rest. Everything else (admin, simulator, health, metrics) gets the full stack.
"""

import gc
import os

import django
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest, get_path_info
from django.db import close_old_connections
from django.middleware.security import SecurityMiddleware
from django.utils.log import log_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from integrations.urls import unknown_webhook, webhook_route  # noqa: E402 - needs the apps loaded


class WebhookHandler(WSGIHandler):
    """Webhook URLs: their view called straight (no resolver), with only the security middleware.

    Kept from Django's cycle: the request object, `SecurityMiddleware`, Django's own answer to an
    unexpected exception (a logged 500 and `got_request_exception`), the log line of a 4xx/5xx, and
    what the request_started/request_finished signals do for the database (`close_old_connections`
    before and after: broken or expired connections are dropped, health checks re-armed). A path
    below /webhooks/ that is no webhook URL gets `unknown_webhook`'s JSON 404, as from the URLconf.
    """

    def load_middleware(self, is_async=False):
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        self._middleware_chain = convert_exception_to_response(SecurityMiddleware(self._view_response))

    def __call__(self, environ, start_response):
        route = webhook_route(get_path_info(environ)) or (unknown_webhook, {})
        close_old_connections()
        request = WSGIRequest(environ)
        request.webhook_route = route
        response = self._middleware_chain(request)
        if response.status_code >= 400:
            log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return _Body([response.content])

    def _view_response(self, request):
        view, kwargs = request.webhook_route
        return view(request, **kwargs)


class _Body(list):
    """A webhook answer's body; the server calls close() once it is sent, as on Django's responses."""

    def close(self):
        close_old_connections()


site = WSGIHandler()
webhooks = WebhookHandler()


def application(environ, start_response):
    handler = webhooks if environ.get("PATH_INFO", "").startswith("/webhooks/") else site
    return handler(environ, start_response)


# Everything loaded so far lives as long as the process: frozen, the collector stops walking it. With
# the default thresholds a full collection of Django's objects paused every thread of the process
# for up to ~50 ms (seen as the webhooks' p99); frozen, with fewer young collections, under ~6 ms.
gc.freeze()
gc.set_threshold(20_000, 20, 100)
