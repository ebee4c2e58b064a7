"""Admin forms: an operator's typo in a profile must be a clear form error, not a broken turn later."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from conversations.hours import WEEKDAYS
from conversations.models import AgentProfile

FIELD_TYPES = ("text", "name", "email", "number", "money", "date", "phone", "cnpj", "city")


class AgentProfileForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = [
            "name",
            "is_default",
            "company_name",
            "company_description",
            "offer_description",
            "tone",
            "system_prompt_extra",
            "allowed_prices",
            "image_hint",
            "qualification_fields",
            "hot_threshold",
            "warm_threshold",
            "timezone",
            "business_hours",
            "holidays",
            "debounce_seconds",
            "debounce_max_wait_seconds",
            "max_bubbles",
            "human_idle_minutes",
            "followup_cadence_hours",
            "model",
        ]

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"]
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(f"{name!r} is not a time zone name (e.g. America/Sao_Paulo)") from None
        return name

    def clean_business_hours(self) -> dict:
        hours = self.cleaned_data["business_hours"] or {}
        if not isinstance(hours, dict):
            raise forms.ValidationError('expected {"mon": ["08:00-18:00"], ...}')
        for day, ranges in hours.items():
            if day not in WEEKDAYS:
                raise forms.ValidationError(f"{day!r} is not a weekday key; use {', '.join(WEEKDAYS)}")
            if not isinstance(ranges, list):
                raise forms.ValidationError(f'{day}: expected a list of ranges such as ["08:00-12:00"]')
            for item in ranges:
                _check_range(day, item)
        return hours

    def clean_holidays(self) -> list:
        holidays = self.cleaned_data["holidays"] or []
        if not isinstance(holidays, list):
            raise forms.ValidationError('expected a list of dates: ["2026-12-25", ...]')
        for item in holidays:
            try:
                date.fromisoformat(str(item))
            except ValueError:
                raise forms.ValidationError(f"{item!r} is not a date (YYYY-MM-DD)") from None
        return holidays

    def clean_followup_cadence_hours(self) -> list:
        cadence = self.cleaned_data["followup_cadence_hours"] or []
        if not isinstance(cadence, list) or not all(isinstance(h, int | float) and h > 0 for h in cadence):
            raise forms.ValidationError("expected a list of positive hours, e.g. [24, 72]")
        return cadence

    def clean_qualification_fields(self) -> list:
        fields = self.cleaned_data["qualification_fields"] or []
        if not isinstance(fields, list):
            raise forms.ValidationError('expected a list: [{"key": "name", "question": "...", ...}]')
        seen = set()
        for item in fields:
            if not isinstance(item, dict) or not str(item.get("key", "")).strip():
                raise forms.ValidationError("every field needs a key")
            key = item["key"]
            if key in seen:
                raise forms.ValidationError(f"the key {key!r} appears twice")
            seen.add(key)
            if not str(item.get("question", "")).strip():
                raise forms.ValidationError(f"{key}: the question the agent asks is missing")
            if item.get("type", "text") not in FIELD_TYPES:
                raise forms.ValidationError(f"{key}: type must be one of {', '.join(FIELD_TYPES)}")
            if not isinstance(item.get("weight", 0), int) or item.get("weight", 0) < 0:
                raise forms.ValidationError(f"{key}: weight must be a whole number ≥ 0")
        return fields

    def clean(self):
        cleaned = super().clean()
        warm, hot = cleaned.get("warm_threshold"), cleaned.get("hot_threshold")
        if warm is not None and hot is not None and warm >= hot:
            self.add_error("warm_threshold", "the warm threshold must be below the hot one")
        if (cleaned.get("debounce_max_wait_seconds") or 0) < (cleaned.get("debounce_seconds") or 0):
            self.add_error("debounce_max_wait_seconds", "the maximum wait cannot be shorter than the debounce")
        return cleaned


def _check_range(day: str, item) -> None:
    try:
        start_text, end_text = str(item).split("-", 1)
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError:
        raise forms.ValidationError(f'{day}: {item!r} is not a range such as "08:00-18:00"') from None
    if start >= end:
        raise forms.ValidationError(f"{day}: {item!r} ends before it starts")
