"""Entry points for people: the web playground (and, as it lands, the operators' dashboard)."""
