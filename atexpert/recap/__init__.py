"""After a session: the public recap, analytics, charts, exports and import."""
