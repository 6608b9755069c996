#!/usr/bin/env bash
# Pages lost to nginx's HTTP/2 GOAWAY: nginx (Debian's package) serves N files over HTTPS + HTTP/2
# on 127.0.0.1 and ends each connection after `keepalive_requests` streams; each pagefetch binary
# given fetches every file in each loop at -c 64 and the script prints how many pages were not 200.
#
#   bench/nginx.sh [BINARY...]                 # default: target/release/pagefetch
#   PAGES=400 KEEPALIVE=50 bench/nginx.sh A B  # nginx's default keepalive_requests is 1000
#
# nginx runs as the caller, without a master process (a worker as nobody cannot read mktemp -d).
# Loopback only. Needs nginx and openssl (apt-get install nginx openssl) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PAGES=${PAGES:-3000}
KEEPALIVE=${KEEPALIVE:-1000}
RUNS=${RUNS:-3}
[ $# -gt 0 ] || set -- target/release/pagefetch
[ -x /usr/sbin/nginx ] || { echo "nginx is not installed (apt-get install nginx)" >&2; exit 2; }

dir=$(mktemp -d)
cleanup() {
  [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE 2>/dev/null
mkdir "$dir/www"
for i in $(seq 0 $((PAGES - 1))); do
  head -c $((1000 + 37 * (i % 400))) /dev/zero >"$dir/www/p$i.html"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/nginx.conf" <<EOF
daemon on; master_process off; worker_processes 1; error_log $dir/error.log warn; pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off; keepalive_requests $KEEPALIVE;
  client_body_temp_path $dir/b; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { listen 127.0.0.1:$port ssl http2; root $dir/www;
           ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem; }
}
EOF
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
seq 0 $((PAGES - 1)) | sed "s|.*|https://localhost:$port/p&.html|" >"$dir/urls.txt"

echo "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||'): $PAGES HTTPS pages, keepalive_requests $KEEPALIVE, -c 64, $RUNS runs"
printf '%-40s %-11s %s\n' binary loop "pages not 200 (each run)"
for bin in "$@"; do
  for mode in sequential joinset join-all; do
    lost=""
    for _ in $(seq "$RUNS"); do
      # Exit 1 (some page failed) is what is being counted, not a reason to stop.
      n=$({ "$bin" fetch -q --format ndjson -c 64 -m "$mode" --cacert "$dir/cert.pem" -f "$dir/urls.txt" || true; } |
        python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if (r:=json.loads(l))["type"]=="page" and r["status"]!=200))')
      lost="$lost $n"
    done
    printf '%-40s %-11s%s\n' "$bin" "$mode" "$lost"
  done
done
