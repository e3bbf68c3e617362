"""FastAPI control API and operator dashboard.

Not built yet: see the API issue.
"""
