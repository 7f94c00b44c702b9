"""Playbooks and response templates (their issue has not landed yet)."""
