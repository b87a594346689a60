#!/bin/sh
# Smoke test of the VM's kernel TLS with a peer that is not corio: OpenSSL's s_server and
# s_client over loopback, TLS 1.2 and 1.3, with kTLS on. Run it in the VM:
#   scripts/vm-run.sh -- scripts/vm/ktls-check.sh
# Debian's OpenSSL 3.0 has no -ktls switch (that came in 3.2): kTLS is turned on with
# "Options = KTLS" in the SSL configuration, here a config file of our own
# (OPENSSL_CONF). s_client reports "Using Kernel TLS for sending/receiving"; -WWW with
# -sendfile makes s_server send a file with SSL_sendfile, which needs kTLS for sending.
# Prints /proc/net/tls_stat before and after each handshake; exits non-zero when a
# connection fails or no direction used kTLS.
set -eu
work="$(mktemp -d /tmp/ktls-check.XXXXXX)"
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
  -subj /CN=localhost >/dev/null 2>&1
cat >ktls.cnf <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = KTLS
EOF
export OPENSSL_CONF="$work/ktls.cnf"
echo "hello from kTLS sendfile" >index.txt

port=4433
failed=0
stat() { grep -E '^Tls(Curr)?(Tx|Rx)(Sw|Device)' /proc/net/tls_stat | tr -s ' \t' ' ' | paste -sd' '; }

# $1: -tls1_2 or -tls1_3; $2: -www or -WWW; $3: the request path
check() {
  ver="$1" mode="$2" path="$3"
  port=$((port + 1))
  set -- -accept "127.0.0.1:$port" -cert cert.pem -key key.pem "$ver" "$mode"
  [ "$mode" = -WWW ] && set -- "$@" -sendfile
  openssl s_server "$@" >server.log 2>&1 &
  spid=$!
  i=0
  while ! grep -q ACCEPT server.log 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
  done
  printf 'GET /%s HTTP/1.0\r\n\r\n' "$path" |
    openssl s_client "$ver" -connect "127.0.0.1:$port" -ign_eof >client.log 2>&1 || failed=1
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  echo "== openssl s_server $ver $mode${path:+ (GET /$path)}"
  # s_client's own lines (the rest of client.log is s_server's -www page or the file).
  grep -E 'Kernel TLS|^New, |hello from' client.log | sed 's/^/   s_client: /' || true
  grep -E 'Kernel TLS|KTLS' server.log | sed 's/^/   s_server: /' || true
  grep -q 'Kernel TLS' client.log || grep -q 'KTLS SENDFILE' server.log || failed=1
  echo "   tls_stat after: $(stat)"
}

echo "kernel $(uname -r); $(openssl version)"
echo "tcp_available_ulp: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
echo "tls_stat before: $(stat)"
check -tls1_2 -www ""
check -tls1_3 -www ""
check -tls1_2 -WWW index.txt
check -tls1_3 -WWW index.txt
cd /
rm -rf "$work"
exit $failed
