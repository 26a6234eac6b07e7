"""Publishers, their namespaces, trusted signers and API tokens."""
