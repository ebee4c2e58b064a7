"""Celery's configuration: the CELERY_* Django settings, copied once into a plain dict.

Celery looks up about thirty settings for every task it queues, most of them unset. Asked of Django's
lazy settings object, each miss raised and caught an exception; that was a third of the CPU cost of
queueing a task. Read from a dict, a miss is a dict miss. Imported by Celery (see config/celery.py)
when it first needs its configuration, after Django's settings are loaded.
"""

from django.conf import settings

CELERY = {name: getattr(settings, name) for name in dir(settings) if name.startswith("CELERY_")}
