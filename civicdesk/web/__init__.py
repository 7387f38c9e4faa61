"""The core web app: HTTP API, health, and (later) the chat gateway and agent console."""
