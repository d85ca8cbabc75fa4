"""Encryption at rest for no-trust mode: streamed AES-256-GCM, per-owner data keys wrapped by a KEK."""

from .codec import EncryptedCodec, PlainCodec, storage_codec
from .keystore import ESCROW_OWNER, Kek, KeyStore, generate_kek_file, load_kek, parse_kek
from .stream import (CryptoError, NotEncrypted, decrypt_bytes, decrypt_chunks, decrypt_stream,
                     encrypt_bytes, encrypt_stream, peek_key_id)

__all__ = [
    "CryptoError", "NotEncrypted", "EncryptedCodec", "PlainCodec", "ESCROW_OWNER", "Kek", "KeyStore",
    "generate_kek_file", "load_kek", "parse_kek", "encrypt_stream", "decrypt_stream", "decrypt_chunks",
    "encrypt_bytes", "decrypt_bytes", "peek_key_id", "storage_codec",
]
