# Shared by scripts/start and scripts/test: find Python >= 3.11, keep .venv in step with pyproject.toml.
# shellcheck shell=bash

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "nama-lti needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# bootstrap [extra]: create .venv and install the project (with the given extra) when pyproject.toml changed.
bootstrap() {
  local extra="${1:-}" python stamp spec
  python=$(find_python)
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $python" >&2
    "$python" -m venv .venv
  fi
  spec="."
  [ -n "$extra" ] && spec=".[$extra]"
  stamp=".venv/.installed-$(sha256sum <pyproject.toml | cut -c1-16)-${extra:-base}"
  # The base install is part of every other one (scripts/test installs the project with its test extra).
  if [ -z "$extra" ] && compgen -G "${stamp%-base}-*" >/dev/null; then return 0; fi
  if [ ! -f "$stamp" ]; then
    echo "installing nama-lti${extra:+ with $extra} into .venv (first run or pyproject.toml changed; a minute or two)" >&2
    local started=$SECONDS
    if ! { .venv/bin/python -m pip install --quiet --upgrade pip &&
           .venv/bin/python -m pip install --progress-bar off -e "$spec"; } 2>&1 | tee .venv/pip.log | install_progress; then
      cat .venv/pip.log >&2
      echo "installing failed (log above)" >&2
      return 1
    fi
    echo "installed in $(( SECONDS - started )) s" >&2
    touch "$stamp"
  fi
}

# Reads pip's output and shows one line per package it fetches (on a terminal: one line, rewritten).
install_progress() {
  local line n=0 tty=""
  [ -t 2 ] && tty=1
  while IFS= read -r line; do
    case "$line" in
      Collecting\ *|Processing\ *.whl*)  # from an index, or a wheel from a local folder
        n=$((n + 1)); line=${line#* }; line=${line%% *}; line=${line##*/}; line=${line%%-py[0-9]*}; line=${line%%-cp[0-9]*}
        if [ -n "$tty" ]; then printf '\r\033[K  [%d] %s' "$n" "$line" >&2; else printf '  [%d] %s\n' "$n" "$line" >&2; fi ;;
      Installing\ collected\ packages:*)
        [ -n "$tty" ] && printf '\r\033[K' >&2
        echo "  unpacking $n packages into .venv" >&2 ;;
    esac
  done
}

# Debian's Chromium for the browser tests (never a downloaded browser). Installs it when we may.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
  else
    echo "note: /usr/bin/chromium not found and cannot be installed here; browser tests will be skipped" >&2
  fi
}

# Pango for WeasyPrint (the certificate PDF): Debian's libpango-1.0-0 and libpangoft2-1.0-0. Installs them when
# we may; without them the tool runs, and only a certificate download fails with a clear error in the log.
ensure_pango() {
  if ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0"; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's Pango for the certificate PDF (WeasyPrint)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; }
  else
    echo "note: Pango (libpangoft2-1.0-0) not found; certificate PDFs need it (apt-get install libpangoft2-1.0-0)" >&2
  fi
}
