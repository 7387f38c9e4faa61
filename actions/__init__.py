"""Custom actions for the civicdesk assistant.

Run from the repo root in the engine environment:
    bot/.venv/bin/rasa run actions --actions actions

Actions are thin adapters: the knowledge, the service requests and the hand-off rules live in
the core web app and are reached through its HTTP API (`actions.clients.core`).
"""
