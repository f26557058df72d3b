# Sourced by the scripts that build and start throwaway servers.
#
# write_zoo_cfg FILE DATA_DIR PORT [LINE...]: a zoo.cfg for one server on 127.0.0.1:PORT with
# its data in DATA_DIR, no connection limit, and any further LINEs (key=value) appended.
write_zoo_cfg() {
    local file="$1" dir="$2" port="$3"
    shift 3
    {
        echo "tickTime=2000"
        echo "dataDir=$dir"
        echo "clientPort=$port"
        echo "clientPortAddress=127.0.0.1"
        echo "maxClientCnxns=0"
        for line in "$@"; do echo "$line"; done
    } >"$file"
}

# cargo_target_dir: where cargo puts this workspace's builds (CARGO_TARGET_DIR respected).
cargo_target_dir() {
    cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# free_port: a loopback TCP port that nothing listens on at this moment.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_server PID: stops a server started in the background and reaps it; nothing for an
# empty PID.
stop_server() {
    if [ -n "$1" ]; then
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
    fi
}
