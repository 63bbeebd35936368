"""Dataset rows: reading, writing, layouts and prompts."""
