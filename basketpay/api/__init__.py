"""The HTTP API: the FastAPI application, its middleware, error handling and shared dependencies."""
