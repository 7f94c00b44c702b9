"""
Chat where the team already is (API.md, "Chat"): Telegram now, Slack later on the same design.

- `client.py`: a thin synchronous Bot API client over the guarded transport;
- `models.py`: linked people and group chats, one-time link codes, each incident's message per chat;
- `linking.py`: making and using link codes;
- `cards.py`: what a message says (in the reader's language) and its buttons;
- `telegram.py`: the outbox's channel adapter, and the timeline listener that posts a
  brand's incidents to its group chats;
- `updates.py`: what the bot hears (webhook or long polling): `/start <code>`, button presses;
- `api.py`: the endpoints.
"""
