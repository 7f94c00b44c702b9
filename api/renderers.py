"""CSV output for report-like endpoints (`?format=csv`)."""

import csv
import io
import json

from rest_framework.renderers import BaseRenderer


def csv_cell(value):
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run a username or comment as a formula
    return value


class CSVRenderer(BaseRenderer):
    """Renders a list of flat dicts; the view names the columns in `csv_columns`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = (renderer_context or {}).get("view")
        response = (renderer_context or {}).get("response")
        if (response is not None and response.status_code >= 400) or not isinstance(data, list):
            # Errors (and OPTIONS metadata) stay JSON-shaped: a CSV of them helps nobody.
            return json.dumps(data, ensure_ascii=False, default=str).encode()
        columns = getattr(view, "csv_columns", None) or (list(data[0]) if data else [])
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in data:
            writer.writerow({k: csv_cell(row.get(k)) for k in columns})
        return out.getvalue().encode()
