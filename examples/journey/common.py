"""What the five demo services share: where the others listen (from the environment)."""
import os


def url(name: str) -> str:
    """Base URL of another demo service, e.g. url("auth") -> http://127.0.0.1:8101."""
    return os.environ[f"JOURNEY_{name.upper()}_URL"]
