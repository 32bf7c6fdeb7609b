"""The domain: pydantic models, state machines, X's text rules; pure, no I/O."""
