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
  python3 ccache
)

# ccache (CMakeLists.txt uses it when installed). Paths under the clone are
# hashed relative to it and the build directory is left out of the hash, so a
# second clone, a second work tree or a rerun after `rm -rf build` reuses the
# objects a first build compiled (the release and ASan trees never share:
# their flags differ). A caller's own CCACHE_* settings win.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$CUSTVAULT_ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"


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

# build_tree DIR [cmake options...] [-- TARGET...]: configure once, then build
# the named targets (everything when none is named).
build_tree() {
  local dir="$1"; shift
  local options=() targets=()
  while (($#)); do
    if [ "$1" = "--" ]; then
      shift
      targets=("$@")
      break
    fi
    options+=("$1")
    shift
  done
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$CUSTVAULT_ROOT" -B "$dir" -G Ninja "${options[@]}" >&2 || return 1
  fi
  ninja -C "$dir" "${CUSTVAULT_NINJA_JOBS[@]}" "${targets[@]}" >&2
}
CUSTVAULT_NINJA_JOBS=()
