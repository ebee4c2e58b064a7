"""CloudApiProvider: webhook verification, signatures and routing, and the calls we make to Meta.

Webhook facts (see the reference notes on the Cloud API and Meta's webhook reference pages):

- Meta verifies the callback with `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
  and expects the raw challenge back; every POST is signed with
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. The app secret is the
  gateway's webhook secret.
- One POST may batch several `entry[].changes[]`, possibly for different phone numbers of the same
  app: `split` yields one part per change, routed by `value.metadata.phone_number_id` (our
  `Chip.instance_name`). WABA-level fields (template status, account updates…) carry no phone
  number id: they are routed by the signature alone and ignored.
- A user known only by a business-scoped user id (BSUID, since 2026) is sent to with `recipient`
  instead of `to`.

Numbers, not sessions: there is no QR. A number is added to the WABA in Meta's dashboard, then proven
and registered here (Meta's "Registering business phone numbers" and Graph API reference pages for
`request_code`, `verify_code`, `register`, `deregister`): `POST /{id}/request_code?code_method=SMS|VOICE
&language=…`, `POST /{id}/verify_code?code=…`, `POST /{id}/register {"messaging_product": "whatsapp",
"pin": "<6 digits>"}`, each answering `{"success": true}`. Its state is the phone number node
(`GET /{id}?fields=…`).

Ban signals (`session_state`): only the number's `status` BANNED, which Meta describes as "banned from
sending or receiving any messages". FLAGGED (low quality, a warning that clears in 7 days) and
RESTRICTED (messaging limit reached, replies still allowed) are Meta's quality states, not bans: the
number stays connected and the reason goes to `detail`, as do the `health_status` errors of a node
Meta reports BLOCKED (docs "Messaging and Calling Health Status").
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from integrations.providers.base import (
    ChipAddress,
    Contact,
    Event,
    MediaFile,
    NotSupported,
    OutboundMedia,
    Provider,
    ProviderError,
    SendResult,
    SessionInfo,
    StoredMedia,
    WebhookRejected,
    WebhookRequest,
)
from integrations.providers.cloudapi.inbound import _change_route_key, _parse_change, _phone
from integrations.providers.values import as_str

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="

# Graph error codes that mean "slow down", not "this request is wrong": worth retrying later.
RATE_LIMIT_CODES = frozenset({130429, 131056})
OUTSIDE_WINDOW_CODE = 131047
OUTSIDE_WINDOW_MESSAGE = "outside the 24-hour customer service window: only templates may be sent"

# "Please wait a few minutes before attempting to register this phone number": retrying later helps.
REGISTER_WAIT_CODE = 133015

# The phone number node's fields `session_state` reads.
NUMBER_FIELDS = (
    "display_phone_number,verified_name,status,quality_rating,name_status,code_verification_status,health_status"
)
# The number's `status` → SessionState. CONNECTED, FLAGGED and RESTRICTED numbers still message. Meta's
# pages show CONNECTED and describe the quality states; the other values are those BSP dashboards list
# for the same field (Alibaba Chat App "QueryChatappPhoneNumbers", businesschat.io number settings).
# A status not listed reads as disconnected, with the value in `detail`.
NUMBER_STATES = {
    "CONNECTED": "connected",
    "FLAGGED": "connected",
    "RESTRICTED": "connected",
    "RATE_LIMITED": "connected",
    "PENDING": "created",
    "UNVERIFIED": "created",
    "DISCONNECTED": "disconnected",
    "OFFLINE": "disconnected",
    "BANNED": "disconnected",
    "DELETED": "logged_out",
    "MIGRATED": "logged_out",
}
CODE_METHODS = frozenset({"SMS", "VOICE"})

OUTBOUND_MEDIA_KINDS = frozenset({"image", "document", "audio", "video"})
CAPTIONED_KINDS = frozenset({"image", "video", "document"})  # audio takes no caption


class CloudApiProvider(Provider):
    kind = "cloudapi"
    webhook_endpoint = "cloudapi"
    webhook_path_secret = False
    webhook_handshake = True
    service_window = timedelta(hours=24)
    sessions_managed = False  # no QR sessions: numbers are registered (request_code → verify → register)

    # --- inbound ---------------------------------------------------------------------------------

    @classmethod
    def split(cls, payload: Mapping[str, Any]) -> list[tuple[str | None, Mapping[str, Any]]]:
        """One part per `entry[].changes[]`, each a one-change body keyed by its phone number id."""
        obj = payload.get("object")
        entries = payload.get("entry")
        if not isinstance(obj, str) or not obj or not isinstance(entries, list):
            raise WebhookRejected(400, "body needs 'object' and an 'entry' list (a Meta webhook)")
        parts: list[tuple[str | None, Mapping[str, Any]]] = []
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("changes"), list):
                raise WebhookRejected(400, "each entry needs a 'changes' list")
            for change in entry["changes"]:
                if not isinstance(change, Mapping) or not isinstance(change.get("value"), Mapping):
                    raise WebhookRejected(400, "each change needs a 'value' object")
                part = {"object": obj, "entry": [{"id": entry.get("id"), "changes": [change]}]}
                parts.append((_change_route_key(change), part))
        if not parts:
            raise WebhookRejected(400, "body has no changes")
        return parts

    @classmethod
    def route_key(cls, payload: Mapping[str, Any]) -> str | None:
        return cls.split(payload)[0][0]

    @classmethod
    def handshake(cls, query: Mapping[str, str], verify_token: str) -> str | None:
        mode = query.get("hub.mode")
        token = query.get("hub.verify_token")
        challenge = query.get("hub.challenge")
        if mode != "subscribe" or not verify_token or not isinstance(token, str) or not isinstance(challenge, str):
            return None
        if not hmac.compare_digest(token.encode(), verify_token.encode()):
            return None
        return challenge

    def authenticate(self, request: WebhookRequest) -> bool:
        secret = self.config.webhook_secret
        if not secret:
            return False  # fail closed: a gateway without an app secret accepts nothing
        signature = _header(request.headers, SIGNATURE_HEADER).strip()
        if not signature.lower().startswith(SIGNATURE_PREFIX):
            return False
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature[len(SIGNATURE_PREFIX) :].lower().encode(), expected.encode())

    def parse(self, payload: Mapping[str, Any]) -> list[Event]:
        events: list[Event] = []
        for _route_key, part in self.split(payload):
            for change in part["entry"][0]["changes"]:
                events.extend(_parse_change(change))
        return events

    # --- outbound ----------------------------------------------------------------------------------

    def send_text(self, chip: ChipAddress, to: Contact, text: str) -> SendResult:
        body = _addressed(to) | {"type": "text", "text": {"preview_url": False, "body": text}}
        return self._send(chip, body)

    def send_media(self, chip: ChipAddress, to: Contact, media: OutboundMedia) -> SendResult:
        if media.kind not in OUTBOUND_MEDIA_KINDS:
            raise ProviderError(f"the Cloud API cannot send media of kind {media.kind!r}", permanent=True)
        content: dict[str, Any] = {"link": media.url}
        if media.caption and media.kind in CAPTIONED_KINDS:
            content["caption"] = media.caption
        if media.file_name and media.kind == "document":
            content["filename"] = media.file_name
        body = _addressed(to) | {"type": media.kind, media.kind: content}
        return self._send(chip, body)

    def send_typing(self, chip: ChipAddress, to: Contact, duration_ms: int) -> None:
        # Meta's typing indicator is a flag on the mark-as-read call: it needs the id of the
        # customer's message being answered, which this hook is not given (and it would also mark
        # the message read). There is no contact-level "typing…" in the Cloud API.
        raise NotSupported(
            "the Cloud API shows 'typing…' only through mark-as-read of a received message id, "
            "which send_typing does not receive"
        )

    def mark_read(self, chip: ChipAddress, to: Contact, provider_message_ids: list[str]) -> None:
        ids = [message_id for message_id in provider_message_ids if message_id]
        if not ids:
            return
        # Marking a message read also marks every earlier message of the chat read: one call.
        self._request(
            "POST",
            _messages_path(chip),
            headers=self._auth_headers(),
            json={"messaging_product": "whatsapp", "status": "read", "message_id": ids[-1]},
        )

    def download_media(self, chip: ChipAddress, media: StoredMedia) -> MediaFile:
        """Two steps: `GET /{media-id}` gives a short-lived URL, fetched with the same bearer token."""
        url = media.media_url
        mime_type = media.mime_type
        if media.media_id:
            info = _json(self._request("GET", f"/{quote(media.media_id, safe='')}", headers=self._auth_headers()))
            url = as_str(info.get("url"))
            mime_type = as_str(info.get("mime_type")) or mime_type
        if not url:
            raise ProviderError("the Cloud API gave no URL for this media", permanent=True)
        if not self._may_send_token_to(url):
            raise ProviderError("refusing to send the access token to a non-HTTPS media URL", permanent=True)
        response = self._request("GET", url, headers=self._auth_headers())
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return MediaFile(content=response.content, mime_type=mime_type or content_type, file_name=media.file_name)

    # --- number registration and state -----------------------------------------------------------

    def session_create(
        self, chip: ChipAddress, *, webhook_url: str, webhook_headers: Mapping[str, str] | None = None
    ) -> SessionInfo:
        raise NotSupported(
            "Cloud API numbers are added in Meta's WhatsApp Manager and the webhook is the app's; "
            "register the number with request_verification_code, submit_verification_code and register_number"
        )

    def session_connect(self, chip: ChipAddress, *, pairing_phone: str = "") -> SessionInfo:
        raise NotSupported(
            "the Cloud API has no QR or pairing code: use request_verification_code, "
            "submit_verification_code and register_number"
        )

    def session_state(self, chip: ChipAddress) -> SessionInfo:
        response = self._request(
            "GET", f"/{_number(chip)}", headers=self._auth_headers(), params={"fields": NUMBER_FIELDS}
        )
        return _number_info(_json(response))

    def session_logout(self, chip: ChipAddress) -> None:
        """Deregister the number from the Cloud API (Meta allows 10 deregistrations a week per number)."""
        self._confirm(self._request("POST", f"/{_number(chip)}/deregister", headers=self._auth_headers()))

    def session_delete(self, chip: ChipAddress) -> None:
        raise NotSupported("Cloud API numbers are removed from the WABA in Meta's WhatsApp Manager")

    def request_verification_code(self, chip: ChipAddress, *, method: str = "SMS", language: str = "pt_BR") -> None:
        code_method = method.upper()
        if code_method not in CODE_METHODS:
            raise ValueError(f"code method must be SMS or VOICE, not {method!r}")
        if not language:
            raise ValueError("a language (locale such as pt_BR) is required")
        response = self._request(
            "POST",
            f"/{_number(chip)}/request_code",
            headers=self._auth_headers(),
            params={"code_method": code_method, "language": language},
        )
        self._confirm(response)

    def submit_verification_code(self, chip: ChipAddress, code: str) -> None:
        digits = code.replace("-", "").strip()
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError("the verification code is the digits WhatsApp sent")
        response = self._request(
            "POST", f"/{_number(chip)}/verify_code", headers=self._auth_headers(), params={"code": digits}
        )
        self._confirm(response)

    def register_number(self, chip: ChipAddress, pin: str) -> None:
        if not (len(pin) == 6 and pin.isascii() and pin.isdigit()):
            raise ValueError("the two-step verification PIN must be 6 digits")
        response = self._request(
            "POST",
            f"/{_number(chip)}/register",
            headers=self._auth_headers(),
            json={"messaging_product": "whatsapp", "pin": pin},
        )
        self._confirm(response)

    @staticmethod
    def _confirm(response) -> None:
        """Registration calls answer `{"success": true}`; anything else did not happen."""
        if _json(response).get("success") is not True:
            raise ProviderError("Meta did not confirm the request (no success: true)", permanent=True)

    # --- helpers ---------------------------------------------------------------------------------

    def _send(self, chip: ChipAddress, body: dict[str, Any]) -> SendResult:
        response = self._request("POST", _messages_path(chip), headers=self._auth_headers(), json=body)
        return SendResult(provider_message_id=_sent_message_id(response))

    def _error_for(self, response) -> ProviderError | None:
        """Meta's error codes refine the status: rate limits retry, the 24 h window never will."""
        code = _graph_error_code(response)
        if code in RATE_LIMIT_CODES:
            return ProviderError(
                f"Meta rate limit (error {code}), retry later", permanent=False, status_code=response.status_code
            )
        if code == OUTSIDE_WINDOW_CODE:
            return ProviderError(
                f"{OUTSIDE_WINDOW_MESSAGE} (Meta error {code})", permanent=True, status_code=response.status_code
            )
        if code == REGISTER_WAIT_CODE:
            return ProviderError(
                f"Meta asks to wait a few minutes before registering this number (error {code})",
                permanent=False,
                status_code=response.status_code,
            )
        return None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    def _may_send_token_to(self, url: str) -> bool:
        target = urlsplit(url)
        if not target.scheme:  # a path relative to the Graph base URL
            return True
        base = urlsplit(self.config.base_url)
        return target.scheme == "https" or (target.scheme, target.netloc) == (base.scheme, base.netloc)


