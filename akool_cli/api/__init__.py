"""Talking to Akool (and the storage behind uploads): the HTTP client, API objects, lists the service sends,
network settings, webhook crypto. May import `core` only; never prints."""
