"""
Pulled sources: listening tools that never push (Brand Analytics, Talkwalker, a generic
JSON feed; Brandwatch and Mention.com later on the same machinery), polled by the desk.

- `models.py` — `Source`: a brand's tool, its query, its encrypted credentials, its cursor
  and the poll's timer (`next_poll_at`, a due column like the clock's, DESIGN.md rule 7).
- `credentials.py` — credentials sealed with Fernet under `SOURCE_CREDENTIALS_KEY`.
- `pollers/` — one module per tool: how to ask it for the next page after a cursor and
  how its messages map onto our mentions. A new tool is a new module registered there.
- `polling.py` — claiming due sources (the sweeper) and running one poll: fetch through
  the guarded transport, then store the page through the same intake as
  `POST /api/v1/mentions/` and move the cursor in the same transaction.
- `services.py` — creating, changing and removing sources (API, console and admin alike).
- `tasks.py` — the beat sweeper and the poll task, on the `sources` queue.
"""