# --- outbound helpers -----------------------------------------------------------------------------


def _messages_path(chip: ChipAddress) -> str:
    return f"/{_number(chip)}/messages"


def _number(chip: ChipAddress) -> str:
    """The phone number id (our Chip.instance_name), as a path segment."""
    return quote(chip.instance_name, safe="")


def _number_info(body: Mapping[str, Any]) -> SessionInfo:
    """The phone number node as SessionInfo: `status` decides, quality and health go to `detail`."""
    status = as_str(body.get("status")).upper()
    state = NUMBER_STATES.get(status, "disconnected")
    notes = [f"status {status or 'unknown'}"]
    quality = as_str(body.get("quality_rating"))
    if quality:
        notes.append(f"quality {quality}")
    name_status = as_str(body.get("name_status"))
    if name_status:
        notes.append(f"name {name_status}")
    notes.extend(_health_notes(body.get("health_status")))
    return SessionInfo(
        state=state,
        phone=_phone(_digits(body.get("display_phone_number"))) or "",
        banned=status == "BANNED",
        detail="; ".join(notes)[:500],
    )


def _health_notes(health: Any) -> list[str]:
    """`health_status`: the overall `can_send_message`, and the errors of the entities Meta blocks."""
    if not isinstance(health, Mapping):
        return []
    notes = [f"can send: {as_str(health.get('can_send_message')) or 'unknown'}"]
    entities = health.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, Mapping) or entity.get("can_send_message") != "BLOCKED":
            continue
        errors = entity.get("errors")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, Mapping):
                description = as_str(error.get("error_description")) or str(error.get("error_code", ""))
                notes.append(f"{as_str(entity.get('entity_type')) or 'entity'} blocked: {description}")
    return notes


def _digits(value: Any) -> str:
    """`display_phone_number` is formatted (`+1 631-555-5555`): its digits."""
    return "".join(ch for ch in value if ch.isdigit()) if isinstance(value, str) else ""


def _addressed(to: Contact) -> dict[str, Any]:
    """The envelope of a send: `to` a phone number, or `recipient` for a BSUID-only contact."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to.phone:
        body["to"] = to.phone.lstrip("+")
    elif to.bsuid:
        # Meta's BSUID page: set `recipient` to the BSUID and omit `to` (`to` would win if present).
        body["recipient"] = to.bsuid
    else:
        raise ProviderError("contact has neither a phone number nor a BSUID the Cloud API can send to", permanent=True)
    return body


def _sent_message_id(response) -> str | None:
    messages = _json(response).get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, Mapping) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _graph_error_code(response) -> int | None:
    """Meta's error code: {"error": {"code": 131047, "message": "(#131047) …", ...}}."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, Mapping):
        return None
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    match = re.search(r"\(#(\d+)\)", str(error.get("message", "")))
    return int(match.group(1)) if match else None


# --- small helpers ---------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value if isinstance(value, str) else ""


def _json(response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}
