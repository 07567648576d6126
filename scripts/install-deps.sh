# Sourced by scripts/env.sh (and run by `make install-deps`): puts Nippy
# 3.1.3, encore 3.22.0, truss 1.6.0 and Leiningen's nREPL into the local Maven
# repository, repackaged from Debian's packages without Debian's manifest.
#
# Why: Clojars cannot be reached from these machines, so Nippy comes from
# Debian, whose jars name /usr/share/java/clojure.jar (Clojure 1.11) in their
# manifest Class-Path. The JVM searches a manifest's Class-Path right after
# the jar that names it, so any project with Debian's jars on its classpath
# runs Clojure 1.11 whatever it declares. The copies installed here hold the
# same classes, no Class-Path, and poms that name Maven Central coordinates
# (scripts/poms/), so the project and every consumer resolve the same clean
# artifacts from the local repository, and no build names a path into it.
#
# The local repository is the one Leiningen and Maven use: ${user.home}/.m2/
# repository of a JVM started with $LEIN_JVM_OPTS (Maven takes it from
# user.home, not $HOME), or $TASKLET_LOCAL_REPO when set (tests install into
# a repository of their own that way). Idempotent: an artifact this script
# already installed (its pom is ours) is left alone.

tasklet_local_repo() {
  if [ -n "${TASKLET_LOCAL_REPO:-}" ]; then echo "$TASKLET_LOCAL_REPO"; return; fi
  local home
  # shellcheck disable=SC2086  # LEIN_JVM_OPTS is a list of options
  home=$("${JAVA_CMD:-java}" ${LEIN_JVM_OPTS:-} -XshowSettings:properties -version 2>&1 \
           | awk -F'= ' '/^ *user.home = / {print $2; exit}')
  [ -n "$home" ] || { echo "tasklet: cannot tell the JVM's user.home" >&2; return 1; }
  echo "$home/.m2/repository"
}

# $1 = Debian jar, $2 = group path, $3 = artifact, $4 = version, $5 = local repo
tasklet_install_clean_jar() {
  local src=$1 gpath=$2 art=$3 ver=$4 repo=$5
  local dir="$repo/$gpath/$art/$ver" jar="$repo/$gpath/$art/$ver/$art-$ver.jar"
  local pom_src
  pom_src="$(dirname "${BASH_SOURCE[0]}")/poms/$art-$ver.pom"
  # our pom beside the jar marks a copy made here (Debian's pom differs)
  [ -f "$jar" ] && cmp -s "$pom_src" "$dir/$art-$ver.pom" && return 0
  [ -f "$src" ] || { echo "tasklet: $src is missing (apt-get install libnippy-clojure)" >&2; return 1; }
  local work
  work=$(mktemp -d) || return 1
  mkdir -p "$work/x" "$dir" || return 1
  (cd "$work/x" && "$JAVA_HOME/bin/jar" --extract --file "$(readlink -f "$src")") || { rm -rf "$work"; return 1; }
  rm -f "$work/x/META-INF/MANIFEST.MF"
  printf 'Manifest-Version: 1.0\nCreated-By: tasklet scripts/install-deps.sh from %s\n' "$(basename "$(readlink -f "$src")")" > "$work/manifest"
  "$JAVA_HOME/bin/jar" --create --file "$work/$art.jar" --manifest "$work/manifest" -C "$work/x" . \
    && mv -f "$work/$art.jar" "$jar" && cp -f "$pom_src" "$dir/$art-$ver.pom"
  local rc=$?
  rm -rf "$work"
  return $rc
}

# Each line: group path, artifact, version (Debian's jar is at the same place
# in /usr/share/maven-repo). nREPL and incomplete are Leiningen's REPL, which
# every lein task puts on the classpath: Debian's carry the same manifest.
tasklet_clean_artifacts='com/taoensso nippy 3.1.3
com/taoensso encore 3.22.0
com/taoensso truss 1.6.0
nrepl nrepl 1.0.0
org/nrepl incomplete 0.1.0'

tasklet_install_deps() {
  local repo gpath art ver
  repo=$(tasklet_local_repo) || return 1
  while read -r gpath art ver; do
    tasklet_install_clean_jar "/usr/share/maven-repo/$gpath/$art/$ver/$art-$ver.jar" \
      "$gpath" "$art" "$ver" "$repo" || return 1
  done <<< "$tasklet_clean_artifacts"
}
