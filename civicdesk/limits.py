"""Input limits: the most civicdesk accepts in each kind of field, whichever door the text comes in by (the
internal API, Open311, the console, the chat). One table, listed in README ("Input limits"); every door reads
its maxima from here, so a description cannot be longer by Open311 than by the chat.

Why limits at all: stored text is read back by people and by regular expressions (privacy redaction, Open311's
public text); a cap keeps both fast and keeps one request from filling the disk.
"""

from __future__ import annotations

from typing import Final

# Characters, per field.
LIMITS: Final[dict[str, int]] = {
    "name": 200,  # a person's name, a first or last name
    "email": 254,  # RFC 5321's longest forward path
    "phone": 40,
    "address": 300,  # a street address or a place described in words
    "postal_code": 10,
    "code": 64,  # service, appointment type, location, event and form codes
    "short": 300,  # labels, subjects, references, a single-line answer
    "description": 4000,  # a service request's description, its resolution, an agent's note
    "chat_message": 2000,  # one chat message or end-of-chat comment
    "search_query": 500,  # a knowledgebase or catalogue search
    "email_text": 8000,  # an agent's reply to an email case
    "article_body": 20000,  # a knowledgebase article's body in the console editor
    "attribute": 500,  # one answer to a service's question (Open311 attribute)
    "language": 8,  # a language tag (en, fr-CA)
    "identifier": 200,  # an app's api_key, device, account or address id (Open311)
    "number": 40,  # a number sent as text (Open311's lat and long)
    "url": 255,  # a link an app sends (Open311's media_url, kept as an attachment's name)
    "assignee": 120,  # who a request is assigned to, as an agent types it
    "article_field": 500,  # one line of a knowledgebase article in the console editor (title, tags, link)
    "password": 1024,
}

# Bytes in one HTTP request body, whichever route: checked while the body is read, before it is parsed.
MAX_BODY_BYTES: Final = 1_000_000
# Fields in one submitted form (Starlette's parser refuses more, and says so here).
MAX_FORM_FIELDS: Final = 500
