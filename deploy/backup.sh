#!/bin/sh
# Backs up the running production stack (docker-compose.yml) into one directory, without stopping anything:
#   - the collector's store, the system of record: an online SQLite backup (deploy/sqlite-backup.cjs) -> jishi.sqlite
#   - InfluxDB's database jishi: a portable backup (influxd backup -portable) -> influxdb/
#   - the collector config template -> collector.yaml (the .env beside it is not copied: keep the secrets apart)
#
#   deploy/backup.sh [DIR]        default: backups/<UTC date and time>, under the directory of docker-compose.yml
#
# Restoring, and what else to keep (Grafana's database): docs/production.md#backups.
set -eu
cd "$(dirname "$0")/.."
dest=${1:-backups/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$dest"
tmp=/tmp/jishi-backup-$$

echo "store: online backup of /var/lib/jishi/jishi.sqlite"
docker compose exec -T collector node - /var/lib/jishi/jishi.sqlite "$tmp.sqlite" < deploy/sqlite-backup.cjs
docker compose cp "collector:$tmp.sqlite" "$dest/jishi.sqlite"
docker compose exec -T collector rm -f "$tmp.sqlite"

echo "influxdb: portable backup of the database jishi"
docker compose exec -T influxdb influxd backup -portable -db jishi "$tmp" > /dev/null
docker compose cp "influxdb:$tmp" "$dest/influxdb"
docker compose exec -T influxdb rm -rf "$tmp"

cp deploy/collector.yaml "$dest/collector.yaml"
echo "backup written to $dest"
