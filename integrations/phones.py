"""Phone numbers and WhatsApp ids, normalized in one place.

Leads are keyed by E.164 ('+5511987654321'). Brazilian mobiles gained a ninth digit in 2012-2016,
but WhatsApp still identifies many older accounts by the 8-digit form (5511 8765-4321): both
forms are the same person, so the 8-digit mobile form is widened to 9 digits here.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

WHATSAPP_USER_SUFFIXES = ("@s.whatsapp.net", "@c.us")
LID_SUFFIX = "@lid"
NON_CONTACT_SUFFIXES = ("@g.us", "@broadcast", "@newsletter", "-group")


@lru_cache(maxsize=65536)
def normalize_phone(raw: str | None, *, default_region: str = "BR") -> str | None:
    """E.164 for a phone number written any common way, or None when it is not a phone number.

    Cached: the same customers write again and again, and parsing is the costly part of a webhook.
    """
    if not raw:
        return None
    text = str(raw).strip()
    # A WhatsApp id always carries the country code: 79069471990@s.whatsapp.net is Russian, not
    # a Brazilian number without its '+'.
    international = text.startswith("+")
    for suffix in WHATSAPP_USER_SUFFIXES:
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            international = True
    text = text.split(":", 1)[0]  # device suffix of multi-device JIDs: 5511...:12@s.whatsapp.net
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits or len(digits) < 8 or len(digits) > 15:
        return None
    candidate = "+" + digits if (international or len(digits) > 11) else digits
    try:
        number = phonenumbers.parse(candidate, None if candidate.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None
    number = _widen_brazilian_mobile(number)
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _widen_brazilian_mobile(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    national = str(number.national_number)
    # DDD (2 digits) + 8-digit subscriber starting 6-9 is the pre-ninth-digit mobile form.
    if number.country_code == 55 and len(national) == 10 and national[2] in "6789":
        return phonenumbers.PhoneNumber(country_code=55, national_number=int(national[:2] + "9" + national[2:]))
    return number


def brazilian_ddd(e164: str) -> str:
    """The two-digit area code of a Brazilian E.164 number, or '' for other countries."""
    return e164[3:5] if e164.startswith("+55") and len(e164) >= 5 else ""


def jid_user(jid: str) -> str:
    return jid.split("@", 1)[0].split(":", 1)[0]


def is_lid(jid: str | None) -> bool:
    return bool(jid) and jid.endswith(LID_SUFFIX)


def is_person_jid(jid: str | None) -> bool:
    return bool(jid) and jid.endswith(WHATSAPP_USER_SUFFIXES)


def is_non_contact(jid: str | None) -> bool:
    """Groups, broadcast lists, status updates and channels: never a one-to-one conversation."""
    return bool(jid) and (jid.endswith(NON_CONTACT_SUFFIXES) or jid == "status@broadcast")
