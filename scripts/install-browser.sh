#!/bin/sh
# Best effort, before `make test`: the browser test (tests/test_demo_browser.py) needs the system's Chromium and
# chromedriver. Where they are missing and this runs as root on a machine with apt-get, install Debian's packages
# quietly; otherwise say so in one line. Never fails `make test`: without a browser that test skips and says why.
# COC_NO_BROWSER_INSTALL=1 turns this step off.
set -u

PACKAGES="chromium chromium-driver fonts-liberation"    # the fonts only so that screenshots have readable text

have() { [ -x "/usr/bin/$1" ] || command -v "$1" >/dev/null 2>&1; }

have chromium && have chromedriver && exit 0

if [ "${COC_NO_BROWSER_INSTALL:-}" = 1 ]; then
    echo "browser: chromium or chromedriver missing, not installed (COC_NO_BROWSER_INSTALL=1): browser test will skip"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "browser: chromium or chromedriver missing; installing needs root and apt-get: the browser test will skip"
    exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=120 $PACKAGES >>"$log" 2>&1
}
echo "browser: installing $PACKAGES (Debian packages) for the browser test"
# A fresh machine may have no package lists, or stale ones: update them only when the install fails.
if install || { apt-get update -q -o DPkg::Lock::Timeout=120 >>"$log" 2>&1 && install; }; then
    have chromium && have chromedriver && exit 0
fi
reason=$(grep '^E:' "$log" | tail -n 1)
echo "browser: could not install $PACKAGES${reason:+ ($reason)}: the browser test will skip"
exit 0
