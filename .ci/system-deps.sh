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
need_monitoring=()
[[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]] || need_monitoring+=(prometheus)
[[ -x /usr/bin/prometheus-alertmanager && -x /usr/bin/amtool ]] || need_monitoring+=(prometheus-alertmanager)
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]} + ${#need_monitoring[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: please install ${need_apt[*]} ${need_monitoring[*]} (apt-get install -y ...)" >&2
    exit 1
  fi
  echo "system-deps: installing ${need_apt[*]} ${need_monitoring[*]}"
  apt-get update -qq
  if ((${#need_apt[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  if ((${#need_monitoring[@]})); then
    # The binaries only (no node exporter): the tests start their own servers on 127.0.0.1. Where the
    # package starts Debian's services, stop them: they listen on every interface (9090, 9093).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_monitoring[@]}" >/dev/null
    for unit in prometheus prometheus-alertmanager; do
      if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
      fi
    done
  fi
fi

if [[ -f "$here/postgres.sh" ]]; then
  bash "$here/postgres.sh"
fi
