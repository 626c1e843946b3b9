#!/usr/bin/env bash
# Runs a command next to a throwaway redis-server on loopback, then stops it.
#
#   bash tests/redis/with-redis.sh <command> [args...]
#
# Installs Debian's redis-server if it is missing, starts one instance with persistence
# off on a free port (plain) and a second free port (TLS, throwaway CA), with an ACL user
# besides the default one, and exports to the command:
#   COBO_OAUTH_REDIS_URL      redis://127.0.0.1:PORT/            (default user, no password)
#   COBO_OAUTH_REDIS_ACL_URL  redis://cobo:PASSWORD@127.0.0.1:PORT/
#   COBO_OAUTH_REDISS_URL     rediss://127.0.0.1:TLS_PORT/       (server cert for 127.0.0.1, localhost)
#   COBO_OAUTH_REDIS_CA_FILE  the CA (PEM) that signed the TLS certificate
#   COBO_OAUTH_REDIS_SERVER   absolute path of redis-server, for tests that run their own
# Redis is stopped and its directory removed on exit, whatever the command's outcome;
# the script exits with the command's status (1 or 2 if redis could not be set up).

set -uo pipefail

ACL_USER=cobo
START_TIMEOUT_SECS=15

die() {
    echo "with-redis: $*" >&2
    exit 2
}

[ $# -ge 1 ] || die "usage: bash tests/redis/with-redis.sh <command> [args...]"

# ---- install -------------------------------------------------------------------------

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "redis-server is not installed and installing it needs root (or passwordless sudo): apt-get install redis-server"
    fi
}

# Installs redis-server without leaving Debian's service running: a policy-rc.d that
# refuses service starts (unless one exists), RUNLEVEL=1, and any redis-server that
# appeared during the install is stopped by its pid.
install_redis() {
    command -v apt-get >/dev/null 2>&1 || die "redis-server is not on PATH and apt-get is not available"
    echo "with-redis: installing redis-server from Debian" >&2
    local before policy_added=""
    before=" $(pgrep -x redis-server | tr '\n' ' ') "
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d' \
            && policy_added=1
    fi
    local install=(env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1
        apt-get install -y -q --no-install-recommends redis-server)
    if ! as_root "${install[@]}" >&2; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        as_root "${install[@]}" >&2
    fi
    local installed=$?
    [ -n "$policy_added" ] && as_root rm -f /usr/sbin/policy-rc.d
    local pid
    for pid in $(pgrep -x redis-server); do
        case "$before" in
            *" $pid "*) ;;
            *) echo "with-redis: stopping the redis-server the install started (pid $pid)" >&2
               as_root kill "$pid" ;;
        esac
    done
    [ "$installed" -eq 0 ] || die "apt-get install redis-server failed"
}

command -v redis-server >/dev/null 2>&1 || install_redis
REDIS_SERVER=$(command -v redis-server) || die "redis-server is still not on PATH after installing it"
# Not resolved through symlinks: Debian's redis-server is a link to redis-check-rdb,
# which picks its role from the name it was started by.
case "$REDIS_SERVER" in /*) ;; *) REDIS_SERVER="$PWD/$REDIS_SERVER" ;; esac
command -v openssl >/dev/null 2>&1 || die "openssl is needed for the TLS port's certificates"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to pick free ports"

# ---- state and cleanup ---------------------------------------------------------------

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cobo-redis.XXXXXX") || die "cannot make a temporary directory"
REDIS_PID=""

stop_redis() {
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill "$REDIS_PID" 2>/dev/null
        local i
        for i in $(seq 50); do
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    REDIS_PID=""
    rm -rf "$DIR"
}

trap 'status=$?; stop_redis; exit $status' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- certificates ----------------------------------------------------------------------

# A CA and a server certificate for 127.0.0.1 and localhost, with the extensions that
# strict verifiers (webpki/rustls) require.
make_certs() {
    cat > "$DIR/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    cat > "$DIR/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$DIR/ca.key" -out "$DIR/ca.pem" -days 2 -subj "/CN=cobo-oauth test redis CA" \
        -extensions v3_ca -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\n'; cat "$DIR/ca.ext") \
        && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$DIR/server.key" -out "$DIR/server.csr" -subj "/CN=localhost" \
        && openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
            -CAcreateserial -out "$DIR/server.pem" -days 2 -extfile "$DIR/server.ext"
}

make_certs >"$DIR/openssl.log" 2>&1 || { cat "$DIR/openssl.log" >&2; die "openssl could not make the test certificates"; }

# ---- start -----------------------------------------------------------------------------

# Two distinct free loopback ports (both sockets are held until both are known).
read -r PORT TLS_PORT < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])
') || die "cannot pick free ports"
PASSWORD=$(openssl rand -hex 24) || die "openssl rand failed"

"$REDIS_SERVER" \
    --bind 127.0.0.1 --port "$PORT" --daemonize no \
    --save "" --appendonly no --dir "$DIR" --logfile "$DIR/redis.log" \
    --user "$ACL_USER" on ">$PASSWORD" '~*' '&*' '+@all' \
    --tls-port "$TLS_PORT" --tls-cert-file "$DIR/server.pem" --tls-key-file "$DIR/server.key" \
    --tls-ca-cert-file "$DIR/ca.pem" --tls-auth-clients no \
    </dev/null >"$DIR/stdout.log" 2>&1 &
REDIS_PID=$!

# PING over plain TCP: redis-cli when present, otherwise bash's /dev/tcp.
ping_redis() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = PONG ]
    else
        local reply
        { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
        printf 'PING\r\n' >&3
        read -r -t 1 reply <&3
        exec 3>&-
        [ "${reply%$'\r'}" = "+PONG" ]
    fi
}

deadline=$((SECONDS + START_TIMEOUT_SECS))
until ping_redis; do
    if ! kill -0 "$REDIS_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "with-redis: redis-server did not answer PING on 127.0.0.1:$PORT; its log:" >&2
        cat "$DIR/stdout.log" "$DIR/redis.log" >&2 2>/dev/null
        exit 1
    fi
    sleep 0.1
done

# ---- run -------------------------------------------------------------------------------

export COBO_OAUTH_REDIS_URL="redis://127.0.0.1:$PORT/"
export COBO_OAUTH_REDIS_ACL_URL="redis://$ACL_USER:$PASSWORD@127.0.0.1:$PORT/"
export COBO_OAUTH_REDISS_URL="rediss://127.0.0.1:$TLS_PORT/"
export COBO_OAUTH_REDIS_CA_FILE="$DIR/ca.pem"
export COBO_OAUTH_REDIS_SERVER="$REDIS_SERVER"

"$@"
exit $?
