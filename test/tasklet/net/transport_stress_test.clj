(ns tasklet.net.transport-stress-test
  "The socket tests of tasklet.net.transport-test, ten times over, to shake out timing
  flakes. Tagged :stress, so the default `lein test` skips it; run it with
  `lein test :stress` or `lein test :only tasklet.net.transport-stress-test`."
  (:require [clojure.test :refer [deftest is]]
            [tasklet.net.transport-test]))

(set! *warn-on-reflection* true)

;; Calls the test bodies directly, also when Leiningen's selectors have moved them to
;; :leiningen/skipped-test (it does so for every test its selector leaves out).
(deftest ^:stress socket-tests-repeated
  (let [body #(let [m (meta %)] (or (:test m) (:leiningen/skipped-test m)))
        tests (->> (vals (ns-interns 'tasklet.net.transport-test))
                   (filter body)
                   (sort-by #(:line (meta %))))]
    (is (< 10 (count tests)))
    (dotimes [_ 10]
      (doseq [v tests]
        (binding [clojure.test/*testing-vars* (conj clojure.test/*testing-vars* v)]
          ((body v)))))))
