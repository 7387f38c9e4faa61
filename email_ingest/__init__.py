"""Reads the contact centre's mailbox and stores each message exactly once."""
