"""One adapter per provider: inbound normalisation and outbound sending."""
