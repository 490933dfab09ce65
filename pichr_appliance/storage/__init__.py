"""Storage backends: the contract and the built-in local-disk backend."""

from .base import ObjectNotFound, StorageBackend, StorageError, check_key
from .local import LocalStorage

__all__ = ["LocalStorage", "ObjectNotFound", "StorageBackend", "StorageError", "check_key"]
