;; The source of truth for the build. deps.edn mirrors the :dependencies below
;; (test/tasklet/build_test.clj fails when the two drift apart).
(defproject tasklet/tasklet "0.1.0-SNAPSHOT"
  :description "Erlang's concurrency model for Clojure on the JVM: lightweight processes, selective receive, links, monitors, supervisors, distribution."
  :license {:name "Eclipse Public License 2.0" :url "https://www.eclipse.org/legal/epl-2.0/"}
  ;; Nippy 3.1.3, encore and truss come from the local Maven repository, put
  ;; there from Debian's libnippy-clojure by scripts/install-deps.sh (every make
  ;; target runs it) without Debian's manifest Class-Path, which would put
  ;; Clojure 1.11 ahead of the Clojure declared here. Where Clojars is reachable
  ;; the same coordinates come from there. Everything else: Maven Central.
  :dependencies [[org.clojure/clojure "1.12.6"]
                 [org.clojure/core.match "1.1.0"]
                 [com.taoensso/nippy "3.1.3" :exclusions [org.clojure/clojure]]
                 [io.netty/netty-handler "4.2.18.Final"]
                 [io.netty/netty-transport-native-epoll "4.2.18.Final" :classifier "linux-x86_64"]]
  :source-paths ["src-clj"]
  :java-source-paths ["src-java"]
  :test-paths ["test"]
  ;; --add-exports cannot be combined with --release, hence -source/-target.
  :javac-options ["-source" "21" "-target" "21" "-Xlint:-options" "-encoding" "UTF-8"
                  "--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED"]
  :jvm-opts ["--add-exports" "java.base/jdk.internal.vm=ALL-UNNAMED" "--enable-native-access=ALL-UNNAMED"
             "-XX:+UseParallelGC" "-Xss2m"]
  ;; Reflection warnings: every namespace sets *warn-on-reflection* itself
  ;; (and `lein check` turns it on for all), not :global-vars or an
  ;; injection, which also apply to Leiningen's own init form and made every
  ;; task print a reflection warning about Leiningen's code.
  ;; :consumer (test/tasklet/consumer_test.clj) builds and runs a project of
  ;; someone else's: slow, strand-independent, run once by `make test`
  :test-selectors {:default (complement (some-fn :stress :consumer))
                   :stress :stress
                   :consumer :consumer
                   :all (constantly true)}
  :profiles {:dev {:dependencies [[org.clojure/test.check "1.1.3"]
                                  [org.clojure/core.async "1.9.865"]]
                   :source-paths ["bench"]}
             ;; the whole suite also runs on the virtual-thread strand (CI does both)
             :vthread {:jvm-opts ["-Dtasklet.strand=virtual"]}
             ;; `lein test` merges :test: the library's log goes to target/test-logs
             ;; (test/logging.properties), made before the first logger is asked for
             :test {:jvm-opts ["-Djava.util.logging.config.file=test/logging.properties"]
                    :injections [(.mkdirs (java.io.File. "target/test-logs"))]}
             :demo {:main tasklet.demo :source-paths ["examples"]}
             ;; `make bench`: the parent JVM only orchestrates; every workload runs in a
             ;; child JVM with options of its own (tasklet.bench/child-command), not these
             :bench {:dependencies [[org.apache.pekko/pekko-actor_2.13 "1.7.0"]
                                    [org.scala-lang/scala-library "2.13.18"]]}
             ;; `make jmh` / `lein jmh`: the kernel's JMH micro-benchmarks in jmh/ (a
             ;; separate source set, as JCTools and Netty keep theirs). JMH's annotation
             ;; processor writes META-INF/BenchmarkList; JDK 23+ runs processors found on
             ;; the classpath only with -proc:full. Own target path: the BenchmarkList
             ;; and the generated classes stay out of target/classes.
             :jmh {:dependencies [[org.openjdk.jmh/jmh-core "1.37"]
                                  [org.openjdk.jmh/jmh-generator-annprocess "1.37"]]
                   :java-source-paths ["jmh"]
                   :javac-options ["-proc:full"]
                   :target-path "target/jmh"
                   :main org.openjdk.jmh.Main}}
  ;; clojure.main -m rather than run -m <ns>: Leiningen's form for a namespace
  ;; calls -main reflectively and would print a reflection warning of its own
  :aliases {"demo" ["with-profile" "+demo" "run" "-m" "clojure.main" "-m" "tasklet.demo"]
            "bench" ["with-profile" "+bench" "run" "-m" "clojure.main" "-m" "tasklet.bench"]
            "jmh" ["with-profile" "+jmh" "run" "-m" "org.openjdk.jmh.Main"]})
