(ns build
  "tools.build tasks for tasklet's deps.edn (the :build alias).

    clojure -T:build compile-java   ; src-java -> target/classes (also the :deps/prep-lib step)
    clojure -T:build jar            ; target/tasklet-<version>.jar
    clojure -T:build clean          ; delete target/

  project.clj is the source of truth. The defs below are literal data so that
  test/tasklet/build_test.clj can read them without tools.build and fail when
  they drift from project.clj; keep them literal."
  (:require [clojure.tools.build.api :as b]))

(def lib 'tasklet/tasklet)
(def version "0.1.0-SNAPSHOT")

(def java-src-dirs ["src-java"])
(def class-dir "target/classes")
(def jar-dir "target/jar")

;; As project.clj's :javac-options. --add-exports cannot be combined with
;; --release, hence -source/-target; -Xlint:-options silences javac's
;; "bootstrap class path not set" warning that -source/-target then give.
(def javac-opts ["-source" "21" "-target" "21" "-Xlint:-options" "-encoding" "UTF-8"
                 "--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"])

(def ^:private basis
  (delay (b/create-basis {:project "deps.edn"})))

(defn clean
  "Deletes target/ (compiled classes and jars). Takes and ignores an options map."
  [_]
  (b/delete {:path "target"}))

(defn compile-java
  "Compiles the Java kernel and transport (src-java) into target/classes with
  javac-opts, against the classpath of deps.edn's :deps. This is the
  :deps/prep-lib step, so a git or local dependency on tasklet is usable after
  `clojure -X:deps prep`. Needs a JDK 21 or newer. Takes and ignores an
  options map."
  [_]
  (b/javac {:src-dirs java-src-dirs
            :class-dir class-dir
            :basis @basis
            :javac-opts javac-opts}))

(defn jar
  "Builds target/tasklet-<version>.jar: the compiled Java classes, the Clojure
  sources of src-clj, resources/ (with the clj-kondo exports) and a pom.xml
  listing deps.edn's :deps. Compiles src-java first. Takes and ignores an
  options map; returns the jar's path."
  [_]
  (compile-java nil)
  (b/delete {:path jar-dir})
  (b/write-pom {:class-dir jar-dir
                :lib lib
                :version version
                :basis @basis
                :src-dirs ["src-clj"]
                :pom-data [[:description "Erlang's concurrency model for Clojure on the JVM."]
                           [:licenses
                            [:license
                             [:name "Eclipse Public License 2.0"]
                             [:url "https://www.eclipse.org/legal/epl-2.0/"]]]]})
  (b/copy-dir {:src-dirs [class-dir "src-clj" "resources"]
               :target-dir jar-dir})
  (let [jar-file (format "target/%s-%s.jar" (name lib) version)]
    (b/jar {:class-dir jar-dir :jar-file jar-file})
    jar-file))
