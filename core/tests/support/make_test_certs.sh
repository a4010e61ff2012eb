#!/usr/bin/env bash
# Test certificates for the HTTPS tests, made with the openssl CLI in DIR (P-256, 2 days):
#   ss.pem/ss.key      self-signed, for IP 127.0.0.2 (a camera's own certificate)
#   ca.pem/ca.der      a site CA; ok.pem/ok.key for 127.0.0.2 and wrong.pem/wrong.key for
#                      127.0.0.9, both signed by it
# Usage: make_test_certs.sh DIR
set -euo pipefail
cd "$1"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2)
openssl req -x509 "${ec[@]}" -keyout ss.key -out ss.pem -subj /CN=camera \
  -addext subjectAltName=IP:127.0.0.2 2>/dev/null
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -subj /CN=site-ca 2>/dev/null
openssl x509 -in ca.pem -outform der -out ca.der
for leaf in ok:127.0.0.2 wrong:127.0.0.9; do
  name=${leaf%%:*} ip=${leaf#*:}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$name.key" -out "$name.csr" -subj /CN=camera 2>/dev/null
  printf 'subjectAltName=IP:%s\n' "$ip" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out "$name.pem" -days 2 -extfile "$name.ext" 2>/dev/null
done
