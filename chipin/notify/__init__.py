"""Outbound: the dispatcher that sends outbox rows through the channel adapters."""
