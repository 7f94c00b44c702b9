"""OpenAPI schema hooks: document the error answers every endpoint can give (API.md, "Conventions")."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "A domain error `{detail, code, …}`, or field errors `{field: [message]}`.",
    "additionalProperties": True,
}

# Answers any operation may give, besides its own success codes.
COMMON_ERRORS = {
    "400": "Invalid input (field errors) or malformed request",
    "401": "Missing or invalid credentials",
    "403": "The caller's role forbids this",
    "404": "Not found, or belongs to a brand the caller does not see",
    "405": "Method not allowed",
    "406": "Cannot answer in an accepted media type",
    "409": "Conflicts with the current state",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Idempotency-Key reused with another body",
    "429": "Throttled; see Retry-After",
    "503": "A dependency (the database) is unavailable; retry",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation lists the common error answers."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in COMMON_ERRORS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    return result
