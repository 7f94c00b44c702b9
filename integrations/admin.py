"""The integrations app's admin: each part registers its models in its own module."""

from .sources import admin as sources_admin  # noqa: F401 - registers the pulled sources
