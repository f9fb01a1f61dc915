"""The Textual front end: renders records from the core and sends it the user's intents."""
