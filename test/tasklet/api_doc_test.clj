(ns tasklet.api-doc-test
  "doc/api.md is current: regenerated in memory from the namespaces, it is
  the file in the repository; and every documented public var has a
  docstring."
  (:require [clojure.string :as str]
            [clojure.test :refer [deftest is testing]]
            [tasklet.tools.api-doc :as api-doc]))

(set! *warn-on-reflection* true)

(defn- first-difference
  "The 1-based number and both versions of the first line where a and b differ."
  [a b]
  (let [as (str/split-lines a), bs (str/split-lines b)]
    (first (for [i (range (max (count as) (count bs)))
                 :let [x (get as i), y (get bs i)]
                 :when (not= x y)]
             {:line (inc i) :in-file x :generated y}))))

;; The file is what the generator makes of the code as it is now.
(deftest api-md-is-current
  (let [nss (api-doc/namespaces)
        generated (api-doc/render nss)
        on-disk (try (slurp api-doc/output) (catch java.io.FileNotFoundException _ ""))]
    (is (some #{'tasklet.core} nss) "the namespaces were found")
    (is (not-any? #(str/starts-with? (name %) "tasklet.impl.") nss) "tasklet.impl.* is left out")
    (is (nil? (first-difference on-disk generated))
        (str api-doc/output " is not current; run `lein run -m tasklet.tools.api-doc` to regenerate it"))))

;; Every var the reference lists says what it does.
(deftest every-public-var-has-a-docstring
  (is (= [] (api-doc/undocumented (api-doc/namespaces)))
      "public vars without a docstring: add one, or mark the var ^:no-doc"))

;; The generator leaves out what is marked ^:no-doc and sorts by name.
(deftest no-doc-and-order
  (let [text (api-doc/render ['tasklet.core])]
    (is (str/includes? text "### `receive`"))
    (is (not (str/includes? text "### `current-tasklet`")) "a ^:no-doc var is left out")
    (is (< (str/index-of text "### `!`") (str/index-of text "### `alive?`")
           (str/index-of text "### `whereis`"))
        "vars in name order")))
