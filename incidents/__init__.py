"""The desk: incidents and their transitions, SLA clocks, timeline, idempotent filing, API."""
