#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when they are
# missing. Safe to run any number of times.
#
#   redis-server          redis-server (also run as a sentinel with
#                         --sentinel) and, through redis-tools, redis-cli
#   memcached             memcached
#   python3-dogpile.cache the Python dogpile.cache library, for interop tests
#   python3-redis, python3-pymemcache, python3-memcache, python3-pylibmc
#                         the clients it uses to reach the servers, and
#                         whose memcached server selection Go matches
#   python3-pastedeploy   reads Pyramid .ini files, as pyconfig.ReadINI does
#   chromium              headless Chromium, for the debug panel's browser
#                         tests (driven over the DevTools protocol)
#
# Test packages start their own servers on free loopback ports, so the
# system services these packages start on install are stopped again.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

missing=()

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	missing+=(redis-server)
fi
if ! command -v memcached >/dev/null 2>&1; then
	missing+=(memcached)
fi
# /usr/bin/python3 explicitly: a pyenv or venv python earlier on PATH
# would not see the Debian package.
if ! /usr/bin/python3 -c 'import dogpile.cache' >/dev/null 2>&1; then
	missing+=(python3-dogpile.cache)
fi
# The clients Python's dogpile.cache uses for the interoperability tests.
if ! /usr/bin/python3 -c 'import redis' >/dev/null 2>&1; then
	missing+=(python3-redis)
fi
if ! /usr/bin/python3 -c 'import pymemcache' >/dev/null 2>&1; then
	missing+=(python3-pymemcache)
fi
# The other Python memcached clients, whose server selection the Memcached
# backend offers.
if ! /usr/bin/python3 -c 'import memcache' >/dev/null 2>&1; then
	missing+=(python3-memcache)
fi
if ! /usr/bin/python3 -c 'import pylibmc' >/dev/null 2>&1; then
	missing+=(python3-pylibmc)
fi
# PasteDeploy reads Pyramid .ini files: the reference for pyconfig.ReadINI.
if ! /usr/bin/python3 -c 'import paste.deploy' >/dev/null 2>&1; then
	missing+=(python3-pastedeploy)
fi

# Headless Chromium for the debug panel's browser tests (debugpanel and
# examples/site, through internal/paneltest and chromedp).
if ! command -v chromium >/dev/null 2>&1; then
	missing+=(chromium)
fi

if [ "${#missing[@]}" -eq 0 ]; then
	echo "test-deps: all test dependencies present"
	exit 0
fi

echo "test-deps: installing ${missing[*]}"
# A mirror's hiccup must not fail the run: each step is tried three times.
retry() {
	local attempt
	for attempt in 1 2 3; do
		if "$@"; then
			return 0
		fi
		echo "test-deps: attempt $attempt of '$*' failed" >&2
		sleep $((attempt * 5))
	done
	return 1
}
retry $SUDO apt-get update
retry $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

# The packages start system services on install; stop them so nothing
# listens on the default ports while tests run.
for svc in redis-server redis-sentinel memcached; do
	if [ -x "/etc/init.d/$svc" ]; then
		$SUDO service "$svc" stop >/dev/null 2>&1 || true
	fi
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done

echo "test-deps: done"
