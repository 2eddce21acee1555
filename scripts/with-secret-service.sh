#!/usr/bin/env bash
# Run a command with a private, unlocked Secret Service (gnome-keyring on a private D-Bus session
# bus), as a Linux desktop has one. The keyring lives in a temp dir that is removed afterwards, so
# tests never touch the user's own keyring.
#   scripts/with-secret-service.sh npm test
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
  command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null || {
    echo "with-secret-service: dbus-run-session and gnome-keyring-daemon are needed: run scripts/setup-e2e.sh" >&2
    exit 1
  }
  exec dbus-run-session -- "$0" --inside "$@"
fi
shift
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
export XDG_DATA_HOME="$data"
# A non-empty password creates and unlocks the "login" collection without a prompt (there is no
# display for gnome-keyring's prompter).
printf '%s' latchkey-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
export LATCHKEY_TEST_SECRET_SERVICE=1
# The daemon of this session, for the e2e test that stops it.
LATCHKEY_TEST_KEYRING_PID=$(pgrep -n -f 'gnome-keyring-daemon' || true)
export LATCHKEY_TEST_KEYRING_PID
"$@"
