"""
The HTTP API's shared plumbing, knowing no domain.

The one exception handler and error shape (`errors`), JSON answers for Django's
own 400/404/500 (`views`), renderers, parsers (JSON only), pagination, request-wide
checks (`middleware`: body limit, query-string hygiene, query parameters), text hygiene
(`text`), the client's address (`addresses`), schema hooks and serializer bases. Every
package's `api.py` uses these; this package imports none of ours (see DESIGN.md, "Layout").
"""
