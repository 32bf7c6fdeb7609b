"""The Starlette app: JSON API, pages, websocket, and the workers it runs."""
