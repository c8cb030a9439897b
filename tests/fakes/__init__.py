"""Local fakes of the providers Chipin talks to, for tests that use the real client libraries."""
