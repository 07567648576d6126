(ns tasklet.kernel.node-table-test
  "The JVM's node table: one live node per name."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core])
  (:import [tasklet.kernel Node NodeOptions NodeTable]))

(set! *warn-on-reflection* true)

(defn- node ^Node [nm] (Node. (.build (NodeOptions/builder nm))))

;; A second live node of one name would make its pids ambiguous: refused with an error that says what to do; once the first is shut down the name is free again.
(deftest a-duplicate-live-name-is-refused
  (let [a (node "node-table-test-a")]
    (try
      (let [e (try (node "node-table-test-a") nil (catch clojure.lang.ExceptionInfo e e))]
        (is (= :badarg (:tasklet/error (ex-data e))))
        (is (re-find #"already runs in this JVM.*stop it first" (ex-message e)))
        (is (identical? a (NodeTable/named "node-table-test-a")) "the live node keeps its name"))
      (finally (.shutdown a)))
    (is (nil? (NodeTable/named "node-table-test-a")))
    (let [b (node "node-table-test-a")]
      (try
        (is (identical? b (NodeTable/named "node-table-test-a")) "a shut-down node's name is free")
        (finally (.shutdown b))))))
