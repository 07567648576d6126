(ns tasklet.kernel.node-table-test
  "The JVM's node table: one live node per name, and a node that leaves it."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h])
  (:import [java.util.concurrent LinkedBlockingQueue TimeUnit]
           [tasklet.kernel Node NodeOptions NodeTable]))

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
    (is (= [false :noconnection]
           (t/schedule #(let [r (t/make-ref)
                              p (.spawn a (fn [] nil) :f nil nil (t/current-tasklet) r)]
                          [(t/alive? p) (t/receive [:DOWN r :process _ reason] reason (after 1000 :none))])))
        "a tasklet spawned on a node that was shut down ends at once, as on a node that is gone")
    (let [b (node "node-table-test-a")]
      (try
        (is (identical? b (NodeTable/named "node-table-test-a")) "a shut-down node's name is free")
        (finally (.shutdown b))))))

;; A node of this JVM that is stopped goes down as a node does: its tasklets end, links and monitors on them from another node get :noconnection, its pids are no longer alive, and a monitor made afterwards fires :noconnection at once (OTP's monitor of a pid on a node that is gone).
(deftest a-stopped-nodes-pids-are-gone
  (let [cookie "node-table-test-cookie-0123456789"]
    (h/with-nodes [a (h/start-node cookie :nt-a {})]
      (let [b (h/start-node cookie :nt-b {})
            p (node/run-on b #(t/spawn h/wait-forever))
            q (LinkedBlockingQueue.)
            watcher (node/run-on a #(t/spawn (fn []
                                                (t/trap-exit! true)
                                                (t/link p)
                                                (let [r (t/monitor p)]
                                                  (.add q :watching)
                                                  (t/receive [:DOWN r :process _ reason] (.add q [:down reason])))
                                                (t/receive [:EXIT _ reason] (.add q [:exit reason])))))]
        (is (= :watching (.poll q 5 TimeUnit/SECONDS)))
        (is (true? (node/run-on a #(t/alive? p))))
        (node/stop! b)
        (is (= #{[:down :noconnection] [:exit :noconnection]}
               (set [(.poll q 5 TimeUnit/SECONDS) (.poll q 5 TimeUnit/SECONDS)])))
        (is (false? (node/run-on a #(t/alive? p))) "not alive once its node is stopped")
        (is (= :noconnection
               (node/run-on a #(let [r (t/monitor p)] (t/receive [:DOWN r :process _ reason] reason (after 5000 :none))))))
        (is (false? (t/alive? watcher)))))))
