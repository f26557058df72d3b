#!/usr/bin/env bash
# Differential test: runs tests/tests/differential.rs against a fresh Apache ZooKeeper 3.8
# (standalone, from Debian's `zookeeper` package) and Corral, comparing every reply.
#
# Usage: scripts/differential.sh [extra cargo test args...]
# Env:   DIFF_BLESS=1   rewrite the golden traces from ZooKeeper's answers
#        DIFF_OUT=dir   write every trace (zookeeper and corral) to dir
#        CARGO_TARGET_DIR is honoured; ZooKeeper's log is kept if the test fails.
set -euo pipefail

cd "$(dirname "$0")/.."
. scripts/zoo-cfg.sh

if ! [ -f /usr/share/java/zookeeper.jar ]; then
    echo "installing zookeeper from Debian" >&2
    apt-get install -y zookeeper >&2
fi

# zookeeper.jar's manifest carries its dependencies' Class-Path; slf4j-simple makes it log.
CP=/usr/share/java/zookeeper.jar
if [ -f /usr/share/java/slf4j-simple.jar ]; then
    CP="$CP:/usr/share/java/slf4j-simple.jar"
fi

four_letter() { # word port
    python3 - "$1" "$2" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=2)
    s.sendall(sys.argv[1].encode())
    out = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    sys.stdout.write(out.decode())
except OSError:
    sys.exit(1)
EOF
}

WORK=$(mktemp -d -t corral-differential.XXXXXX)
PORT=$(free_port)
mkdir -p "$WORK/data"
cat >"$WORK/zoo.cfg" <<EOF
tickTime=500
dataDir=$WORK/data
clientPort=$PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
EOF

java -cp "$CP" \
    -Dzookeeper.extendedTypesEnabled=true \
    '-Dzookeeper.4lw.commands.whitelist=*' \
    -Dznode.container.checkIntervalMs=200 \
    org.apache.zookeeper.server.ZooKeeperServerMain "$WORK/zoo.cfg" \
    >"$WORK/zookeeper.log" 2>&1 &
ZK_PID=$!

STATUS=1
cleanup() {
    kill "$ZK_PID" 2>/dev/null || true
    wait "$ZK_PID" 2>/dev/null || true
    if [ "$STATUS" -eq 0 ]; then
        rm -rf "$WORK"
    else
        echo "ZooKeeper's log and data kept in $WORK" >&2
    fi
}
trap cleanup EXIT

for _ in $(seq 1 150); do
    if four_letter srvr "$PORT" 2>/dev/null | grep -q '^Mode: standalone'; then
        break
    fi
    if ! kill -0 "$ZK_PID" 2>/dev/null; then
        echo "ZooKeeper exited early:" >&2
        cat "$WORK/zookeeper.log" >&2
        exit 1
    fi
    sleep 0.2
done
four_letter srvr "$PORT" | head -1 >&2

cargo build --bin corral
TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}")
set +e
CORRAL_BIN="$TARGET/debug/corral" ZK_REFERENCE="127.0.0.1:$PORT" \
    cargo test -p corral-tests --test differential "$@" -- --nocapture
STATUS=$?
set -e
exit "$STATUS"
