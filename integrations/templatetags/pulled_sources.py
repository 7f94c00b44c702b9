"""
`{% brand_sources brand as sources %}`: a brand's pulled sources for the console's
settings page (`console/_sources.html`), which the desk's own view renders without
importing this package (DESIGN.md: integrations/ sits above incidents/).
"""

from django import template

register = template.Library()


@register.simple_tag
def brand_sources(brand) -> list:
    """One query: the brand's sources by name (the brand row was read under the caller's scope)."""
    return list(brand.sources.order_by("name", "pk"))
