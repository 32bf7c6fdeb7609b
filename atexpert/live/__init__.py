"""The live feed of a session for the consoles: fold, presence, claims, views."""
