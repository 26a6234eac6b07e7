"""Publishers, their namespaces, trusted signers and API tokens."""

__all__: list[str] = []
