# Sourced by the Makefile targets and .ci/run: finds a JDK >= 21, installs
# what the build needs from Debian (Leiningen, libnippy-clojure) when missing,
# and puts manifest-clean copies of Debian's Nippy into the local Maven
# repository (scripts/install-deps.sh says why). Exits non-zero with a message
# that says what to do when it cannot.

tasklet_java_major() { # $1 = path to a java binary
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

tasklet_find_jdk() {
  local cand best="" best_v=0 v
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/* \
              "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$cand" ] && [ -x "$cand/bin/javac" ] && [ -x "$cand/bin/java" ] || continue
    v=$(tasklet_java_major "$cand/bin/java")
    v=${v%%.*}
    case "$v" in ''|*[!0-9]*) continue ;; esac
    if [ "$v" -ge 21 ] && [ "$v" -gt "$best_v" ]; then best="$cand"; best_v="$v"; fi
  done
  if [ -z "$best" ]; then
    echo "tasklet: no JDK 21 or newer found (looked at \$JAVA_HOME, /usr/lib/jvm/*, java on PATH)." >&2
    echo "tasklet: install one (e.g. Temurin 25 or 'apt-get install openjdk-21-jdk') and set JAVA_HOME to it." >&2
    return 1
  fi
  export JAVA_HOME="$best"
  export JAVA_CMD="$best/bin/java"       # used by lein for the project JVM
  export LEIN_JAVA_CMD="$best/bin/java"  # used by lein itself
  export PATH="$best/bin:$PATH"
}

tasklet_apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "tasklet: need '$*' from apt; run as root or install it: apt-get install -y $*" >&2
    return 1
  fi
  if [ -z "${TASKLET_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null || { echo "tasklet: apt-get update failed" >&2; return 1; }
    export TASKLET_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || { echo "tasklet: apt-get install $* failed" >&2; return 1; }
}

tasklet_ensure_tools() {
  command -v lein >/dev/null 2>&1 || tasklet_apt_install leiningen || return 1
  [ -f /usr/share/maven-repo/com/taoensso/nippy/3.1.3/nippy-3.1.3.jar ] \
    || tasklet_apt_install libnippy-clojure || return 1
}

# shellcheck source=scripts/install-deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/install-deps.sh"

tasklet_find_jdk && tasklet_ensure_tools && tasklet_install_deps
