"""Custom Rasa NLU components of the civicdesk assistant (named in bot/config.yml by module path)."""
