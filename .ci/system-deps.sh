#!/usr/bin/env bash
# System packages the test suite needs, installed only when missing: Debian's Chromium (the browser
# tests drive /usr/bin/chromium; never a browser download), a colour emoji font (the dashboard's status
# marks are emoji; without it the screenshots show empty boxes where users see them), Debian's Prometheus
# (with promtool) and Alertmanager (the integration tests scrape the exporter and deliver alerts through
# the real ones) and a running PostgreSQL 15 with a test database. Idempotent; safe to run on every `make test`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

need_apt=()
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
[[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || need_apt+=(fonts-noto-color-emoji)
[[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]] || need_apt+=(prometheus)
[[ -x /usr/bin/prometheus-alertmanager ]] || need_apt+=(prometheus-alertmanager)
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: please install ${need_apt[*]} (apt-get install -y ${need_apt[*]})" >&2
    exit 1
  fi
  echo "system-deps: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ -f "$here/postgres.sh" ]]; then
  bash "$here/postgres.sh"
fi
