(ns tasklet.node-monitor-nodes-test
  "tasklet.node/monitor-nodes (net_kernel:monitor_nodes) between in-JVM
  nodes: [:nodeup n] for a connection either side made, [:nodedown n] when it
  is lost, nothing after unsubscribing, false without distribution."
  (:require [clojure.test :refer [deftest is]]
            [tasklet.core :as t :refer [receive]]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h :refer [with-nodes]]
            [tasklet.test :as tt]))

(set! *warn-on-reflection* true)

(def ^:private cookie "monitor-nodes-test")

(defn- next-msg [] (receive m m (after 5000 :timeout)))

;; a subscriber hears every node's up and down, whichever side connected, until it unsubscribes.
(deftest monitor-nodes-up-and-down
  (with-nodes [a (h/start-node cookie :mn-a {})
               b (h/start-node cookie :mn-b {})
               c (h/start-node cookie :mn-c {})]
    (node/run-on
      a
      (fn []
        (is (true? (node/monitor-nodes true)))
        (node/connect! (:address b))
        (is (= [:nodeup :mn-b] (next-msg)) "a connected to b")
        (node/run-on c #(node/connect! (:address a)))
        (is (= [:nodeup :mn-c] (next-msg)) "c connected to a")
        (node/disconnect! :mn-b)
        (is (= [:nodedown :mn-b] (next-msg)))
        (is (true? (node/monitor-nodes false)))
        (node/disconnect! :mn-c)
        (is (= :none (receive m m (after 200 :none))) "no message after unsubscribing")))))

;; a node without distribution (here tasklet.test's own node) has no connections to report.
(deftest monitor-nodes-without-distribution
  (when (tt/available?)
    (is (false? (tt/run-deterministic {} #(node/monitor-nodes true))))))
