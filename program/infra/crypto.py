"""Free text encrypted at rest: column types that encrypt on write and decrypt on read, and key rotation.

Reflections, check-in notes, exercise records, therapist notes and safety answers are stored as Fernet
tokens (AES-128-CBC with an HMAC-SHA256, authenticated). The keys live outside the database
(KINDRED_ENCRYPTION_KEYS, newest first): a copy of the database alone reveals none of the text. Every
process sets the keyring once, where it creates its engine; a column used before that fails loudly.

Nothing may sort or filter on these columns: the same text encrypts differently every time.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from typing_extensions import override

FERNET_KEY_BYTES = 32
# A random 32-byte key has about 30 distinct byte values; fewer than this means it was not drawn at random
# (all zeros, a repeated pattern, a short phrase padded out).
MIN_DISTINCT_KEY_BYTES = 16
ROTATION_BATCH = 200


class KeyringError(RuntimeError):
    """The encryption keys are missing or unusable; the message says what to change."""


class DecryptionError(RuntimeError):
    """A stored text cannot be decrypted with any configured key."""


def parse_keys(value: str) -> list[str]:
    """The comma-separated Fernet keys of a setting, newest first, each checked; raises ValueError."""
    keys = [key.strip() for key in value.split(",")]
    if not keys or any(not key for key in keys):
        raise ValueError("the encryption keys are a comma-separated list of Fernet keys with no empty entry")
    for position, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != FERNET_KEY_BYTES or base64.urlsafe_b64encode(raw).decode() != key:
            raise ValueError(
                f"encryption key {position} is not a Fernet key (32 bytes, URL-safe base64); "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
        if len(set(raw)) < MIN_DISTINCT_KEY_BYTES:
            raise ValueError(f"encryption key {position} is too regular to be random; generate a new one")
    if len(set(keys)) != len(keys):
        raise ValueError("an encryption key appears twice in the list")
    return keys


def new_key() -> str:
    """A fresh random Fernet key."""
    return Fernet.generate_key().decode()


_keyring: MultiFernet | None = None
_keys: tuple[str, ...] = ()


def configure(keys: Sequence[str]) -> None:
    """Set this process's keyring (newest key first): new text is encrypted with keys[0]."""
    global _keyring, _keys
    if tuple(keys) == _keys:
        return  # every page run calls this; the same keys need no new keyring
    _keyring = MultiFernet([Fernet(key) for key in parse_keys(",".join(keys))])
    _keys = tuple(keys)
    _changed()


def unconfigure() -> None:
    """Forget the keyring (tests of a process that has none)."""
    global _keyring, _keys
    _keyring, _keys = None, ()
    _changed()


_generation = 0


def _changed() -> None:
    global _generation
    _generation += 1


def generation() -> int:
    """A number that changes whenever the keyring does (the app checks it instead of re-reading keys)."""
    return _generation


def is_configured() -> bool:
    """Whether this process has a keyring."""
    return _keyring is not None


def keyring() -> MultiFernet:
    """The process's keyring; fails loudly when no engine-creating code has set it."""
    if _keyring is None:
        raise KeyringError(
            "no encryption keys are configured in this process (KINDRED_ENCRYPTION_KEYS); "
            "call program.infra.crypto.configure where the engine is created"
        )
    return _keyring


def encrypt(text: str) -> str:
    """The text as a Fernet token under the newest key."""
    return keyring().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The text of a token made under any configured key."""
    try:
        return keyring().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError) as error:
        raise DecryptionError(
            "A stored text cannot be decrypted with any of KINDRED_ENCRYPTION_KEYS. Was an old key dropped "
            "before `python -m program rotate-keys` re-encrypted everything under the new one?"
        ) from error


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; NULL stays NULL."""

    impl = sa.Text
    cache_ok = True

    @override
    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else encrypt(value)

    @override
    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as encrypted JSON text."""

    impl = sa.Text
    cache_ok = True

    @override
    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value, ensure_ascii=False))

    @override
    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Any:
        return None if value is None else json.loads(decrypt(value))


def encrypted_columns(metadata: sa.MetaData) -> list[tuple[str, str]]:
    """(table, column) of every encrypted column, in a fixed order."""
    return [
        (table.name, column.name)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText | EncryptedJSON)
    ]


@dataclass(frozen=True)
class Rotation:
    """What a rotation re-encrypted."""

    values: int
    changed_meanwhile: int


def rotate_all(engine: Engine, metadata: sa.MetaData, *, batch: int = ROTATION_BATCH) -> Rotation:
    """Re-encrypt every stored value under the newest key, a batch per write transaction.

    A value the app changed between our read and our write is left as the app wrote it (the app encrypts
    with the newest key too, once it runs with the new list).
    """
    from program.infra.db import (
        write_session,  # program.infra.db imports nothing of ours; keep this module light
    )

    ring = keyring()
    values = changed = 0
    for table_name, column_name in encrypted_columns(metadata):
        raw = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column_name, sa.Text))
        column = raw.c[column_name]
        last_id = 0
        while True:
            with write_session(engine) as session:
                rows = session.execute(
                    sa.select(raw.c.id, column)
                    .where(raw.c.id > last_id, column.is_not(None))
                    .order_by(raw.c.id)
                    .limit(batch)
                ).all()
                for row_id, token in rows:
                    try:
                        rotated = ring.rotate(token.encode("ascii")).decode("ascii")
                    except InvalidToken as error:
                        raise DecryptionError(
                            f"{table_name}.{column_name} of row {row_id} cannot be decrypted with any "
                            "configured key; nothing of this batch was changed"
                        ) from error
                    unchanged = sa.and_(raw.c.id == row_id, column == token)
                    result = session.execute(sa.update(raw).where(unchanged).values({column_name: rotated}))
                    values += 1
                    changed += 1 - result.rowcount  # type: ignore[attr-defined]
            if len(rows) < batch:
                break
            last_id = rows[-1][0]
    return Rotation(values=values, changed_meanwhile=changed)
