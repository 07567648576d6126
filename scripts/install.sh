#!/usr/bin/env bash
# `make install`: the library from this checkout, and the repackaged Nippy it
# needs (scripts/install-deps.sh), into a local Maven repository, so that a
# project of your own can depend on [tasklet/tasklet "<version>"].
#
#   scripts/install.sh              the local repository Leiningen and Maven use
#   scripts/install.sh DIR          a local repository of your choosing (a
#                                   consumer then sets :local-repo to DIR)
#
# The jar and pom are built by Leiningen in target/ and laid out as Maven's
# install does (group/artifact/version/artifact-version.{jar,pom}); the pom
# names Maven Central coordinates only, no repository and no local path.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
repo=${1:-$(tasklet_local_repo)}
mkdir -p "$repo"
repo=$(cd "$repo" && pwd)
TASKLET_LOCAL_REPO=$repo tasklet_install_deps
lein jar >/dev/null
lein pom >/dev/null
mv -f pom.xml target/pom.xml
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' target/pom.xml | head -1)
[ -n "$version" ] || { echo "tasklet: no version in target/pom.xml" >&2; exit 1; }
dir="$repo/tasklet/tasklet/$version"
mkdir -p "$dir"
cp -f "target/tasklet-$version.jar" "$dir/tasklet-$version.jar"
cp -f target/pom.xml "$dir/tasklet-$version.pom"
echo "tasklet: installed tasklet/tasklet $version into $repo"
