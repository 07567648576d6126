(ns tasklet.doc-test
  "doc/testing.md's worked example runs as written: its code block is
  evaluated in a fresh namespace, each `;; =>` result is checked, and the
  report `check-interleavings` prints is the one the page shows."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.test :as tt]))

(def ^:private page "doc/testing.md")

(defn- fenced
  "The bodies of the page's fenced blocks opened by ```lang (\"\" for bare
  ones), in order. Read line by line, so a closing fence never opens one."
  [text lang]
  (loop [[line & more :as lines] (str/split-lines text), open nil, body [], out []]
    (cond
      (empty? lines) out
      (and (nil? open) (str/starts-with? line "```")) (recur more (subs line 3) [] out)
      (and open (= "```" (str/trim line)))
      (recur more nil [] (if (= open lang) (conj out (str (str/join "\n" body) "\n")) out))
      open (recur more open (conj body line) out)
      :else (recur more nil body out))))

(defn- forms-with-results
  "[form expected-string-or-nil] for each form of block, the expectation being
  a `;; =>` comment on the line after the form."
  [block]
  (let [rdr (clojure.lang.LineNumberingPushbackReader. (java.io.StringReader. block))
        lines (str/split-lines block)]
    (loop [out []]
      (let [form (read {:eof ::eof} rdr)]
        (if (= ::eof form)
          out
          (let [next-line (nth lines (.getLineNumber rdr) "")]
            (recur (conj out [form (second (re-find #"^;; =>\s*(.*)$" next-line))]))))))))

(deftest worked-example-runs-as-written
  (if-not (tt/available?)
    (is true "the deterministic scheduler needs the continuation strand's --add-exports")
    (let [text (slurp page)
          [code examples check] (fenced text "clojure")
          printed (first (filter #(str/starts-with? % "tasklet.test: property failed") (fenced text "")))]
      (is (and code examples check printed) "the page's blocks were found")
      @(future
         (binding [*ns* *ns*]
           (doseq [form (read-string (str "[" code "]"))] (eval form))   ; defines example.registry
           (doseq [[form expected] (forms-with-results (str examples check))]
             (testing (pr-str form)
               (let [out (java.io.StringWriter.)
                     v (binding [*out* out] (eval form))]
                 (when expected (is (= (read-string expected) v)))
                 (when (= 'tt/check-interleavings (first form))
                   (is (= (str/trim printed) (str/trim (str out)))
                       "the printed report is the page's, line for line")))))))
      (remove-ns 'example.registry))))
