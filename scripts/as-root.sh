# shellcheck shell=bash
# Sourced by the scripts that need root for some steps (packages, namespaces,
# XDP). As root (a fresh Debian has no sudo) the step runs directly; as
# another user it goes through sudo when there is one.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo -- "$@"
  else
    echo "$(basename "$0"): needs root for: $* (run as root; sudo is not installed)" >&2
    return 1
  fi
}
