# Sourced by the scripts that start a throwaway standalone server.
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
