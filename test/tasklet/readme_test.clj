(ns tasklet.readme-test
  "The README runs as written: every ```clojure block, in order, as one REPL
  session (tasklet.doc-examples says what is checked: shown values, REPL
  transcripts, and that no pattern takes a message meant for nobody). The
  Distribution section starts a named node and a child JVM; afterwards this
  JVM's default node is the one it had before."
  (:require [clojure.java.io :as io]
            [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core.support :as s]
            [tasklet.doc-examples :as ex]
            [tasklet.impl.dist :as dist]
            [tasklet.node :as node])
  (:import (tasklet.kernel Node)))

(set! *warn-on-reflection* true)

;; the tour crashes tasklets on purpose: their reports stay off the test output
(use-fixtures :once s/quiet-crashes)

(defn- readme-blocks []
  (filter ex/clojure-block? (ex/fenced-blocks (slurp "README.md"))))

(defn- restore-default-node!
  "Undo what the page did to this JVM's default node: stop the distribution
  it started (and its child nodes) and put the old default node back."
  [^Node before]
  (let [now (Node/local)]
    (when-not (identical? now before)
      (when (dist/state-of now)
        ;; node/stop! acts on the caller's node: a thread without a pid acts on the default one
        (let [th (Thread. ^Runnable (fn [] (node/stop!)))]
          (.start th)
          (.join th 30000)))
      (Node/setLocal before)
      (.shutdown now))))

(defn- await-file [^java.io.File f expected ms]
  (let [deadline (+ (System/currentTimeMillis) ms)]
    (loop []
      (let [s (when (.exists f) (slurp f))]
        (if (or (= expected s) (> (System/currentTimeMillis) deadline)) s (do (Thread/sleep 10) (recur)))))))

;; Every block evaluates, every shown value is what it shows, no decoy is taken.
(deftest readme-runs-as-written
  (let [blocks (readme-blocks)
        log (io/file "file.log")
        had-log? (.exists log)
        before (Node/local)]
    (is (<= 5 (count blocks)) "the README's clojure blocks were found")
    (is (< 30 (count (mapcat ex/block-steps blocks))) "and read form by form")
    (try
      (let [problems (ex/run-blocks blocks 180000)]
        (is (= [] (ex/describe "README.md" problems)) "every example gives what the README shows"))
      (testing "the seed example writes what it logs (its logger runs on after the example returns)"
        (is (= "Hello World\n" (await-file log "Hello World\n" 5000))))
      (finally
        (restore-default-node! before)
        (when-not had-log? (io/delete-file log true))))))

;; The checker itself can fail: the tour as it once was, with p a def, takes
;; the first EXIT from anyone; the decoy EXIT from another pid shows it.
(deftest a-pattern-that-binds-a-var-is-caught
  (let [buggy {:info "clojure" :line 1
               :body (str "(require '[tasklet.core :refer [spawn-link ! receive trap-exit!]])\n"
                          "(trap-exit! true)\n"
                          "(def p (spawn-link (fn [] (receive :crash (throw (ex-info \"boom\" {}))))))\n"
                          "(! p :crash)\n"
                          "(receive [:EXIT p reason] (ex-message reason))  ;=> \"boom\"\n")}
        fixed (update buggy :body str/replace
                      "(receive [:EXIT p reason] (ex-message reason))"
                      "(let [p p] (receive [:EXIT p reason] (ex-message reason)))")
        problems (ex/run-blocks [buggy] 20000)]
    (is (= [5 5] (map :line problems)) "two problems, both on the receive")
    (is (some #(str/includes? (:problem %) "took [:EXIT") problems) "the decoy EXIT was taken")
    (is (some #(str/includes? (:problem %) "shows \"boom\", but gave nil") problems)
        "and the value shown is not the one it gives")
    (is (empty? (ex/run-blocks [fixed] 20000)) "with p a local, the same block passes")))

;; Shown pids are placeholders matched one to one; a transcript's error line
;; is checked against the root cause.
(deftest shown-values-and-transcripts
  (let [page {:info "clojure" :line 1
              :body (str "user=> (require '[tasklet.core :as t])\n"
                         "nil\n"
                         "user=> (def a (t/spawn (fn [] (t/receive :x nil))))\n"
                         "user=> [a a]\n"
                         "[#tasklet/pid [:nonode 7 0] #tasklet/pid [:nonode 7 0]]\n"
                         "user=> [a (t/self)]\n"
                         "[#tasklet/pid [:nonode 7 0] #tasklet/pid [:nonode 7 0]]\n"
                         "user=> (/ 1 0)\n"
                         "Execution error (ArithmeticException) at user/eval1 (REPL:1).\n"
                         "Divide by zero\n"
                         "user=> (/ 1 0)\n"
                         "Execution error (IllegalStateException) at user/eval1 (REPL:1).\n"
                         "Divide by zero\n"
                         "user=> (t/! a :x)\n"
                         ":y\n")}
        problems (ex/run-blocks [page] 20000)]
    (is (= [6 11 14] (map :line problems))
        (str "one pid shown for two real ones, the wrong exception class, the wrong value: "
             (ex/describe "page" problems)))))
