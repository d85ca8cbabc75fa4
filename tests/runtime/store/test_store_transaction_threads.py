"""A transaction belongs to the thread that opened it: another thread of the same process that
appends to the audit log meanwhile (an execution recording a read while a request thread holds
a transaction) waits for it and then extends the chain, never writing beside it from a stale head
(both stores: the server's threads share one store object)."""

import threading

from datastation.runtime import keys
from datastation.runtime.audit import AuditLog, verify_log
from datastation.runtime.store import open_store


def test_an_append_from_another_thread_waits_for_the_open_transaction(config):
    store = open_store(config)
    try:
        key = keys.generate_key()
        log = AuditLog(store, key)
        log.append("approval", actor="a", contract="c1", payload={"i": 0})
        inside, done = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def holder():
            with store.transaction():
                log.append("approval", actor="a", contract="c1", payload={"i": 1})
                inside.set()
                done.wait(0.5)  # the other thread appends now, while this transaction is open

        def appender():
            inside.wait(10)
            try:
                assert not store.in_transaction  # not this thread's transaction
                log.append("data_read", actor="b", contract="c1", payload={"i": 2})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                done.set()

        threads = [threading.Thread(target=holder), threading.Thread(target=appender)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        result = verify_log(store, key.public_key())
        assert result.ok, result
        kinds = [e.kind for e in store.audit_entries()]
        assert kinds[-3:] == ["approval", "approval", "data_read"]
    finally:
        store.close()
