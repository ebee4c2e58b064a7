import pytest

from integrations.phones import brazilian_ddd, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+5511987654321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("(11) 98765-4321", "+5511987654321"),
        ("11 8765-4321", "+5511987654321"),  # pre-ninth-digit mobile form, widened
        ("551187654321@s.whatsapp.net", "+5511987654321"),
        ("5511987654321:12@s.whatsapp.net", "+5511987654321"),  # multi-device suffix
        ("5511987654321@c.us", "+5511987654321"),
        ("551133334444", "+551133334444"),  # a landline keeps its 8 digits
        ("79069471990@s.whatsapp.net", "+79069471990"),  # a WhatsApp id is always international
        ("16505551234@c.us", "+16505551234"),
        ("+1 650-555-1234", "+16505551234"),
        ("12", None),
        ("", None),
        (None, None),
        ("not a phone", None),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


def test_brazilian_ddd():
    assert brazilian_ddd("+5521987654321") == "21"
    assert brazilian_ddd("+16505551234") == ""
