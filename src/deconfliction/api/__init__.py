"""The HTTP edge: FastAPI routers, request schemas, auth, limits, Problem Details."""
