"""The X API edge: tweepy routed to the configured base URL, host accounts, spend."""
