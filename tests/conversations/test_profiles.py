import pytest

from conversations.defaults import DEFAULT_PROFILE
from conversations.models import AgentProfile, ProfileChip
from conversations.routing import profile_for_chip
from tests.factories import ChipFactory

pytestmark = pytest.mark.django_db


def test_a_chip_without_a_profile_speaks_for_the_default_one():
    chip = ChipFactory()
    assert profile_for_chip(chip.pk).is_default


def test_an_assigned_profile_wins_over_the_default():
    chip, other = ChipFactory(), ChipFactory()
    clinic = AgentProfile.objects.create(name="Clínica", company_name="Clínica Sorriso")
    ProfileChip.objects.create(profile=clinic, chip=chip)
    assert profile_for_chip(chip.pk) == clinic
    assert profile_for_chip(other.pk).is_default


def test_the_default_profile_comes_back_if_it_was_deleted():
    AgentProfile.objects.all().delete()
    profile = profile_for_chip(ChipFactory().pk)
    assert profile.is_default and profile.qualification_fields == DEFAULT_PROFILE["qualification_fields"]
