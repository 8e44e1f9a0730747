"""Local stand-ins for the services the app talks to, for development and tests."""
