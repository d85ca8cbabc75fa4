"""Streaming AES-256-GCM: round trips and every kind of tampering."""

import io
import os

import pytest

from datastation.runtime.crypto import CryptoError, NotEncrypted, decrypt_bytes, encrypt_bytes, encrypt_stream
from datastation.runtime.crypto.stream import TAG, read_header

KEY = bytes(range(32))
OTHER = bytes(32)
CHUNK = 64


def key_for(kid):
    assert kid == "alice/1"
    return KEY


def enc(data, chunk=CHUNK):
    return encrypt_bytes(data, KEY, "alice/1", chunk)


def split(blob):
    header, chunk_size, _, _ = read_header(io.BytesIO(blob))
    body = blob[len(header):]
    step = chunk_size + TAG
    return header, [body[i:i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 7])
def test_round_trip(size):
    data = os.urandom(size)
    blob = enc(data)
    assert size < 16 or data not in blob
    assert decrypt_bytes(blob, key_for) == data


def test_multi_chunk_uses_bounded_chunks():
    data = os.urandom(10 * CHUNK + 3)
    header, chunks = split(enc(data))
    assert len(chunks) == 11
    assert all(len(c) == CHUNK + TAG for c in chunks[:-1])


def test_large_stream_round_trip_default_chunk():
    data = os.urandom((1 << 20) * 2 + 5)
    out = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), out, KEY, "alice/1") == len(data)
    assert decrypt_bytes(out.getvalue(), key_for) == data


def test_same_plaintext_encrypts_differently():
    assert enc(b"x" * 100) != enc(b"x" * 100)


def test_wrong_key():
    with pytest.raises(CryptoError, match="chunk 0"):
        decrypt_bytes(enc(b"secret" * 40), lambda kid: OTHER)


def tamper_cases():
    data = os.urandom(4 * CHUNK + 10)
    blob = enc(data)
    header, chunks = split(blob)
    flipped = bytearray(blob)
    flipped[len(header) + CHUNK + 5] ^= 1
    flipped_header = bytearray(blob)
    flipped_header[20] ^= 1
    return {
        "truncated_tail_bytes": blob[:-5],
        "truncated_at_chunk_boundary": header + b"".join(chunks[:-1]),
        "only_header": header,
        "modified_byte": bytes(flipped),
        "modified_header_salt": bytes(flipped_header),
        "reordered_chunks": header + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "duplicated_chunk": header + chunks[0] + b"".join(chunks),
        "dropped_middle_chunk": header + chunks[0] + b"".join(chunks[2:]),
        "appended_garbage": blob + b"\0" * (CHUNK + TAG),
    }


@pytest.mark.parametrize("case", sorted(tamper_cases()))
def test_tampering_is_detected(case):
    blob = tamper_cases()[case]
    with pytest.raises(CryptoError):
        decrypt_bytes(blob, key_for)


def test_chunks_cannot_move_between_files():
    a, b = enc(os.urandom(3 * CHUNK)), enc(os.urandom(3 * CHUNK))
    ha, ca = split(a)
    hb, cb = split(b)
    with pytest.raises(CryptoError):
        decrypt_bytes(ha + ca[0] + cb[1] + ca[2], key_for)


def test_plaintext_is_refused_clearly():
    with pytest.raises(NotEncrypted):
        decrypt_bytes(b"id,amount\n1,2\n", key_for)
