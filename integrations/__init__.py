"""
The outside world's shapes, both ways: inbound adapters (listening tools' webhooks,
PagerDuty/Alertmanager/Grafana-compatible endpoints), pulled sources, and chat
(Telegram, Slack: sending, buttons, linking).

Adapters translate foreign shapes into calls of our services and our notifications
into chat messages; this package may import `incidents/` and everything below it, and
nothing below imports it (DESIGN.md, "Layout"). Empty until the first adapter lands.
"""
