#!/usr/bin/env bash
# Makes the TLS tests' throwaway certificates in DIR with the openssl command (never
# committed): a CA; a server certificate for localhost, 127.0.0.1 and ::1; a client
# certificate (mutual TLS); one that expired in 2020; and a server certificate from a
# second CA nobody trusts.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
csr() {  # name subject
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "$2"
}
cat > server.ext <<'X'
basicConstraints=CA:FALSE
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth
X
cat > client.ext <<'X'
basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth
X
sign() {  # name ca ext
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 30 \
    -extfile "$3" -out "$1.pem" 2>/dev/null
}
ca ca /CN=corio-test-ca
ca other-ca /CN=corio-untrusted-ca
csr server /CN=localhost
sign server ca server.ext
csr client /CN=corio-test-client
sign client ca client.ext
csr other /CN=localhost
sign other other-ca server.ext
# `openssl x509` cannot date a certificate in the past; `openssl ca` can.
mkdir -p ca-db
: > ca-db/index.txt
echo 1000 > ca-db/serial
cat > ca.cnf <<'X'
[ca]
default_ca = test
[test]
dir = ca-db
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
X
csr expired /CN=localhost
openssl ca -batch -config ca.cnf -startdate 20200101000000Z -enddate 20200102000000Z \
  -extfile server.ext -in expired.csr -out expired.pem -notext 2>/dev/null
