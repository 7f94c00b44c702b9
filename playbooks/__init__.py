"""Playbooks, their steps, the checklist attached to an incident, response templates."""
