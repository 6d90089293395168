# Joins the three migrations that were written side by side: repo roots and key rules, the next-steps
# index, and the bounded decision rationale.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("hub", "0002_repo_roots_keys_last_attempt"),
        ("hub", "0002_task_next_steps_index"),
        ("hub", "0002_decision_rationale_max_length"),
    ]

    operations = []
