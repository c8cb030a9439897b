"""The conversation: inbound message → group and member → parse → ledger → replies."""
