(ns tasklet.readme-test
  "The README's REPL tour runs as written: each form of its tour block is
  evaluated in a fresh namespace, and each literal `;=>` result is checked."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.core.support :as s]))

;; the tour crashes tasklets on purpose: their reports stay off the test output
(use-fixtures :once s/quiet-crashes)

(defn- tour-block
  "The first ```clojure block after the heading `## A REPL tour`."
  []
  (let [readme (slurp "README.md")
        from (str/index-of readme "## A REPL tour")
        start (+ (str/index-of readme "```clojure" from) (count "```clojure"))
        end (str/index-of readme "```" start)]
    (subs readme start end)))

(defn- forms-with-expectations
  "Pairs of [form expected-string-or-nil], reading the block form by form and
  taking the `;=>` comment that ends each form's last line."
  [block]
  (let [rdr (clojure.lang.LineNumberingPushbackReader. (java.io.StringReader. block))
        lines (str/split-lines block)]
    (loop [out []]
      (let [form (binding [*read-eval* false] (read {:eof ::eof} rdr))]
        (if (= ::eof form)
          out
          (let [line (nth lines (dec (.getLineNumber rdr)) "")
                expected (second (re-find #";=>\s*(.*)$" line))]
            (recur (conj out [form expected]))))))))

(defn- literal? [s]
  (and s (not (str/includes? s "#")) (not (str/includes? s "..."))))

;; Every form in the tour evaluates, and every literal ;=> result is what it shows.
(deftest repl-tour-runs-as-written
  (let [pairs (forms-with-expectations (tour-block))
        ns-sym (gensym "readme-tour")]
    (is (< 10 (count pairs)) "the tour was found and read")
    ;; on a thread of its own, so the tour's pid (and its trap-exit) is not the test thread's
    @(future
       (binding [*ns* (create-ns ns-sym)]
         (refer-clojure)
         (doseq [[form expected] pairs]
           (testing (pr-str form)
             (let [v (eval form)]
               (when (literal? expected)
                 (is (= (read-string expected) v))))))))
    (remove-ns ns-sym)))
