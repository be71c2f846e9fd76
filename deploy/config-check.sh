#!/usr/bin/env bash
# The operator's kit checked by the tools that will load it, without starting anything:
#   nginx -t                  deploy/nginx/giftcast.conf as nginx loads it from sites-enabled:
#                             a wrapper nginx.conf in a temporary prefix includes it inside
#                             `http {}`, its snippet beside it, a throwaway self-signed
#                             certificate at the placeholder's paths;
#   systemd-analyze verify    every unit in deploy/systemd, with /srv/giftcast pointing at
#                             stand-ins for the release's daphne and python.
# Each is skipped, saying so, where its tool is not installed (apt-get install nginx;
# systemd). Nothing outside a temporary folder is written. deploy/release-check.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tool() { command -v "$1" || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || true; }

nginx=$(tool nginx)
if [ -z "$nginx" ]; then
  echo "nginx is not installed: deploy/nginx/giftcast.conf not checked (apt-get install nginx)"
else
  command -v openssl >/dev/null || { echo "openssl is needed for a throwaway certificate"; exit 1; }
  mkdir -p "$tmp/nginx/snippets"
  cp deploy/nginx/giftcast-proxy.conf "$tmp/nginx/snippets/"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=giftcast.example.com \
    -keyout "$tmp/nginx/privkey.pem" -out "$tmp/nginx/fullchain.pem" 2>/dev/null
  sed "s#/etc/ssl/giftcast/#$tmp/nginx/#g" deploy/nginx/giftcast.conf >"$tmp/nginx/giftcast.conf"
  mime=/etc/nginx/mime.types
  if [ ! -f "$mime" ]; then
    mime="$tmp/nginx/mime.types"
    echo "types { text/html html; }" >"$mime"
  fi
  cat >"$tmp/nginx/nginx.conf" <<CONF
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events {}
http {
    include $mime;
    access_log off;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    include $tmp/nginx/giftcast.conf;
}
CONF
  "$nginx" -t -q -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf"
  echo "nginx -t: deploy/nginx/giftcast.conf is valid ($("$nginx" -v 2>&1))"
fi

analyze=$(tool systemd-analyze)
if [ -z "$analyze" ]; then
  echo "systemd-analyze is not installed: deploy/systemd not checked"
else
  release="$tmp/systemd/srv/giftcast"
  mkdir -p "$release/.venv/bin"
  for stand_in in daphne python; do
    printf '#!/bin/sh\n' >"$release/.venv/bin/$stand_in"
    chmod +x "$release/.venv/bin/$stand_in"
  done
  units=()
  for unit in deploy/systemd/*; do
    name=$(basename "$unit")
    # A template is verified as one of its instances.
    [ "$name" != giftcast@.service ] || name=giftcast@8001.service
    sed "s#/srv/giftcast#$release#g" "$unit" >"$tmp/systemd/$name"
    units+=("$tmp/systemd/$name")
  done
  # verify warns (unknown keys, missing programs) without failing: any word from it fails.
  out=$(cd "$tmp/systemd" &&
    SYSTEMD_LOG_LEVEL=notice "$analyze" verify --man=no "${units[@]}" 2>&1) || { echo "$out"; exit 1; }
  [ -z "$out" ] || { echo "systemd-analyze verify:"; echo "$out"; exit 1; }
  echo "systemd-analyze verify: ${#units[@]} units in deploy/systemd are valid"
fi
