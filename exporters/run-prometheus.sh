#!/usr/bin/env bash
# Runs Prometheus scraping lrp metrics endpoints, with the lrp dashboard as a
# console page: open http://LISTEN/consoles/lrp.html.
#   exporters/run-prometheus.sh [--listen 127.0.0.1:9090] [--storage DIR]
#       [--interval 1s] TARGET...      (TARGET: HOST:PORT of lrp's /metrics)
# Prometheus keeps running in the foreground; its data stays in DIR (a new
# temporary directory when not given).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
listen=127.0.0.1:9090
storage=
interval=1s
targets=()
while (($#)); do
  case $1 in
    --listen) listen=$2; shift 2 ;;
    --storage) storage=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    -h | --help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "run-prometheus: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  echo "run-prometheus: name at least one HOST:PORT to scrape" >&2
  exit 2
fi
if ! command -v prometheus >/dev/null; then
  echo "run-prometheus: prometheus is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
[[ -n $storage ]] || storage=$(mktemp -d -t lrp-prometheus.XXXXXX)
mkdir -p "$storage"
quoted=$(printf '"%s", ' "${targets[@]}")
cat >"$storage/prometheus.yml" <<YAML
global:
  scrape_interval: $interval
  evaluation_interval: $interval
scrape_configs:
  - job_name: lrp
    static_configs:
      - targets: [${quoted%, }]
YAML
echo "run-prometheus: dashboard at http://$listen/consoles/lrp.html (data in $storage)" >&2
exec prometheus --config.file="$storage/prometheus.yml" \
  --storage.tsdb.path="$storage/data" \
  --web.listen-address="$listen" \
  --web.console.templates="$here/dashboard" \
  --web.console.libraries="$here/dashboard"
