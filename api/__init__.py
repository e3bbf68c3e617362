"""FastAPI control API and operator dashboard (``greenwave serve``).

``api.main.create_app(settings)`` builds the application; nothing is created at import time.
"""
