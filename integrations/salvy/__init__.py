"""Salvy (Brazilian virtual numbers): the v2 API client and its webhook bodies.

Knows nothing of Recado's models: plain values in, plain values out.
"""

from integrations.salvy.client import SalvyClient, api_root, salvy_client_from_settings
from integrations.salvy.errors import SalvyError, SalvyNotConfigured
from integrations.salvy.sms import (
    ACCOUNT_EVENTS,
    SMS_RECEIVED,
    extract_whatsapp_code,
    parse_account_event,
    parse_sms_received,
)
from integrations.salvy.values import (
    ACCOUNT_STATUSES,
    CANCEL_REASONS,
    AreaCode,
    PhoneAccount,
    ReceivedSms,
)

__all__ = [
    "ACCOUNT_EVENTS",
    "ACCOUNT_STATUSES",
    "CANCEL_REASONS",
    "SMS_RECEIVED",
    "AreaCode",
    "PhoneAccount",
    "ReceivedSms",
    "SalvyClient",
    "SalvyError",
    "SalvyNotConfigured",
    "api_root",
    "extract_whatsapp_code",
    "parse_account_event",
    "parse_sms_received",
    "salvy_client_from_settings",
]
