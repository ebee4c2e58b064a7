from django.apps import AppConfig


class ChipsConfig(AppConfig):
    name = "chips"
