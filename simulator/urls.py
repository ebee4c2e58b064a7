from django.urls import path

from simulator import gateway, views

app_name = "simulator"

urlpatterns = [
    path("", views.simulator_page, name="page"),
    path("feed", views.feed, name="feed"),
    path("gateway/message/sendText/<str:instance>", gateway.send_text, name="gateway-send-text"),
    path("gateway/chat/sendPresence/<str:instance>", gateway.send_presence, name="gateway-send-presence"),
]
