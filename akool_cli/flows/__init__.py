"""Use cases: pay (the one spending gate), submit, wait, fetch, batch. They take the few dependencies they need
(client, history, uploader, clock, settings, an `Events` sink) and never print.
May import `core`, `api`, `store` and `pricing`; never `output`, `commands` or the app."""
