"""
The web console for responders and managers: server-rendered pages with htmx.

Every action calls the same service as the API (`incidents.services`,
`crisis.services`); the console only renders and parses forms.
"""
