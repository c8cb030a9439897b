"""Periodic jobs: budgets and projections, digests, reminders, recurring expenses."""
