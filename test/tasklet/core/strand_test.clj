(ns tasklet.core.strand-test
  "Which strand a node runs: the continuation strand when the JVM exports
  jdk.internal.vm, else virtual threads; a wrong tasklet.strand is an error."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is]])
  (:import [java.util.concurrent TimeUnit]
           [tasklet.kernel Node Strand]))

(set! *warn-on-reflection* true)

(defn- run-jvm
  "Run clojure.main -e expr in a fresh JVM on this classpath with jvm-opts
  (and no others: no --add-exports); [exit-code output], within 120 s."
  [jvm-opts expr]
  (let [java (str (System/getProperty "java.home") "/bin/java")
        cmd (concat [java] jvm-opts ["-cp" (System/getProperty "java.class.path") "clojure.main" "-e" expr])
        p (-> (ProcessBuilder. ^java.util.List (vec cmd)) (.redirectErrorStream true) (.start))
        out (future (slurp (.getInputStream p)))]
    (if (.waitFor p 120 TimeUnit/SECONDS)
      [(.exitValue p) @out]
      (do (.destroyForcibly p) [:timeout @out]))))

(def ^:private probe
  "Spawn a tasklet, take a message from it, print the strand that ran."
  (pr-str '(do (require 'tasklet.core)
               (let [me (tasklet.core/self)]
                 (tasklet.core/spawn (fn [] (tasklet.core/! me :hi)))
                 (println "strand" (tasklet.core/receive :hi (:strand (tasklet.core/runtime-info)))))
               (shutdown-agents))))

;; Without the JVM option the library still works, on virtual threads (it
;; failed: finding out touched a class that needs the export to initialise).
(deftest without-the-export-tasklets-run-on-virtual-threads
  (let [[code out] (run-jvm [] probe)]
    (is (= 0 code) out)
    (is (str/includes? out "strand :virtual") out)))

(deftest with-the-export-the-default-is-continuations
  (is (true? (Strand/continuationsAvailable)) "the project's JVM options export jdk.internal.vm")
  (is (= "continuation" (Strand/kind nil)))
  (is (= "continuation" (Strand/kind "")))
  (is (= "virtual" (Strand/kind "virtual"))))

(deftest unknown-strand-names-what-to-use
  (let [e (try (Strand/kind "green") nil (catch IllegalArgumentException e e))]
    (is (some? e))
    (is (re-find #"\"green\".*\"continuation\" or \"virtual\"" (.getMessage ^Exception e)))))
