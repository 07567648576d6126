(ns tasklet.readme-sections-test
  "The README's sections on dynamic supervisors, task supervisors and process
  groups run as written: each section's ```clojure block is evaluated form
  by form in a fresh namespace on a thread of its own, and each literal `;=>`
  result is checked (as tasklet.readme-test does for the tour)."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]))

(def ^:private sections
  ["### Dynamic children" "### Fire-and-forget tasks" "### Process groups"])

(defn- block [heading]
  (let [readme (slurp "README.md")
        from (str/index-of readme heading)
        start (+ (str/index-of readme "```clojure" from) (count "```clojure"))]
    (subs readme start (str/index-of readme "```" start))))

(defn- forms-with-expectations [b]
  (let [rdr (clojure.lang.LineNumberingPushbackReader. (java.io.StringReader. b))
        lines (str/split-lines b)]
    (loop [out []]
      (let [form (binding [*read-eval* false] (read {:eof ::eof} rdr))]
        (if (= ::eof form)
          out
          (recur (conj out [form (second (re-find #";=>\s*(.*)$" (nth lines (dec (.getLineNumber rdr)) "")))])))))))

;; Every form of each section evaluates, and every ;=> result is what it shows.
(deftest sections-run-as-written
  (doseq [heading sections]
    (testing heading
      (let [pairs (forms-with-expectations (block heading))
            ns-sym (gensym "readme-section")]
        (is (< 3 (count pairs)) "the section's block was found")
        @(future
           (binding [*ns* (create-ns ns-sym)]
             (refer-clojure)
             (doseq [[form expected] pairs]
               (testing (pr-str form)
                 (let [v (eval form)]
                   (when expected
                     (is (= (read-string expected) v))))))))
        (remove-ns ns-sym)))))
