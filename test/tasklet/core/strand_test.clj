(ns tasklet.core.strand-test
  "Which strand a node runs: the continuation strand when the JVM exports
  jdk.internal.vm, else virtual threads; a wrong tasklet.strand is an error."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is]]
            [tasklet.core.support :refer [run-jvm]])
  (:import [tasklet.kernel Node Strand]))

(set! *warn-on-reflection* true)

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
