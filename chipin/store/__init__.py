"""Persistence: SQLAlchemy tables, engine set-up, the unit of work and the repositories."""

# Table modules beyond tables.py register on the shared metadata when imported; importing them
# here means every user of the store (migrations, tests, the app) sees the whole schema.
from chipin.store import admin_tables as admin_tables
from chipin.store import phones as phones
from chipin.store import schedule as schedule
