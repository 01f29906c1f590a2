# Shared by scripts/run, scripts/test and scripts/bench. Sourced, not run.
# Installs what the project needs from Debian's packages (apt-get update at
# most once per call, and only when something is missing), then builds.

CUSTVAULT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build and runtime dependencies. Node.js/npm come with the machine image;
# Debian's nodejs is installed only where no node exists.
CUSTVAULT_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libssl-dev libsqlite3-dev libpq-dev
  libboost1.81-dev libboost-json1.81-dev
  libcli11-dev libspdlog-dev libtoml11-dev libargon2-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3
)

log() { printf '\033[1m[custvault]\033[0m %s\n' "$*" >&2; }

install_packages() {
  local wanted=("${CUSTVAULT_PACKAGES[@]}" "$@")
  command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
}

# build_tree DIR [cmake options...]: configure once, then build everything.
build_tree() {
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$CUSTVAULT_ROOT" -B "$dir" -G Ninja "$@" >&2
  fi
  ninja -C "$dir" "${CUSTVAULT_NINJA_JOBS[@]}" >&2
}
CUSTVAULT_NINJA_JOBS=()
