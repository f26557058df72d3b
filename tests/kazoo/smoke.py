#!/usr/bin/env python3
"""Kazoo smoke test: a real third-party client against a freshly spawned corral.

Starts target/debug/corral (or $CORRAL_BIN) on a free port with a temporary dataDir, then runs
create / get / set / delete, a child watch, an ephemeral node, and kazoo's Lock and Election
recipes, asserting each result.
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError, BadVersionError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir, port):
    binary = os.environ.get("CORRAL_BIN", os.path.join(ROOT, "target", "debug", "corral"))
    cfg = os.path.join(data_dir, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(f"tickTime=500\ndataDir={data_dir}\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                "4lw.commands.whitelist=ruok\n")
    proc = subprocess.Popen([binary, "--config", cfg], stderr=open(os.path.join(data_dir, "log"), "w"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"ruok")
                if s.recv(4) == b"imok":
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("corral did not start")


def client(port):
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=4)
    zk.start(timeout=5)
    return zk


def main():
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        proc = start_server(data_dir, port)
        try:
            run(port)
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0, "corral did not exit 0 on SIGTERM"
    print("kazoo smoke: ok")


def run(port):
    zk = client(port)
    zk.create("/smoke", b"v1")
    data, stat = zk.get("/smoke")
    assert data == b"v1" and stat.version == 0 and stat.dataLength == 2, (data, stat)
    try:
        zk.create("/smoke", b"again")
        raise AssertionError("duplicate create succeeded")
    except NodeExistsError:
        pass
    stat = zk.set("/smoke", b"v2", version=0)
    assert stat.version == 1
    try:
        zk.set("/smoke", b"v3", version=0)
        raise AssertionError("stale version accepted")
    except BadVersionError:
        pass

    fired = threading.Event()
    seen = []

    def on_children(event):
        seen.append(event)
        fired.set()

    assert zk.get_children("/smoke", watch=on_children) == []
    zk.create("/smoke/child", b"")
    assert fired.wait(5), "child watch did not fire"
    assert seen[0].type == "CHILD" and seen[0].path == "/smoke", seen

    other = client(port)
    other.create("/smoke/eph", b"", ephemeral=True)
    assert zk.exists("/smoke/eph") is not None
    other.stop()
    other.close()
    assert zk.exists("/smoke/eph") is None, "ephemeral survived its session"

    lock_holders = []

    def contend(name):
        c = client(port)
        with c.Lock("/smoke-lock", name):
            lock_holders.append(("in", name))
            time.sleep(0.1)
            lock_holders.append(("out", name))
        c.stop()
        c.close()

    threads = [threading.Thread(target=contend, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(lock_holders) == 6, lock_holders
    for i in range(0, 6, 2):
        assert lock_holders[i][0] == "in" and lock_holders[i + 1] == ("out", lock_holders[i][1]), lock_holders

    leader = []
    election = zk.Election("/smoke-election", "me")
    t = threading.Thread(target=election.run, args=(lambda: leader.append("me"),))
    t.start()
    t.join(10)
    assert leader == ["me"], leader

    zk.delete("/smoke", recursive=True)
    try:
        zk.get("/smoke")
        raise AssertionError("deleted node still readable")
    except NoNodeError:
        pass
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
