"""
`{placeholder}` templates: parse and fill, nothing else.

Not `str.format`: a template is user input, and format specs (`{x:>999999999}`),
attribute access (`{x.__class__}`) and indexing have no business in a reply.
Only `{name}` with a plain identifier is a placeholder; `{{` and `}}` are braces.
"""

import re
import string

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class TemplateError(ValueError):
    pass


def placeholders(body: str) -> list[str]:
    """The placeholder names in `body`, in order of first use; raises TemplateError if malformed."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not NAME.match(field) or spec or conversion:
            raise TemplateError(f"{{{field}}} is not a plain placeholder name")
        if field not in names:
            names.append(field)
    return names


def fill(body: str, values: dict[str, str]) -> str:
    """Replace every placeholder; the caller has checked that `values` covers them all."""
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(body):
        out.append(literal)
        if field is not None:
            out.append(values[field])
    return "".join(out)
