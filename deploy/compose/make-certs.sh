#!/bin/sh
# The compose stack's private CA and the Kafka nodes' certificate (run once; again to renew).
#   sh deploy/compose/make-certs.sh        → deploy/compose/certs/{ca.crt,ca.key,kafka.pem}
# Services trust ca.crt; keep ca.key off the machine once done (it only signs).
set -eu
cd "$(dirname "$0")"
mkdir -p certs
cd certs
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:4096 -sha256 -nodes -days 3650 \
    -keyout ca.key -out ca.crt -subj "/CN=Hospeda compose CA"
fi
openssl req -newkey rsa:2048 -sha256 -nodes -keyout kafka.key -out kafka.csr -subj "/CN=hospeda-kafka"
printf 'subjectAltName=DNS:kafka-1,DNS:kafka-2,DNS:kafka-3,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > kafka.ext
openssl x509 -req -in kafka.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
  -extfile kafka.ext -out kafka.crt
# Kafka's PEM keystore: the PKCS#8 key, then the certificate chain
cat kafka.key kafka.crt ca.crt > kafka.pem
rm -f kafka.csr kafka.ext kafka.key kafka.crt ca.srl
chmod 644 ca.crt kafka.pem  # read by the containers' own users
echo "certificates in $(pwd)"
