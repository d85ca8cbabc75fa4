"""User functions for the language server tests."""


def fraud_model(train: list, label: str):
    """Train a fraud classifier on the concatenated tables."""
    return None


def join_users(left, right, on: str):
    """Join two user tables on a shared column."""
    return None
