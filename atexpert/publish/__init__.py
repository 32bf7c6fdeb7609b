"""Publishing: approved answers become reply threads on X."""
