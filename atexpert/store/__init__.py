"""Redis: the atomic Lua steps with their events, the key layout, the stores."""
