(ns tasklet.node-pause-test
  "Issue #12, point 6: the default failure detector rides out a 5 s SIGSTOP.
  A parent node here (defaults: 1 s ticks, 10 s heartbeat timeout) starts a
  child JVM, which starts a grandchild JVM; the child is stopped for 5 s, so
  it is a stopped child to this node and a stopped parent to the grandchild
  (each side's detector sees 5 s of silence, and the stopped JVM sees 5 s of
  silence from both when it resumes). The old detector (2 ticks) dropped a
  child stopped for 1 s, and a child whose parent paused 3 s exited. That a
  silent peer is still declared lost at 10 s is tasklet.net.handshake-test/
  default-failure-detector. Bounded: about 20 s, most of it two JVM starts."
  (:require [clojure.test :refer [deftest is]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h]))

(set! *warn-on-reflection* true)

(defn- signal! [sig ^Process p]
  (.waitFor (.exec (Runtime/getRuntime)
                   ^"[Ljava.lang.String;" (into-array String ["kill" (str "-" sig) (str (.pid p))]))))

(deftest five-second-sigstop-keeps-parent-and-child
  (let [p (node/start! {:name :np :cookie "node-pause-test-cookie-0123456789" :default? false :workers 2})]
    (try
      (binding [node/*run-on-timeout-ms* 240000]
        (node/run-on p
          (fn []
            (let [[c] (node/start-local-nodes! 1 {:timeout-ms 180000})
                  ^Process proc (get (node/local-node-processes) c)]
              (t/spawn-on c #'h/start-child-and-report (self))
              (let [[tag grandchild] (receive [:child g] [:child g] [:child-failed m] [:failed m]
                                              (after 180000 [:timeout nil]))]
                (is (= :child tag) (str grandchild))
                (node/monitor-node c)
                (try
                  (signal! "STOP" proc)
                  (is (= :still-up (receive [:nodedown _] :nodedown (after 5000 :still-up)))
                      "the parent kept the stopped child")
                  (finally (signal! "CONT" proc)))
                (is (= :still-up (receive [:nodedown _] :nodedown (after 2000 :still-up)))
                    "and after it resumed")
                (t/spawn-on c #'h/report-nodes (self))
                (let [[_ who peers] (receive [:nodes w ps] [:nodes w ps] (after 10000 [:timeout nil nil]))]
                  (is (= c who))
                  (is (= #{:np grandchild} (set peers))
                      "the child kept its parent and its own child (which kept its stopped parent)"))
                (is (some #{c} (node/nodes))))))))
      (finally (node/stop! p)))))
