"""`dsc keys`: the key-encryption key and the per-owner data keys of no-trust mode.

`dsc keys init --kek-file PATH` makes a KEK; `dsc keys list` shows data key ids (never keys);
`dsc keys rotate --new-kek-file PATH` re-wraps every data key under a new KEK without
re-encrypting any data; `dsc keys rotate --owner AGENT` starts a new data key for new data;
`dsc keys decrypt FILE --as AGENT -o OUT` opens a released result sealed for AGENT.
"""

from __future__ import annotations

import os
from pathlib import Path

from datastation.runtime.config import ConfigError

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("keys", help="manage encryption keys (no-trust mode)",
                       description="Data elements are encrypted with per-owner data keys, wrapped by a "
                                   "key-encryption key (KEK) kept outside the escrow directory.")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    i = ksub.add_parser("init", help="generate a new KEK file (mode 0600)")
    i.add_argument("--kek-file", required=True, metavar="PATH", help="where to write the KEK (not beside the data)")
    i.set_defaults(func=_init)
    ls = ksub.add_parser("list", help="list the data key ids per owner")
    cs.add_config(ls)
    ls.set_defaults(func=_list)
    r = ksub.add_parser("rotate", help="re-wrap data keys under a new KEK, or start a new data key for an owner")
    grp = r.add_mutually_exclusive_group(required=True)
    grp.add_argument("--new-kek-file", metavar="PATH", help="the new KEK (created if --generate)")
    grp.add_argument("--new-kek-env", metavar="VAR", help="environment variable holding the new KEK")
    grp.add_argument("--owner", metavar="AGENT", help="start a new data key for AGENT's future data")
    r.add_argument("--generate", action="store_true", help="generate the new KEK file first")
    cs.add_config(r)
    r.set_defaults(func=_rotate)
    d = ksub.add_parser("decrypt", help="open a released result (no_trust outbox) with the recipient's key",
                        description="A result released in no_trust mode is sealed for its recipient: only "
                                    "the recipient's private key opens it (not the escrow's KEK).")
    d.add_argument("file", metavar="FILE", help="the outbox file, e.g. <outbox>/bank1/fraud_model-1a2b3c4d.json")
    d.add_argument("--as", "--for", dest="recipient", required=True, metavar="AGENT",
                   help="the recipient: its private key (from the keyring) opens the file")
    d.add_argument("--key-file", metavar="PEM", help="the recipient's private key file (default: the keyring's)")
    d.add_argument("--passphrase-env", metavar="VAR", help="environment variable holding the key's passphrase")
    d.add_argument("-o", "--output", metavar="OUT", required=True, help="where to write the plaintext (mode 0600)")
    cs.add_config(d)
    d.set_defaults(func=_decrypt)


def _keystore(args):
    from datastation.runtime.crypto import KeyStore, load_kek
    config = cs.load_config_from(args)
    return KeyStore(Path(config.datakeys_path), load_kek(config.kek)), config


def _init(args) -> int:
    from datastation.runtime.crypto import generate_kek_file

    try:
        kek = generate_kek_file(args.kek_file)
    except FileExistsError:
        return cs.fail(f"{args.kek_file} exists; refusing to overwrite a key")
    except OSError as exc:
        return cs.fail(f"cannot write {args.kek_file}: {exc.strerror}")
    print(f"wrote a new key-encryption key to {args.kek_file} (id {kek.kek_id}, mode 0600)")
    print("point the config at it:  kek: {file: " + str(Path(args.kek_file).resolve()) + "}")
    return 0


def _list(args) -> int:
    from datastation.runtime.crypto import CryptoError

    try:
        store, _ = _keystore(args)
    except (CryptoError, ConfigError) as exc:
        return cs.fail(str(exc))
    print(f"key store {store.path} (KEK id {store.kek.kek_id})")
    for owner in store.owners():
        entry = store._doc["owners"][owner]
        print(f"  {owner}: {len(entry['keys'])} key(s), active {entry['active']}")
    return 0


def _rotate(args) -> int:
    from datastation.runtime.crypto import CryptoError, generate_kek_file, load_kek

    try:
        store, config = _keystore(args)
        if args.owner:
            kid, _ = store.new_data_key(args.owner)
            print(f"new data key {kid} for {args.owner}: new data uses it, older data stays readable")
            return 0
        if args.new_kek_file:
            if args.generate:
                generate_kek_file(args.new_kek_file)
            new = load_kek({"file": args.new_kek_file})
        else:
            if args.generate:
                return cs.fail("--generate works with --new-kek-file only")
            new = load_kek({"env": args.new_kek_env})
        if new.kek_id == store.kek.kek_id:
            return cs.fail("the new key-encryption key is the current one")
        count = store.rotate_kek(new)
    except FileExistsError:
        return cs.fail(f"{args.new_kek_file} exists; drop --generate to use it as the new KEK")
    except (CryptoError, ConfigError) as exc:
        return cs.fail(str(exc))
    where = f"file: {Path(args.new_kek_file).resolve()}" if args.new_kek_file else f"env: {args.new_kek_env}"
    print(f"re-wrapped {count} data key(s) under the new KEK (id {new.kek_id}); no data was re-encrypted")
    print(f"now set in {config.source or 'the config'}:  kek: {{{where}}}  and retire the old KEK")
    return 0


def _decrypt(args) -> int:
    from datastation.runtime.crypto import CryptoError
    from datastation.runtime.crypto.results import open_result
    from datastation.runtime.keyfile import is_encrypted, load_private_key_file
    from datastation.runtime.keyring import Keyring, passphrase_for
    from datastation.runtime.keys import KeysError

    try:
        config = cs.settings_from(args)
        blob = Path(args.file).read_bytes()
        if args.key_file:
            path = Path(args.key_file)
            protected = is_encrypted(path.read_bytes()[:64])
            passphrase = passphrase_for(args.recipient, args.passphrase_env) if protected else None
            key = load_private_key_file(path, passphrase, what=f"private key of {args.recipient}")
        else:
            key = Keyring(config.keyring_path).load(args.recipient, passphrase_env=args.passphrase_env)
        data = open_result(config, blob, args.recipient, key)
    except OSError as exc:
        return cs.fail(f"cannot read {exc.filename or args.file}: {exc.strerror}")
    except (CryptoError, ConfigError, KeysError) as exc:
        return cs.fail(str(exc))
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        return cs.fail(f"cannot write {args.output}: {exc.strerror}")
    print(f"wrote {len(data)} bytes to {args.output}")
    return 0
