#!/bin/sh
# Entry point of the mosquitto service (docker-compose.yml): writes the password file from the environment
# (MQTT_USERNAME / MQTT_PASSWORD of .env) and, when deploy/mosquitto/passwd exists, adds its entries (made with
# mosquitto_passwd, see docs/production.md), then runs the broker. Runs as root in the eclipse-mosquitto image;
# mosquitto itself drops to the user `mosquitto`, who owns the file (mode 0600, as mosquitto 2 wants it).
set -eu
: "${MQTT_USERNAME:?set MQTT_USERNAME in .env}"
: "${MQTT_PASSWORD:?set MQTT_PASSWORD in .env}"
umask 077
mkdir -p /mosquitto/auth
passwd=/mosquitto/auth/passwd
rm -f "$passwd"
mosquitto_passwd -b -c "$passwd" "$MQTT_USERNAME" "$MQTT_PASSWORD"
if [ -s /mosquitto/config/passwd ]; then
  # The other users' entries (an entry for MQTT_USERNAME there is left out: .env has the say).
  awk -F: -v user="$MQTT_USERNAME" '$1 != user' /mosquitto/config/passwd >> "$passwd"
fi
chown -R mosquitto:mosquitto /mosquitto/auth /mosquitto/data
chmod 0600 "$passwd"
exec mosquitto -c /mosquitto/config/mosquitto.conf
