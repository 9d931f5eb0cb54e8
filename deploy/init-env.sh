#!/bin/sh
# Writes the .env of the production stack from deploy/env.example, with every secret generated:
#   GRAFANA_ADMIN_PASSWORD, MQTT_PASSWORD        random passwords
#   JISHI_ADMIN_TOKEN_SHA256                     hash of a new admin token, which is printed once (.env keeps only the hash)
#   JISHI_SIM_AGENT_TOKEN(_SHA256)               a new token of the simulated agent, and its hash
# The other values keep the defaults of env.example (edit .env afterwards to change them).
#
#   sh deploy/init-env.sh [FILE]        default: .env beside docker-compose.yml; an existing file is never overwritten
#
# Needs only a POSIX shell, /dev/urandom, base64, sed and sha256sum (or shasum). Tokens have the form of
# `jishi token`: jishi_ and 32 random bytes in base64url.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.env}
if [ -e "$out" ]; then
  echo "$out exists: not overwritten (remove it first to start over)" >&2
  exit 1
fi

random64() { head -c "$1" /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_'; }
token() { printf 'jishi_%s' "$(random64 32)"; }
sha256() {
  if command -v sha256sum > /dev/null 2>&1; then printf '%s' "$1" | sha256sum | cut -d' ' -f1
  else printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1; fi
}

admin_token=$(token)
sim_token=$(token)
umask 077
sed -e "s|^GRAFANA_ADMIN_PASSWORD=.*|GRAFANA_ADMIN_PASSWORD=$(random64 18)|" \
    -e "s|^MQTT_PASSWORD=.*|MQTT_PASSWORD=$(random64 18)|" \
    -e "s|^JISHI_ADMIN_TOKEN_SHA256=.*|JISHI_ADMIN_TOKEN_SHA256=$(sha256 "$admin_token")|" \
    -e "s|^JISHI_SIM_AGENT_TOKEN=.*|JISHI_SIM_AGENT_TOKEN=$sim_token|" \
    -e "s|^JISHI_SIM_AGENT_TOKEN_SHA256=.*|JISHI_SIM_AGENT_TOKEN_SHA256=$(sha256 "$sim_token")|" \
    "$root/deploy/env.example" > "$out"

echo "wrote $out (mode 600): Grafana and MQTT passwords, the admin token's hash and the simulated agent's token."
echo "Admin token (for registry and booking changes through the API; shown this once, .env keeps only its hash):"
echo "  $admin_token"
echo "Grafana login: GRAFANA_ADMIN_USER and GRAFANA_ADMIN_PASSWORD of $out. Next: docker compose up -d"
