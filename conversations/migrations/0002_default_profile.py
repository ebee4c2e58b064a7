"""Create the default agent profile, so a fresh install answers leads out of the box."""

from django.db import migrations

from conversations.defaults import DEFAULT_PROFILE


def create_default_profile(apps, schema_editor):
    AgentProfile = apps.get_model("conversations", "AgentProfile")
    if not AgentProfile.objects.filter(is_default=True).exists():
        # Only the columns that exist at this point of history; later migrations fill the rest.
        columns = {field.name for field in AgentProfile._meta.get_fields()}
        AgentProfile.objects.create(**{key: value for key, value in DEFAULT_PROFILE.items() if key in columns})


def remove_default_profile(apps, schema_editor):
    AgentProfile = apps.get_model("conversations", "AgentProfile")
    AgentProfile.objects.filter(is_default=True, name=DEFAULT_PROFILE["name"], conversations__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(create_default_profile, remove_default_profile)]
