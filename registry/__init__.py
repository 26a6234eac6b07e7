"""The registry server (Litestar); built in a later step of the project."""

__all__: list[str] = []
