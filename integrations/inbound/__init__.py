"""
Inbound adapters: the shapes monitoring and alerting tools already send (API.md, "Integrations").

One module per tool (`youscan`, `meltwater`, `pagerduty`, `alertmanager`, `grafana`), each
translating its sender's payload into calls of the desk's own services, so nothing here
is a second pipeline:

- mentions (`mentions.py`) go through `crisis.mention_input.validate_mention_batch` and
  `incidents.waves.mentions_receive`, the intake of `POST /api/v1/mentions/`;
- incidents go through `incidents.filing.incident_file`, and what the tool later says
  about them through `incidents.services.incident_source_*`.

Shared: who is sending (`credentials.py`: a brand's integration key in a header, in
HTTP Basic, or as the last path segment, which never reaches a log), reading a body
and its fields with errors that name the sender's own field (`reading.py`), and the
one table of channels (`integrations/channels.py`). `samples.py` has one event per tool
in its documented shape, for the console's "send a test event".
"""
