"""The registry's domain packages: each has schemas (wire types), services and controllers."""

__all__: list[str] = []
