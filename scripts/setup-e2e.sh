#!/usr/bin/env bash
# Installs the Debian packages the test suites need: a real browser (chromium), a real Secret
# Service (gnome-keyring on a D-Bus session bus, read back with secret-tool), the shells the
# completion scripts are loaded into (zsh, fish), openssl for test certificates, and the tools
# latchkey hands its credential to (kubectl from kubernetes-client when the image has none, git), and
# python3 (test/helpers/freeze-thread.py stops one thread of the keyring daemon), and redis-server
# (the session store several backend instances share; the tests start their own). Idempotent:
# it installs only what is missing, from Debian's archive and nothing else.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v gnome-keyring-daemon >/dev/null 2>&1 || need+=(gnome-keyring)
command -v dbus-run-session >/dev/null 2>&1 || need+=(dbus)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus-daemon)
command -v secret-tool >/dev/null 2>&1 || need+=(libsecret-tools)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/python3 ] || need+=(python3)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup-e2e: chromium, gnome-keyring, dbus, secret-tool, zsh, fish, openssl, kubectl, git, python3 and redis-server are installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-e2e: missing ${need[*]}; run as root: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi

echo "setup-e2e: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "setup-e2e: done"
