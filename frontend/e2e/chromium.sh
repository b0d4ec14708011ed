#!/bin/sh
# Debian's Chromium as the end-to-end tests launch it. Chromium keeps only the last --disable-features
# flag and Playwright passes a list of its own, so the features below join that list instead of
# replacing it: WebRtcHideLocalIpsWithMdns off, so that WebRTC offers the sealed network's plain
# address rather than a random .local name that nobody there can resolve.
features=WebRtcHideLocalIpsWithMdns
for arg do
  shift
  case $arg in
    --disable-features=*) features="${arg#--disable-features=},$features" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "${CHROMIUM_PATH:-/usr/bin/chromium}" "$@" "--disable-features=$features"
